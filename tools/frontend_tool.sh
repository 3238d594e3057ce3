#!/usr/bin/env bash
# Runs a torch_frontend tool module with the tools Bazel just built, from the workspace root:
#   frontend_tool.sh PYTHON COMPILE RUN MODULE [ARGS...]
# Behind //tools:opinfo_report, //tools:opinfo_fast_test and //tools:model_report, e.g.
#   bazel run //tools:opinfo_report                 # full OpInfo sweep -> docs/OPINFO.md
#   bazel run //tools:opinfo_report -- --samples 1 --dtypes float32 --report /tmp/o.md
#   bazel run //tools:model_report -- --models mlp,resnet18
# Under `bazel test`, temporary files (and the caches torch and transformers keep under $HOME) go to the
# test's TEST_TMPDIR.
set -euo pipefail
python=$(readlink -f "$1"); compile=$(readlink -f "$2"); run=$(readlink -f "$3"); module=$4; shift 4
root=${BUILD_WORKSPACE_DIRECTORY:-$PWD}
frontend=$(readlink -f torch_frontend/__init__.py); frontend=$(dirname "$(dirname "$frontend")")
[[ -n ${TEST_TMPDIR:-} ]] && export TMPDIR=$TEST_TMPDIR HOME=$TEST_TMPDIR
cd "$root"
PYTHONPATH=$frontend exec "$python" -m "$module" --compile "$compile" --run "$run" --repo "$root" "$@"
