#!/usr/bin/env bash
# The generalist namer of issue 14, stage by stage: ZINC pairs labelled by the rule-based namers
# (stage 1, training/recipes/generalist-stage1.toml, continued from the shipped default), then
# PubChem's style (stage 2, generalist-stage2.toml, continued from stage 1). Each stage checkpoints
# and resumes; a stage whose weights a session committed under training/stages/NAME is not trained
# again. Not installed as the default: issue 14 ships it only when it beats the default on the
# generalization sets (`chemnamer eval --sets test,aromatic,randomized,oldstyle,druglike`).
#   training/reproduce_generalist.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
source "$(dirname "$0")/stages.sh"

"$CHEMNAMER" data build --source zinc --pairs 121200   # cached; 120k train + 200 valid + 1000 test
stage generalist-stage1 training/recipes/generalist-stage1.toml
stage generalist-stage2 training/recipes/generalist-stage2.toml --set "model.base=$RUNS/generalist-stage1/model"
