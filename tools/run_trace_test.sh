#!/usr/bin/env bash
# `run --trace FILE`: the CLI writes the Chrome trace (its content is checked in run_report_test and the
# end-to-end test), and an unwritable path is a clear error.
set -euo pipefail
run=$1 kiln=$2 input=$3
out=${TEST_TMPDIR:-/tmp}/small_cnn.trace.json
"$run" "$kiln" --input "$input" --trace "$out" | grep -q "^wrote trace $out$"
head -c 15 "$out" | grep -q '^{"displayTimeUn' || { echo "error: $out is not a trace" >&2; head -c 200 "$out" >&2; exit 1; }
for track in '"host link"' '"DRAM DMA"' '"matrix"' '"vector"' '"ph":"X"'; do
  grep -q "$track" "$out" || { echo "error: $out has no $track" >&2; exit 1; }
done
if err=$("$run" "$kiln" --input "$input" --trace /nonexistent-dir/t.json 2>&1); then
  echo "error: an unwritable trace path was accepted" >&2
  exit 1
fi
[[ "$err" == *"error: cannot write '/nonexistent-dir/t.json'"* ]] || { echo "unexpected: $err" >&2; exit 1; }
echo "ok: run --trace"
