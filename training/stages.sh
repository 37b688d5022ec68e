# Shared by training/reproduce_*.sh (source it): the runs folder, the CLI, and the two steps every
# shipped model is made of. Each stage checkpoints; rerunning a script resumes a stage that was
# interrupted and skips one that completed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${1:-$HOME/chemnamer-runs}"
CHEMNAMER=".venv/bin/chemnamer"
[ -x "$CHEMNAMER" ] || { scripts/bootstrap.sh >&2; }
mkdir -p "$RUNS"

stage() {  # stage NAME RECIPE [--set ...]: train into RUNS/NAME unless its model is already there
  local name="$1" recipe="$2"; shift 2
  local out="$RUNS/$name"
  if [ -f "$out/model/config.json" ]; then
    echo "$name: done already ($out/model)"; return
  fi
  local resume=()
  if ls -d "$out"/checkpoint-* >/dev/null 2>&1; then resume=(--resume); fi
  "$CHEMNAMER" train --recipe "$recipe" --output "$out" "${resume[@]}" "$@"
}

install_model() {  # install_model NAME TARGET: RUNS/NAME/model's weights and tokenizer into TARGET;
  # the model card stays (its numbers come from the evaluation scripts named in it)
  local name="$1" target="$2"
  mkdir -p "$target"
  find "$target" -maxdepth 1 -type f ! -name MODEL_CARD.md -delete
  cp "$RUNS/$name/model/"* "$target/"
  rm -f "$target/chat_template.jinja" "$target/optimizer.pt"  # a chat template the namer never uses
  echo "installed $RUNS/$name/model as $target"
}
