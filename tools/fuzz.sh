#!/usr/bin/env bash
# Builds Kiln's libFuzzer targets with clang-14 (--config=fuzz: ASan + UBSan) and runs each for a
# while on a fresh copy of its seed corpus. Exits non-zero if any target crashes, hangs, leaks or
# runs out of memory, and prints where the input that did it was saved. See docs/FUZZING.md.
#
#   tools/fuzz.sh [--time SECONDS] [--out DIR] [--corpus DIR] [TARGET...] [-- LIBFUZZER_FLAGS...]
#
#   --time      seconds per target (default 60)
#   --out       where findings and logs go (default: a new temporary directory)
#   --corpus    keep each target's corpus in DIR/<target> across runs (default: a copy of the seeds
#               in --out, so every run starts from the seeds alone)
#   TARGET      program, pt2_reader, export_json (default: all three, one after another)
#   flags after `--` go to every libFuzzer run (e.g. -runs=10000000, -seed=1)
#
# The fuzz build lives in its own Bazel output base (~/.cache/kiln/bazel-fuzz): a different C
# compiler re-configures Bazel's auto-detected C++ toolchain, which in the main output base would
# throw away the gcc build's cache each time. --symlink_prefix=/ leaves the bazel-* links alone.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
out=""
corpus_root=""
extra=()
targets=()
while (($#)); do
  case "$1" in
    --time) seconds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --corpus) corpus_root=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(program pt2_reader export_json)

declare -A label=(
  [program]=//runtime:program_fuzz
  [pt2_reader]=//compiler/pt2:pt2_reader_fuzz
  [export_json]=//compiler/pt2:export_json_fuzz
)
# Largest input each target is given: a little above its largest seed.
declare -A max_len=([program]=8192 [pt2_reader]=32768 [export_json]=16384)
labels=()
for t in "${targets[@]}"; do
  [[ -n ${label[$t]:-} ]] || { echo "fuzz.sh: unknown target '$t' (program, pt2_reader, export_json)" >&2; exit 2; }
  labels+=("${label[$t]}")
done

for tool in clang-14 bazel; do
  command -v "$tool" > /dev/null || { echo "fuzz.sh: $tool not found; run tools/setup.sh" >&2; exit 2; }
done
bazel_fuzz=(bazel "--output_base=$HOME/.cache/kiln/bazel-fuzz")
start=$SECONDS
"${bazel_fuzz[@]}" build --config=fuzz --symlink_prefix=/ "${labels[@]}" //tools/fuzz:kiln.dict
bin=$("${bazel_fuzz[@]}" info --config=fuzz bazel-bin 2> /dev/null)
echo "fuzz.sh: build took $((SECONDS - start)) s"

out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[[ -x $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  l=${label[$t]}
  pkg=${l#//}; pkg=${pkg%%:*}
  exe="$bin/$pkg/${l##*:}"
  corpus=${corpus_root:+$corpus_root/$t}
  corpus=${corpus:-$out/corpus/$t}
  mkdir -p "$corpus" "$out/findings"
  for seed in "$exe"_corpus/*; do
    [[ -e $corpus/${seed##*/} ]] || cp "$seed" "$corpus"/
  done
  chmod -R u+w "$corpus"
  flags=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 -rss_limit_mb=2048
         -print_final_stats=1 -artifact_prefix="$out/findings/$t-")
  [[ $t == program ]] && flags+=(-dict="$bin/tools/fuzz/kiln.dict")
  echo "fuzz.sh: $t for ${seconds}s, corpus $corpus, log $out/$t.log"
  rc=0
  "$exe" "${flags[@]}" "${extra[@]}" "$corpus" > "$out/$t.log" 2>&1 || rc=$?
  execs=$(grep -oP '^stat::number_of_executed_units: \K\d+' "$out/$t.log" | tail -n1 || true)
  [[ -n $execs ]] || execs=$(grep -oP '^#\K\d+' "$out/$t.log" | tail -n1 || true)
  found=$(grep -oP 'Test unit written to \K\S+' "$out/$t.log" || true)
  if ((rc)); then
    failed=1
    grep -m1 -E '^==[0-9]+==ERROR|runtime error|ERROR: libFuzzer' "$out/$t.log" || true
    summary+=("$t: FAILED after ${execs:-?} executions (exit $rc): ${found:-no input saved}; log $out/$t.log")
  else
    summary+=("$t: ${execs:-?} executions, 0 crashes, corpus $(ls "$corpus" | wc -l) inputs")
  fi
done
echo "fuzz.sh: total $((SECONDS - start)) s; findings and logs in $out"
printf '  %s\n' "${summary[@]}"
exit "$failed"
