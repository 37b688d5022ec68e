# Shared by training/reproduce_*.sh (source it): the runs folder, the CLI, and the steps every
# shipped model is made of. Each stage checkpoints; rerunning a script resumes a stage that was
# interrupted and skips one that completed (a stage stopped by train.max_minutes has completed: its
# model is written; continue it with `chemnamer train ... --resume --output RUNS/NAME`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${1:-$HOME/chemnamer-runs}"
CHEMNAMER=".venv/bin/chemnamer"
[ -x "$CHEMNAMER" ] || { scripts/bootstrap.sh >&2; }
mkdir -p "$RUNS"

stage() {  # stage NAME RECIPE [--set ...]: train into RUNS/NAME unless its model is already there
  # (in RUNS, or committed under training/stages/NAME by the session that finished the stage)
  local name="$1" recipe="$2"; shift 2
  local out="$RUNS/$name"
  if [ ! -f "$out/model/config.json" ] && [ -f "training/stages/$name/config.json" ]; then
    mkdir -p "$out/model"
    find training/stages/"$name" -maxdepth 1 -type f ! -name STAGE.md -exec cp {} "$out/model/" \;
    echo "$name: the committed weights (training/stages/$name)"
  fi
  if [ -f "$out/model/config.json" ]; then
    echo "$name: done already ($out/model)"; return
  fi
  local resume=()
  if ls -d "$out"/checkpoint-* >/dev/null 2>&1; then resume=(--resume); fi
  "$CHEMNAMER" train --recipe "$recipe" --output "$out" "${resume[@]}" "$@"
}

have() {  # have NAME: the stage's model is here already (in RUNS, or committed under training/stages/NAME)
  [ -f "$RUNS/$1/model/config.json" ] || [ -f "training/stages/$1/config.json" ]
}

commit_stage() {  # commit_stage NAME: RUNS/NAME/model (bf16) into training/stages/NAME, for the next machine
  local name="$1"
  mkdir -p "training/stages/$name"
  find "training/stages/$name" -maxdepth 1 -type f ! -name STAGE.md -delete
  cp "$RUNS/$name/model/"* "training/stages/$name/"
  rm -f "training/stages/$name/chat_template.jinja"
  echo "copied $RUNS/$name/model to training/stages/$name: git add it"
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
