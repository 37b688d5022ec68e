#!/usr/bin/env bash
# Reproduce the shipped guided namer (resources/models/guided) with chemnamer's own engine: the
# rule-based drafts of the PubChem rows, the drug-like copy examples, one training stage continued
# from the shipped default model, then install. Every step is cached or checkpointed: rerunning this
# script resumes where it stopped.
#   training/reproduce_guided.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-$HOME/chemnamer-runs}"
CHEMNAMER=".venv/bin/chemnamer"
[ -x "$CHEMNAMER" ] || { scripts/bootstrap.sh >&2; }
mkdir -p "$RUNS"

"$CHEMNAMER" data build --source pubchem-rules --pairs 1000000 >/dev/null   # all rows (~25 CPU-min)
"$CHEMNAMER" data build --source zinc --pairs 8000 >/dev/null              # copy examples

out="$RUNS/guided"
if [ ! -f "$out/model/config.json" ]; then
  resume=()
  if ls -d "$out"/checkpoint-* >/dev/null 2>&1; then resume=(--resume); fi
  "$CHEMNAMER" train --recipe training/recipes/guided.toml --output "$out" "${resume[@]}"
fi

mkdir -p resources/models/guided
find resources/models/guided -maxdepth 1 -type f ! -name MODEL_CARD.md -delete
cp "$out/model/"* resources/models/guided/
rm -f resources/models/guided/chat_template.jinja resources/models/guided/optimizer.pt
echo "installed $out/model as resources/models/guided"
