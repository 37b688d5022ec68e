#!/usr/bin/env bash
# Reproduce the shipped default namer (resources/models/default) from scratch with chemnamer's own
# training: data build, stage 1 (training/recipes/default.toml), stage 2 (default-stage2.toml, continued
# from stage 1), then install stage 2's model as the default. Each stage checkpoints; rerunning this
# script resumes a stage that was interrupted and skips one that completed.
#   training/reproduce_default.sh [RUN_DIR]      (default RUN_DIR: ~/chemnamer-runs)
# Measured on the 2-core CPU (no GPU): stage 1 92 min, stage 2 ~85 min of training.
source "$(dirname "$0")/stages.sh"

stage default-stage1 training/recipes/default.toml
stage default-stage2 training/recipes/default-stage2.toml --set "model.base=$RUNS/default-stage1/model"

install_model default-stage2 resources/models/default
