#!/bin/sh
# Run the whole test suite; installs what it needs (venv, packages, and as root the Debian packages
# gnome-keyring, dbus and tmux) and runs pytest inside a private D-Bus session with an unlocked keyring,
# on TEST_WORKERS parallel workers (default 4; the tests mostly wait on their own sandboxes).
set -eu
cd "$(dirname "$0")"
EXTRAS=dev . ./scripts/bootstrap.sh
missing=""
for tool in dbus-run-session:dbus gnome-keyring-daemon:gnome-keyring tmux:tmux; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
  as_root_apt $missing || { echo "Install:$missing" >&2; exit 1; }
fi
# A throwaway keyring folder, so tests never touch the keyring of the person running them.
keyrings=$(mktemp -d)
trap 'rm -rf "$keyrings"' EXIT
dbus-run-session -- sh -c '
  export XDG_DATA_HOME="$1"; shift
  printf "studioml-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  .venv/bin/python scripts/wait_keyring.py || exit 1
  exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-4}" "$@"' sh "$keyrings" "$@"
