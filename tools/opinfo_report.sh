#!/usr/bin/env bash
# The OpInfo sweep (torch_frontend/opinfo.py) with the tools Bazel just built.
#   bazel run //tools:opinfo_report                 # full sweep -> docs/OPINFO.md
#   bazel run //tools:opinfo_report -- --samples 1 --dtypes float32 --report /tmp/o.md
set -euo pipefail
python=$(readlink -f "$1"); compile=$(readlink -f "$2"); run=$(readlink -f "$3"); shift 3
root=${BUILD_WORKSPACE_DIRECTORY:-$PWD}
frontend=$(readlink -f torch_frontend/opinfo.py); frontend=$(dirname "$(dirname "$frontend")")
cd "$root"
args=("$@")
[[ " ${args[*]} " == *" --report "* ]] || args+=(--report docs/OPINFO.md)
PYTHONPATH=$frontend exec "$python" -m torch_frontend.opinfo --compile "$compile" --run "$run" \
  --repo "$root" "${args[@]}"
