#!/usr/bin/env bash
# Runs every test: bazel test //... (C++ unit tests, the Python frontend's tests, the fuzz targets'
# seed corpora, and the end-to-end tests that export models with PyTorch, compile them, run them on
# the simulator and check PCC), then each libFuzzer target for a short while (tools/fuzz.sh).
#   tools/test.sh [--fuzz SECONDS] [BAZEL_TEST_ARGS...]    (--fuzz 0 skips fuzzing; default 20 s a target)
set -uo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=20
if [[ ${1:-} == --fuzz ]]; then fuzz_seconds=$2; shift 2; fi
log=$(mktemp)
bazel test //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -cE '^//\S+\s+(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//\S+\s+(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log")
if ((fuzz_seconds > 0)); then
  # One fuzz target that crashes, hangs or leaks counts as a failed test.
  tools/fuzz.sh --time "$fuzz_seconds" 2>&1 | tee "$log"
  fuzz_rc=${PIPESTATUS[0]}
  fuzz_passed=$(grep -cE '^  [a-z0-9_]+: [0-9]+ executions, 0 crashes' "$log")
  fuzz_failed=$(grep -cE '^  [a-z0-9_]+: FAILED' "$log")
  ((fuzz_rc != 0 && fuzz_failed == 0)) && fuzz_failed=1  # the build itself failed
  passed=$((passed + fuzz_passed)); failed=$((failed + fuzz_failed))
  ((fuzz_rc != 0)) && rc=1
fi
rm -f "$log"
# One plain closing line: "N passed, N failed".
echo "${passed} passed, ${failed} failed"
exit "$rc"
