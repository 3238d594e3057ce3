#!/usr/bin/env bash
# Runs every test: bazel test //... (C++ unit tests, the Python frontend's tests, and the end-to-end
# tests that export models with PyTorch, compile them, run them on the simulator and check PCC).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
bazel test //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# One plain closing line: "N passed, N failed".
passed=$(grep -cE '^//\S+\s+(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//\S+\s+(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log")
rm -f "$log"
echo "${passed} passed, ${failed} failed"
exit "$rc"
