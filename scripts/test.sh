#!/usr/bin/env bash
# `make test` and CI: the whole suite, offscreen Qt, pytest's exit status (5 = no tests = failure).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` or `scripts/test.sh tests/test_cli.py`.
set -uo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
SECONDS=0
if [ $# -gt 0 ]; then
  .venv/bin/python -m pytest -q "$@"
else
  .venv/bin/python -m pytest -q tests
fi
rc=$?
[ $rc -eq 5 ] && echo "test.sh: no tests were collected" >&2
echo "test.sh: pytest exit $rc after $((SECONDS / 60)) min $((SECONDS % 60)) s" >&2
exit $rc
