#!/usr/bin/env bash
# Runs a unittest suite (torch_frontend/tests unless $2 names another folder) with the project's
# Python (passed as $1).
set -euo pipefail
python=$1
export TMPDIR=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
export MPLCONFIGDIR=$TMPDIR/matplotlib  # matplotlib would write its cache under $HOME
exec "$python" -m unittest discover -s "${2:-torch_frontend/tests}" -t . -v
