#!/usr/bin/env bash
# Greedy generation on the simulated chip (torch_frontend/generate.py) with the project's Python ($1):
# GPT-2 124M with a prefill program and with the prompt fed token by token, then Bloom-560m with a
# prefill program (sharing the step's weights and cache on the device); fails when the tokens differ
# from transformers' generate. Host memory (maximum resident set): GPT-2 3.9 GB, Bloom-560m 13.4 GB;
# on a quiet 2-core machine GPT-2 takes about 4 minutes a run, Bloom-560m several times that.
set -euo pipefail
python=$1
export TMPDIR=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
"$python" -m torch_frontend.generate --model gpt2 --prompt-len 8 --new-tokens 32
"$python" -m torch_frontend.generate --model gpt2 --prompt-len 8 --new-tokens 32 --no-prefill
"$python" -m torch_frontend.generate --model bloom_560m --prompt-len 8 --new-tokens 32
