#!/usr/bin/env bash
# Core ATen ops that OpInfo does not reach (backward ops, ops torch decomposes itself), called
# directly, compiled, run and compared with eager PyTorch (torch_frontend/aten_cases.py).
set -euo pipefail
python=$(readlink -f "$1"); compile=$(readlink -f "$2"); run=$(readlink -f "$3"); shift 3
export TMPDIR=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
exec "$python" -m torch_frontend.aten_cases --compile "$compile" --run "$run" "$@"
