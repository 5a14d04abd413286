# (studioml-azure: the start every boot script shares, in place of its COMMON placeholder line.) Stop at the first failed
# command, log everything, and leave in /var/lib/studioml/boot-status the step that runs, that failed, or "done".
set -euo pipefail
exec >>/var/log/studioml-boot.log 2>&1
mkdir -p /var/lib/studioml
step() { STEP="$1"; echo "running: $1" > /var/lib/studioml/boot-status; echo "==> $1"; }
fail() { echo "failed: $STEP" > /var/lib/studioml/boot-status; echo "==> failed: $STEP"; }
trap fail ERR
