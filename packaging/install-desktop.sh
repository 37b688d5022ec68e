#!/usr/bin/env bash
# Per-user desktop entry for chemnamer (freedesktop: GNOME, KDE, Xfce, ...). No root needed.
#
#   install-desktop.sh [--exec PATH]     install (or update) the menu entry and the icon
#   install-desktop.sh --uninstall       remove them again
#
# Writes ${XDG_DATA_HOME:-~/.local/share}/applications/chemnamer.desktop and the icon into
# .../icons/hicolor/{scalable,256x256}/apps/. Exec= is the absolute path of the chemnamer executable,
# found in this order: --exec PATH; the frozen app next to this script (packaging/build.sh copies the
# script into the bundle); `chemnamer` on PATH; the repo's .venv/bin/chemnamer.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"
DESKTOP="$APPS/chemnamer.desktop"
SVG="$ICONS/scalable/apps/chemnamer.svg"
PNG="$ICONS/256x256/apps/chemnamer.png"

exe=""
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --exec) exe=${2:?--exec needs a path}; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-desktop.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

refresh() {  # menus and icon themes pick changes up sooner; both tools are optional
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$ICONS/index.theme" ] \
    && gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
}

if [ "$action" = uninstall ]; then
  rm -f "$DESKTOP" "$SVG" "$PNG"
  refresh
  echo "removed $DESKTOP and the chemnamer icons"
  exit 0
fi

if [ -z "$exe" ]; then
  if [ -x "$HERE/chemnamer" ] && [ -f "$HERE/chemnamer" ]; then exe="$HERE/chemnamer"
  elif command -v chemnamer >/dev/null 2>&1; then exe=$(command -v chemnamer)
  elif [ -x "$HERE/../.venv/bin/chemnamer" ]; then exe="$HERE/../.venv/bin/chemnamer"
  else
    echo "install-desktop.sh: no chemnamer executable found; install chemnamer or pass --exec PATH" >&2
    exit 1
  fi
fi
[ -f "$exe" ] && [ -x "$exe" ] || { echo "install-desktop.sh: $exe is not an executable file" >&2; exit 1; }
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
case "$exe" in *$'\n'*) echo "install-desktop.sh: a path with a newline cannot go into Exec=" >&2; exit 1 ;; esac

# The icon: beside a source checkout, inside a frozen bundle, or in the package the executable runs.
icons=""
for dir in "$HERE/../resources/icons" "$HERE/_internal/chemnamer/resources/icons" "$HERE/icons"; do
  [ -f "$dir/chemnamer.svg" ] && { icons=$dir; break; }
done
if [ -z "$icons" ]; then
  py=$(head -n1 "$exe" | sed -n 's/^#! *//p' | cut -d' ' -f1)  # a pip-installed script's interpreter
  if [ -n "$py" ] && [ -x "$py" ]; then
    res=$("$py" -c "from chemnamer import paths; print(paths.resources_dir())" 2>/dev/null || true)
    [ -n "$res" ] && [ -f "$res/icons/chemnamer.svg" ] && icons="$res/icons"
  fi
fi
[ -n "$icons" ] || { echo "install-desktop.sh: chemnamer.svg not found" >&2; exit 1; }

# Exec= quoting (Desktop Entry spec): a path with reserved characters goes in double quotes with
# \ " ` $ escaped, % doubled; then every backslash is escaped once more (string level). TryExec= is a
# plain string: only the string-level escape.
quoted=$exe
if [[ $exe =~ [^A-Za-z0-9_./+-] ]]; then
  quoted=${quoted//\\/\\\\}; quoted=${quoted//\"/\\\"}; quoted=${quoted//\`/\\\`}; quoted=${quoted//\$/\\\$}
  quoted="\"$quoted\""
fi
quoted=${quoted//%/%%}
quoted=${quoted//\\/\\\\}
plain=${exe//\\/\\\\}

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
tmp="$tmpdir/chemnamer.desktop"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=*) printf 'Exec=%s gui\n' "$quoted" ;;
    TryExec=*) printf 'TryExec=%s\n' "$plain" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$HERE/chemnamer.desktop" > "$tmp"
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$tmp"
fi
install -D -m 644 "$tmp" "$DESKTOP"
install -D -m 644 "$icons/chemnamer.svg" "$SVG"
[ -f "$icons/chemnamer.png" ] && install -D -m 644 "$icons/chemnamer.png" "$PNG"
refresh
echo "installed $DESKTOP (Exec: $exe gui) and the chemnamer icon; remove with: $0 --uninstall"
