#!/bin/sh
# The test bus starts this (D-Bus activation of org.freedesktop.secrets; see test.sh): gnome-keyring over the
# test's throwaway folder $1, its login keyring created or unlocked with the test password, in a session of its
# own so no signal meant for the tests' process group reaches it. If it ever ends, the next keyring call starts
# it again over the same folder (the secrets written so far are on disk there), and the reason is printed.
export XDG_DATA_HOME="$1/data" XDG_RUNTIME_DIR="$1/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
printf "studioml-test-keyring" | setsid gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null
code=$?
[ "$code" -eq 0 ] || echo "test keyring: gnome-keyring-daemon ended with status $code; the next keyring call restarts it" >&2
