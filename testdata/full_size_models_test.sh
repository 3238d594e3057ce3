#!/usr/bin/env bash
# The full-size models (manual: minutes and gigabytes each): every one is exported by torch_frontend,
# compiled, run on the simulated accelerator and compared with eager PyTorch (PCC >= 0.999). Prints one
# README model-table row per model, measured as it runs; fails if any model fails a stage or the PCC.
#   full_size_models_test.sh PYTHON COMPILE RUN MODEL...
set -uo pipefail
python=$1 compile=$2 run=$3
shift 3
tmp=${TEST_TMPDIR:-$(mktemp -d)}
export HOME=$tmp TMPDIR=$tmp PYTHONPATH=.  # torch and transformers write caches under $HOME
timed() {  # timed OUT_FILE CMD...: runs CMD, writes "wall_seconds peak_rss_kb" to OUT_FILE
  "$python" -c 'import resource, subprocess, sys, time
start = time.monotonic()
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(f"{time.monotonic() - start:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(rc)' "$@"
}
failed=()
rows=()
for model in "$@"; do
  dir=$tmp/$model
  mkdir -p "$dir"
  echo "== $model: export ($(date +%T))"
  if ! timed "$dir/export.time" "$python" -m torch_frontend.export --model "$model" --out-dir "$dir" > "$dir/export.txt"; then
    failed+=("$model (export)"); continue
  fi
  echo "== $model: compile"
  if ! timed "$dir/compile.time" "$compile" "$dir/$model.pt2" -o "$dir/$model.kiln" > "$dir/compile.txt"; then
    failed+=("$model (compile)"); continue
  fi
  echo "== $model: run"
  inputs=()
  for f in "$dir/$model".input*.npy; do inputs+=(--input "$f"); done
  if ! timed "$dir/run.time" "$run" "$dir/$model.kiln" "${inputs[@]}" --output-dir "$dir" > "$dir/run.txt"; then
    failed+=("$model (run)"); continue
  fi
  refs=("$dir/$model".ref*.npy)
  outs=()
  for i in "${!refs[@]}"; do outs+=("$dir/output$i.npy"); done
  "$python" -m torch_frontend.compare --ref "${refs[@]}" --out "${outs[@]}" --min-pcc 0.999 | tee "$dir/compare.txt" ||
    failed+=("$model (PCC)")
  read -r compile_s compile_kb < "$dir/compile.time"
  read -r _ run_kb < "$dir/run.time"
  latency=$(sed -n 's/^simulated latency: \([0-9.]*\) us.*/\1/p' "$dir/run.txt")
  roofline=$(sed -n 's/^roofline: \([0-9.]*\) us.*/\1/p' "$dir/run.txt")
  ratio=$(sed -n 's/^roofline: .*latency \/ roofline = \([0-9.]*\).*/\1/p' "$dir/run.txt")
  ops=$(sed -n 's/^ops: \([0-9]*\),.*/\1/p' "$dir/run.txt")
  dram=$(sed -n 's/.*peak device DRAM \([0-9]*\) B.*/\1/p' "$dir/run.txt")
  pcc=$(sed -n 's/^output0: PCC=\([0-9.]*\).*/\1/p' "$dir/compare.txt")
  err=$(sed -n 's/^output0: .*max_abs_err=\([^ ]*\).*/\1/p' "$dir/compare.txt")
  sizes=$(awk -v d="$dram" -v c="$compile_kb" -v r="$run_kb" \
    'BEGIN { printf "%.1f MB | %.0f / %.0f MB", d / 1e6, c / 1024, r / 1024 }')
  rows+=("$(printf '| %s | %s | %s | %s | %.1f s | %s us | %s us | %s | %s |' \
    "$model" "$ops" "$pcc" "$err" "$compile_s" "$latency" "$roofline" "$ratio" "$sizes")")
  rm -rf "$dir"  # gigabytes per model: keep only one model's files at a time
done
echo
echo "| model | device ops | PCC | max abs err | compile time | simulated latency | roofline | latency / roofline | peak device DRAM | peak host RSS (compile / run) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
  echo "FAIL: ${failed[*]}" >&2
  exit 1
fi
