#!/bin/sh
# Run the studioml-azure wizard; installs what it needs on first use. Try: ./run.sh --sandbox
set -eu
cd "$(dirname "$0")"
EXTRAS="" . ./scripts/bootstrap.sh
exec .venv/bin/studioml-azure "$@"
