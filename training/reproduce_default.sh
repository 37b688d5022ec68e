#!/usr/bin/env bash
# Reproduce the shipped default namer (resources/models/default) from scratch with chemnamer's own
# training, stage by stage (issue 14's generalist):
#   1. default-stage1  (training/recipes/default.toml): PubChem names, from SmolLM2 (6 layers, trimmed)
#   2. default-stage2  (default-stage2.toml): the same data again; the previous default model
#   3. generalist-stage1 (generalist-stage1.toml): 120k ZINC molecules named by the rule-based namers
#      (verified by OPSIN), every SMILES form
#   4. generalist-stage2 (generalist-stage2.toml): PubChem's names in current style, no size bound,
#      every SMILES form, 30k ZINC pairs mixed in; installed as the default
# Next (not shipped, not run here): generalist-stage3.toml continues stage 4 with 60k ZINC pairs at half
# the learning rate; its command is in the recipe's header.
# Each stage checkpoints and resumes; rerunning this script resumes a stage that was interrupted and
# skips one that completed, or whose weights a session committed under training/stages/NAME.
#   training/reproduce_default.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
# Measured on 2-core CPUs (no GPU): stages 1-2 ~3 h with AMX (bf16), stages 3-4 ~2.5 h + ~1.5 h without.
source "$(dirname "$0")/stages.sh"

have default-stage2 || stage default-stage1 training/recipes/default.toml  # stage 2 is committed
stage default-stage2 training/recipes/default-stage2.toml --set "model.base=$RUNS/default-stage1/model"
"$CHEMNAMER" data build --source zinc --pairs 121200   # cached; 120k train + 200 valid + 1000 test
stage generalist-stage1 training/recipes/generalist-stage1.toml --set "model.base=$RUNS/default-stage2/model"
# Stage 4 holds out the guided recipe's validation and test molecules, whose split needs the PubChem
# rows' rule-based drafts (cached; ~20 min on 2 cores).
"$CHEMNAMER" data build --source pubchem-rules
stage generalist-stage2 training/recipes/generalist-stage2.toml --set "model.base=$RUNS/generalist-stage1/model"

install_model generalist-stage2 resources/models/default
