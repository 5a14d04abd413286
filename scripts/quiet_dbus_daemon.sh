#!/bin/sh
# The dbus-daemon of run.sh's own session, its log kept off the person's terminal (as root in a container it
# warns that it cannot raise its fd limit, and it logs each service it starts; neither is theirs to act on).
exec dbus-daemon "$@" 2>/dev/null
