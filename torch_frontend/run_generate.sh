#!/usr/bin/env bash
# Greedy generation on the simulated chip (torch_frontend/generate.py) with the project's Python ($1):
# GPT-2 124M with a prefill program and with the prompt fed token by token, then Bloom-560m with a
# prefill program (sharing the step's weights and cache on the device); fails when the tokens differ
# from transformers' generate. On 2 cores: GPT-2 about 4 minutes and 6 GB of host memory a run,
# Bloom-560m about 15 minutes and 10 GB.
set -euo pipefail
python=$1
export TMPDIR=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
"$python" -m torch_frontend.generate --model gpt2 --prompt-len 8 --new-tokens 32
"$python" -m torch_frontend.generate --model gpt2 --prompt-len 8 --new-tokens 32 --no-prefill
"$python" -m torch_frontend.generate --model bloom_560m --prompt-len 8 --new-tokens 32
