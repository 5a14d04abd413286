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
# kubectl for the kubectl tests (tests/kube, the printed script's run): the machine's, else a pinned official one in
# .tools/bin (scripts/install_kubectl.py says from where); those tests fail, never skip, without one.
if ! command -v kubectl >/dev/null 2>&1; then
  .venv/bin/python scripts/install_kubectl.py .tools/bin/kubectl || { echo "Could not install kubectl" >&2; exit 1; }
  PATH="$PWD/.tools/bin:$PATH"; export PATH
fi
# The tests run in a private D-Bus session whose Secret Service is a throwaway gnome-keyring (scripts/keyring_session.sh)
exec ./scripts/keyring_session.sh .venv/bin/python -m pytest -n "${TEST_WORKERS:-4}" "$@"
