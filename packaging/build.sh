#!/usr/bin/env bash
# Build chemnamer for distribution. Run from anywhere; uses the repo's .venv when there is one.
#
#   packaging/build.sh [freeze] [--dist DIR] [--work DIR] [--no-default-model]
#       PyInstaller one-folder app → DIR/chemnamer/chemnamer (default DIR: packaging/dist).
#       Needs no Python on the target machine; Java 17 only for OPSIN verification.
#   packaging/build.sh wheel [--dist DIR]
#       sdist + wheel (python -m build) → DIR (default: packaging/dist), resources/ inside the wheel.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi

what=freeze
case "${1:-}" in freeze|wheel) what=$1; shift ;; esac
DIST="$HERE/dist"
WORK="$HERE/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) DIST=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --no-default-model) export CHEMNAMER_BUNDLE_DEFAULT_MODEL=0; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
SECONDS=0

if [ "$what" = wheel ]; then
  "$PY" -c "import build" 2>/dev/null || "$PY" -m pip install -q build
  # --no-isolation: build with the venv's setuptools, offline; -x: `wheel` is not needed by setuptools>=70.1.
  (cd "$ROOT" && "$PY" -m build --no-isolation -x --outdir "$DIST" .)
  ls -l "$DIST"/chemnamer-*.whl "$DIST"/chemnamer-*.tar.gz
  echo "build.sh: wheel and sdist in $DIST after ${SECONDS}s" >&2
  exit 0
fi

"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -q pyinstaller
rm -rf "$DIST/chemnamer"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" "$HERE/chemnamer.spec"
APP="$DIST/chemnamer"
# The per-user desktop entry installs from the bundle too: ./install-desktop.sh
cp "$HERE/chemnamer.desktop" "$HERE/install-desktop.sh" "$APP/"
cp "$HERE/README.md" "$APP/README-packaging.md"
"$APP/chemnamer" --version
echo "build.sh: $(du -sh "$APP" | cut -f1) in $APP after ${SECONDS}s" >&2
