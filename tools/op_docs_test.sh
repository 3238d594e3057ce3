#!/usr/bin/env bash
# docs/OPS.md must be exactly what the op registry and lowering rules generate for the installed torch.
#   op_docs_test.sh <op_docs> <docs/OPS.md> <core_aten_ops.txt>
set -euo pipefail
if ! diff -u "$2" <("$1" "$3"); then
  echo "docs/OPS.md is stale: run 'bazel run //tools:op_docs > docs/OPS.md'" >&2
  exit 1
fi
