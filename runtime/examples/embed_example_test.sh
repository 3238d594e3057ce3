#!/usr/bin/env bash
# The embedding example loads a compiled MLP, runs it and prints its [4, 10] output and latency.
set -euo pipefail
out=$("$1" "$2")
echo "$out"
grep -q "^output 0 \[4, 10\]:" <<<"$out"
grep -qE "^simulated latency: [0-9.]+ us$" <<<"$out"
# A corrupt file is a clear error, not a crash.
bad=$(mktemp)
head -c 100 "$2" > "$bad"
if msg=$("$1" "$bad" 2>&1); then echo "a truncated .kiln was accepted" >&2; exit 1; fi
grep -q "invalid .kiln program" <<<"$msg"
