#!/usr/bin/env bash
# Reports the stripped size of the runtime core (core_only) and, for comparison, of the run tool
# (core + simulator + op kernels + .npy I/O), and checks the core still loads a program and links no
# kernel.
#   core_size_test.sh CORE_ONLY RUN MODEL.kiln MAX_CORE_BYTES
set -euo pipefail
core=$1 run=$2 model=$3 max=$4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The kernels are reachable only through their registry (//ops:kernels), which the core must not link.
if nm -C "$core" | grep "kiln::ops::AllKernels" >/dev/null; then
  echo "the runtime core links the op kernels (//ops:kernels)" >&2
  exit 1
fi
strip -o "$tmp/core" "$core"
strip -o "$tmp/run" "$run"
core_bytes=$(stat -c %s "$tmp/core")
run_bytes=$(stat -c %s "$tmp/run")
echo "runtime core (loader, verifier, executor, op table) stripped: $core_bytes bytes"
echo "run tool (core + simulator + kernels + npy) stripped:         $run_bytes bytes"
"$core" "$model" | grep -E "^[0-9]+ instructions"
if [ "$core_bytes" -gt "$max" ]; then
  echo "the runtime core grew past $max bytes" >&2
  exit 1
fi
