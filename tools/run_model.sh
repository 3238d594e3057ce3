#!/usr/bin/env bash
# The main job: export a model with PyTorch, compile it to .kiln, run it on the simulated
# accelerator, and compare with PyTorch (PCC, max abs error) and report the simulated latency.
#   tools/run_model.sh [MODEL] [OUT_DIR]     (MODEL: see `python -m torch_frontend.export --list`)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-resnet18}
out=${2:-out/$model}
mkdir -p "$out"

echo "== export $model (PyTorch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
.venv/bin/python -m torch_frontend.export --model "$model" --out-dir "$out" | grep -E "^(wrote|aten ops)" || true

bazel build //tools:compile //tools:run 2>/dev/null || bazel build //tools:compile //tools:run
bin=$(bazel info bazel-bin 2>/dev/null)/tools

echo "== compile $out/$model.pt2"
"$bin/compile" "$out/$model.pt2" -o "$out/$model.kiln"

echo "== run on the simulated accelerator"
inputs=()
for f in "$out/$model".input*.npy; do inputs+=(--input "$f"); done
"$bin/run" "$out/$model.kiln" "${inputs[@]}" --output-dir "$out" | tee "$out/run.txt"

echo "== compare with PyTorch"
refs=("$out/$model".ref*.npy)
outs=()
for i in "${!refs[@]}"; do outs+=("$out/output$i.npy"); done
latency=$(sed -n 's/^simulated latency: \([0-9.]*\) us.*/\1/p' "$out/run.txt")
.venv/bin/python -m torch_frontend.compare --ref "${refs[@]}" --out "${outs[@]}" --min-pcc 0.999 \
  --latency-us "$latency"
