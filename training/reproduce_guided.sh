#!/usr/bin/env bash
# Reproduce the shipped guided namer (resources/models/guided) with chemnamer's own training: the
# rule-based drafts of the PubChem rows, the drug-like copy examples, one training stage continued
# from the shipped default model, then install. Every step is cached or checkpointed: rerunning this
# script resumes where it stopped.
#   training/reproduce_guided.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
source "$(dirname "$0")/stages.sh"

"$CHEMNAMER" data build --source pubchem-rules --pairs 1000000 >/dev/null   # all rows (~25 CPU-min)
"$CHEMNAMER" data build --source zinc --pairs 8000 >/dev/null              # copy examples

stage guided training/recipes/guided.toml
install_model guided resources/models/guided
