#!/bin/sh
# Run the studioml-azure wizard; installs what it needs on first use. Try: ./run.sh --sandbox
set -eu
cd "$(dirname "$0")"
EXTRAS="" . ./scripts/bootstrap.sh
# Secrets go to the OS keyring (a Secret Service on the session's D-Bus). A terminal with no session bus at all (a
# server, ssh, a container) has none: then this run gets a D-Bus session of its own with gnome-keyring serving the
# person's own keyring folder, unlocked with the password they type (the first time, it creates the login keyring
# with it), as a desktop login does. The password goes to gnome-keyring on a pipe: never argv, env or a file.
bus_socket="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/bus"
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && [ ! -S "$bus_socket" ] && [ -t 0 ] && [ -t 2 ] \
   && [ "${STUDIOML_NO_KEYRING_START:-}" != 1 ]; then
  missing=""
  for tool in dbus-run-session:dbus gnome-keyring-daemon:gnome-keyring; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
  done
  [ -z "$missing" ] || as_root_apt $missing || {
    echo "No OS keyring here: install$missing (or run inside a desktop session)." >&2; exit 1; }
  echo "No D-Bus session here, so no OS keyring: starting gnome-keyring for this run." >&2
  printf 'Password of your login keyring (the first time, a new one is made with it): ' >&2
  stty -echo 2>/dev/null || true
  IFS= read -r password || password=""
  stty echo 2>/dev/null || true
  echo >&2
  if [ -z "$password" ]; then  # gnome-keyring keeps a keyring with an empty password unencrypted on disk
    echo "An empty password would leave the keyring unencrypted on disk: run again and type one." >&2
    exit 2
  fi
  printf '%s' "$password" | dbus-run-session --dbus-daemon="$PWD/scripts/quiet_dbus_daemon.sh" -- sh -c '
    gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 2
    .venv/bin/python scripts/wait_keyring.py 10 \
      "the login keyring did not unlock with that password (it keeps the password it was made with)" || exit 2
    exec .venv/bin/studioml-azure "$@" </dev/tty' sh "$@"
  exit $?
fi
exec .venv/bin/studioml-azure "$@"
