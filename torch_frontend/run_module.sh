#!/usr/bin/env bash
# Runs a torch_frontend module (python -m $2 with the remaining arguments) with the project's Python ($1).
set -euo pipefail
python=$1
module=$2
shift 2
exec "$python" -m "$module" "$@"
