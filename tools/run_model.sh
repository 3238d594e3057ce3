#!/usr/bin/env bash
# The main job: export a model with PyTorch, compile it to .kiln, run it on the simulated
# accelerator, and compare with PyTorch (PCC, max abs error) and report the simulated latency.
#   tools/run_model.sh [MODEL] [OUT_DIR] [--batch N] [--device-dtype f32|bf16]
#   (MODEL: see `python -m torch_frontend.export --list`; with --batch, N samples per inference and the
#   throughput in samples/s; with --device-dtype bf16, weights and activations stored in bf16)
set -euo pipefail
cd "$(dirname "$0")/.."
positional=(); batch=1; dtype=f32
while (($#)); do
  case $1 in
    --batch) batch=$2; shift 2 ;;
    --device-dtype) dtype=$2; shift 2 ;;
    -*) echo "run_model.sh: unknown option $1" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
model=${positional[0]:-resnet18}
out=${positional[1]:-out/$model}
mkdir -p "$out"

echo "== export $model (PyTorch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
.venv/bin/python -m torch_frontend.export --model "$model" --batch "$batch" --out-dir "$out" | grep -E "^(wrote|aten ops)" || true

bazel build //tools:compile //tools:run 2>/dev/null || bazel build //tools:compile //tools:run
bin=$(bazel info bazel-bin 2>/dev/null)/tools

echo "== compile $out/$model.pt2"
"$bin/compile" "$out/$model.pt2" -o "$out/$model.kiln" --device-dtype "$dtype"

echo "== run on the simulated accelerator"
inputs=()
for f in "$out/$model".input*.npy; do inputs+=(--input "$f"); done
"$bin/run" "$out/$model.kiln" "${inputs[@]}" --output-dir "$out" | tee "$out/run.txt"

echo "== compare with PyTorch"
refs=("$out/$model".ref*.npy)
outs=()
for i in "${!refs[@]}"; do outs+=("$out/output$i.npy"); done
latency=$(sed -n 's/^simulated latency: \([0-9.]*\) us.*/\1/p' "$out/run.txt")
min_pcc=0.999
[[ $dtype == bf16 ]] && min_pcc=0.99  # bf16 storage rounds every weight and activation to 8 bits of mantissa
.venv/bin/python -m torch_frontend.compare --ref "${refs[@]}" --out "${outs[@]}" --min-pcc "$min_pcc" \
  --latency-us "$latency"
if ((batch > 1)); then
  awk -v b="$batch" -v us="$latency" 'BEGIN { printf "throughput: %.0f samples/s (batch %d in %.1f us)\n", b * 1e6 / us, b, us }'
fi
