#!/usr/bin/env bash
# Greedy generation of GPT-2 124M on the simulated chip (torch_frontend/generate.py) with the project's
# Python ($1), with a prefill program and with the prompt fed token by token; fails when the tokens
# differ from transformers' generate. About 4 minutes and 6 GB of host memory a run on 2 cores.
set -euo pipefail
python=$1
export TMPDIR=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
"$python" -m torch_frontend.generate --model gpt2 --prompt-len 8 --new-tokens 32
"$python" -m torch_frontend.generate --model gpt2 --prompt-len 8 --new-tokens 32 --no-prefill
