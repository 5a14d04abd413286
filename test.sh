#!/bin/sh
# Run the whole test suite; installs what it needs (venv, packages, and as root the Debian packages
# gnome-keyring, dbus, tmux and rabbitmq-server) and runs pytest inside a private D-Bus session with an unlocked keyring,
# on TEST_WORKERS parallel workers (default 4; the tests mostly wait on their own sandboxes).
set -eu
cd "$(dirname "$0")"
EXTRAS=dev . ./scripts/bootstrap.sh
missing=""
for tool in dbus-run-session:dbus gnome-keyring-daemon:gnome-keyring tmux:tmux; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
# a real RabbitMQ loads the RabbitMQ VM's configuration in tests/services (started by the test, never as a service)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$missing rabbitmq-server"
if [ -n "$missing" ]; then
  as_root_apt $missing || { echo "Install:$missing" >&2; exit 1; }
fi
# The official az CLI in an environment of its own (its pins are not the wizard's): the printed script's test runs
# it against a sandbox. Pinned to the release the sandbox's accepted api-versions were read from.
AZ_VERSION=2.91.0
if [ "$(cat .azcli/.installed 2>/dev/null)" != "$AZ_VERSION" ]; then
  echo "Setting up .azcli (azure-cli $AZ_VERSION, first run)..." >&2
  rm -rf .azcli && "$PY" -m venv .azcli && .azcli/bin/pip install -q --disable-pip-version-check "azure-cli==$AZ_VERSION" \
    && echo "$AZ_VERSION" > .azcli/.installed
fi
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
dbus-run-session --config-file="$keyrings/bus.conf" -- sh -c '
  .venv/bin/python scripts/wait_keyring.py || exit 1
  exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-4}" "$@"' sh "$@"
