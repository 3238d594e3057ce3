#!/usr/bin/env bash
# Greedy generation of the full-size causal LMs on the simulated chip (torch_frontend/generate.py),
# with the project's Python ($1); fails when any model's tokens differ from transformers' generate.
set -euo pipefail
python=$1
export TMPDIR=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
for model in gpt2 bloom_560m; do
  "$python" -m torch_frontend.generate --model "$model" --prompt-len 8 --new-tokens 32
done
