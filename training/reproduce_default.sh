#!/usr/bin/env bash
# Reproduce the shipped default namer (resources/models/default) from scratch with chemnamer's own
# engine: data build, stage 1 (training/recipes/default.toml), stage 2 (default-stage2.toml, continued
# from stage 1), then install stage 2's model as the default. Each stage checkpoints; rerunning this
# script resumes a stage that was interrupted and skips one that completed.
#   training/reproduce_default.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
# Measured on the 2-core CPU (no GPU): stage 1 92 min, stage 2 ~85 min of training.
set -euo pipefail
cd "$(dirname "$0")/.."
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

stage default-stage1 training/recipes/default.toml
stage default-stage2 training/recipes/default-stage2.toml --set "model.base=$RUNS/default-stage1/model"

# Install: the weights and tokenizer files; the model card stays (update its numbers by hand after
# `python training/evaluate_default.py`).
find resources/models/default -maxdepth 1 -type f ! -name MODEL_CARD.md -delete
cp "$RUNS/default-stage2/model/"* resources/models/default/
rm -f resources/models/default/chat_template.jinja  # a chat template the namer never uses
echo "installed $RUNS/default-stage2/model as resources/models/default"
