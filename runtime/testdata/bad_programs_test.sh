#!/usr/bin/env bash
# The `run` tool on format-2 versions of issue 5's bad .kiln inputs: each must end as a clear error
# (exit 1 with the expected message) within 10 s and 1 GiB of address space.
#   bad_programs_test.sh RUN DIR_WITH_BAD_PROGRAMS FORMAT1_KILN
set -uo pipefail
run=$1 dir=$2 format1=$3
fail=0
expect() {  # file, expected message fragment
  local out rc
  out=$( (ulimit -v 1048576; exec timeout 10 "$run" "$1") 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $(basename "$1"): exit $rc: $out (expected: $2)"; fail=1
  else
    echo "ok   $(basename "$1"): $out"
  fi
}
expect "$dir/zero_dim_tile.kiln" "'x': bad dimension 1099511627776 in shape [1099511627776, 0, 1]"
expect "$dir/maxpool_window.kiln" "attribute 'kernel' must hold 2 ints in [1, 2^40], got [1099511627777, 1]"
expect "$dir/arena_12GiB.kiln" "region 0 'activations' (DEVICE_DRAM) needs 12884901888 bytes, above the limit of 8589934592"
expect "$dir/overflow_shape.kiln" "shape [4294967296, 4294967296] spans more than 68719476736 elements"
expect "$format1" "format 1 is no longer supported (this runtime reads format 2); recompile the model"
exit $fail
