#!/usr/bin/env bash
# docs/OPS.md must be exactly what the op registry generates.
set -euo pipefail
if ! diff -u "$2" <("$1"); then
  echo "docs/OPS.md is stale: run 'bazel run //tools:op_docs > docs/OPS.md'" >&2
  exit 1
fi
