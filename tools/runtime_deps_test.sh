#!/usr/bin/env bash
# The runtime CLI links only what an embedded program would: no libtorch, no Abseil.
set -euo pipefail
bin=$1
if ldd "$bin" | grep -E "libtorch|libc10|libabsl"; then
  echo "error: $bin links libraries the runtime must not depend on (above)" >&2
  exit 1
fi
echo "ok: $bin links neither libtorch nor Abseil"
