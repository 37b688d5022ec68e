#!/usr/bin/env bash
# Reproduce the shipped default namer (resources/models/default) from scratch with chemnamer's own
# training, stage by stage (issue 14's generalist):
#   1. default-stage1  (training/recipes/default.toml): PubChem names, from SmolLM2 (6 layers, trimmed)
#   2. default-stage2  (default-stage2.toml): the same data again; the previous default model
#   3. generalist-stage1 (generalist-stage1.toml): 120k ZINC molecules named by the rule-based namers
#      (verified by OPSIN), every SMILES form
#   4. generalist-stage2 (generalist-stage2.toml): PubChem's names in current style, no size bound,
#      every SMILES form, 30k ZINC pairs mixed in (the default until 2026-12-06)
#   5. generalist-stage3 (generalist-stage3.toml): stage 4 continued with 60k ZINC pairs beside the same
#      PubChem rows at half the learning rate; installed as the default
# Each stage checkpoints and resumes; rerunning this script resumes a stage that was interrupted and
# skips one that completed, or whose weights a session committed under training/stages/NAME.
#   training/reproduce_default.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
# Measured on 2-core CPUs (no GPU): stages 1-2 ~3 h with AMX (bf16), stages 3-4 ~2.5 h + ~1.5 h without,
# stage 5 ~1 h (bf16 autocast, no AMX).
source "$(dirname "$0")/stages.sh"

# Data builds run only for a stage that is neither done nor committed (each takes CPU-hours).
have default-stage2 || stage default-stage1 training/recipes/default.toml  # stage 2 is committed
stage default-stage2 training/recipes/default-stage2.toml --set "model.base=$RUNS/default-stage1/model"
have generalist-stage1 || "$CHEMNAMER" data build --source zinc --pairs 121200   # 120k train + 200 valid + 1000 test
stage generalist-stage1 training/recipes/generalist-stage1.toml --set "model.base=$RUNS/default-stage2/model"
# Stages 4 and 5 hold out the guided recipe's validation and test molecules, whose split needs the
# PubChem rows' rule-based drafts (cached; ~20 min on 2 cores).
have generalist-stage3 || "$CHEMNAMER" data build --source pubchem-rules
stage generalist-stage2 training/recipes/generalist-stage2.toml --set "model.base=$RUNS/generalist-stage1/model"
have generalist-stage3 || "$CHEMNAMER" data build --source zinc --pairs 61200   # stage 5's 60k (+ 1,200 held out)
stage generalist-stage3 training/recipes/generalist-stage3.toml --set "model.base=$RUNS/generalist-stage2/model"

install_model generalist-stage3 resources/models/default
