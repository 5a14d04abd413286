"""Wait until the test Secret Service serves its default (login) collection.

The test bus starts gnome-keyring on the first keyring call (test.sh), and the daemon serves the unlocked login
collection a moment after it owns its bus name; a test that reaches the keyring in that moment makes the keyring
library try to create a collection, which needs a prompt nobody can answer ("Prompt dismissed"). test.sh runs
this (which also makes that first call) before pytest; run.sh runs it after starting gnome-keyring for a terminal
that has no D-Bus session (``wait_keyring.py SECONDS MESSAGE``).
"""

from __future__ import annotations

import sys
import time

import secretstorage

DEFAULT = "/org/freedesktop/secrets/aliases/default"


def main(timeout: float = 30.0, failure: str = "the test keyring (gnome-keyring) did not come up") -> int:
    """0 once the collection answers and is unlocked; 1 after ``timeout`` seconds, saying ``failure``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with secretstorage.dbus_init() as conn:
                if not secretstorage.Collection(conn, DEFAULT).is_locked():
                    return 0
        except Exception:  # not there yet (no service, no collection, no alias)
            pass
        if time.monotonic() > deadline:
            print(failure, file=sys.stderr)
            return 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]), sys.argv[2]) if len(sys.argv) > 2 else main())
