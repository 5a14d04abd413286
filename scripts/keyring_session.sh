#!/bin/sh
# Run a command (the test suite, a bench script) in a private D-Bus session with a throwaway, unlocked Secret Service:
#   scripts/keyring_session.sh .venv/bin/python bench/stalls.py
# (test.sh installs gnome-keyring and dbus first.)
set -eu
cd "$(dirname "$0")/.."
# A throwaway keyring folder, so tests never touch the keyring of the person running them, served on a private
# D-Bus whose only activatable service is gnome-keyring over that folder, unlocked (scripts/test_keyring_daemon.sh):
# the first keyring call starts it, and should it ever end mid-run the next call starts it again, unlocked, with
# the secrets it had (the desktop's activation file would start one over the real keyring, locked, that prompts).
keyrings=$(mktemp -d)
trap 'rm -rf "$keyrings"' EXIT
mkdir "$keyrings/services"
printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/bin/sh "%s" "%s"\n' \
  "$PWD/scripts/test_keyring_daemon.sh" "$keyrings" > "$keyrings/services/org.freedesktop.secrets.service"
printf '<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen><auth>EXTERNAL</auth>
  <servicedir>%s</servicedir><policy context="default"><allow send_destination="*" eavesdrop="true"/>
  <allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n' "$keyrings/services" > "$keyrings/bus.conf"
export STUDIOML_PRIVATE_KEYRING="$keyrings"  # tests refuse to run without it (tests/conftest.py)
dbus-run-session --config-file="$keyrings/bus.conf" -- sh -c '
  .venv/bin/python scripts/wait_keyring.py || exit 1
  "$@"' sh "$@"
