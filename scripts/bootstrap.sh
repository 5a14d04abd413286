# Shared by run.sh and test.sh: make .venv with the pinned packages, installing what a fresh Debian lacks.
# Usage: EXTRAS=dev . scripts/bootstrap.sh   (EXTRAS empty for the app, "dev" for tests)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
extras=${EXTRAS:-}

pick_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

as_root_apt() {
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq || true) >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "Missing system packages: $*. Install them with: sudo apt-get install $*" >&2
    return 1
  fi
}

PY=$(pick_python) || { as_root_apt python3 python3-venv && PY=python3; } || {
  echo "studioml-azure needs Python 3.11 or newer." >&2; exit 1; }
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  as_root_apt python3-venv
fi

venv="$here/.venv"
stamp="$venv/.installed-$extras"
want=$(cat "$here/pyproject.toml" "$here/constraints.txt" | cksum)
# the test install (extras "dev") holds everything the app needs too
if [ -z "$extras" ] && [ "$(cat "$venv/.installed-dev" 2>/dev/null)" = "$want" ]; then
  stamp="$venv/.installed-dev"
fi
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Setting up $venv (first run or changed dependencies)..." >&2
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
  target="$here"
  [ -n "$extras" ] && target="$here[$extras]"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$here/constraints.txt" -e "$target" >&2
  echo "$want" > "$stamp"
fi
