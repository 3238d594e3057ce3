#!/usr/bin/env bash
# The compile tool's pipeline flags on a real exported model: --dump-after=all prints every pass's
# result, --time-passes times every pass, --dump-dir writes one file per pass, --stop-after stops
# without writing a .kiln, unknown pass names are a clear error, and --share-from places constants
# at an owner program's offsets.
set -euo pipefail
compile="$1"
model="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# --list-passes: a line per pass (name, summary), then its description indented.
mapfile -t passes < <("$compile" --list-passes | grep -v '^ ' | awk '{print $1}')
[[ ${#passes[@]} -ge 8 && ${passes[0]} == lower && ${passes[-1]} == serialize ]] ||
  fail "--list-passes: expected lower ... serialize, got: ${passes[*]}"

"$compile" "$model" -o "$tmp/model.kiln" --dump-after=all --time-passes --verify-each > "$tmp/out.txt"
[[ -s "$tmp/model.kiln" ]] || fail "no .kiln written"
for p in "${passes[@]}"; do
  grep -qx -- "// ----- after $p -----" "$tmp/out.txt" || fail "no dump after pass '$p'"
  grep -qE -- "^$p +[0-9.]+ +[0-9.]+\$" "$tmp/out.txt" || fail "no --time-passes row for '$p'"
done
# The dumps are the text forms: a device graph, a program with planned offsets, the .kiln's size.
grep -q '^device graph: 1 input, 1 output, ' "$tmp/out.txt" || fail "no device graph header"
grep -qE '^  [0-9]+: %[^ ]+ = conv2d\(' "$tmp/out.txt" || fail "no conv2d instruction line"
grep -q 'activations@' "$tmp/out.txt" || fail "no planned offsets"
grep -qE '^\.kiln: [0-9]+ bytes$' "$tmp/out.txt" || fail "no .kiln dump"

"$compile" "$model" -o "$tmp/d.kiln" --dump-after=all --dump-dir="$tmp/dumps" --quiet
[[ $(ls "$tmp/dumps" | wc -l) -eq ${#passes[@]} && -s "$tmp/dumps/01-lower.txt" ]] ||
  fail "--dump-dir: expected ${#passes[@]} files, got: $(ls "$tmp/dumps")"

"$compile" "$model" --dump-after=dce > "$tmp/one.txt" --stop-after=place
[[ $(grep -c '^// ----- after ' "$tmp/one.txt") -eq 1 ]] || fail "--dump-after=dce printed other passes"
grep -qx "stopped after 'place'; no .kiln written (the pipeline ends with 'serialize')" "$tmp/one.txt" ||
  fail "--stop-after did not say it stopped"

if "$compile" "$model" -o "$tmp/x.kiln" --stop-after=fold 2> "$tmp/err.txt"; then fail "unknown pass accepted"; fi
grep -q "^error: --stop-after: unknown pass 'fold'; the pipeline's passes are: lower, fold-constants," "$tmp/err.txt" ||
  fail "unexpected error: $(cat "$tmp/err.txt")"
[[ ! -e "$tmp/x.kiln" ]] || fail "a .kiln was written despite the error"
if "$compile" "$model" --dump-after=serialize --stop-after=place 2> "$tmp/err.txt"; then fail "empty dump accepted"; fi
grep -qx "error: --dump-after=serialize comes after --stop-after=place; nothing would be dumped" "$tmp/err.txt" ||
  fail "unexpected error: $(cat "$tmp/err.txt")"
echo PASS

# --share-from: the model compiled beside its own program puts every constant at the owner's offsets.
"$compile" "$model" -o "$tmp/beside.kiln" --share-from "$tmp/model.kiln" > "$tmp/share.txt"
grep -qE "^shared: +[1-9][0-9]* constants \([0-9]+ B\) in the owner's regions, 0 \(0 B\) private$" "$tmp/share.txt" ||
  fail "--share-from: unexpected summary: $(cat "$tmp/share.txt")"
if "$compile" "$model" -o "$tmp/y.kiln" --share-from "$tmp/missing.kiln" 2> "$tmp/err.txt"; then
  fail "a missing owner accepted"
fi
grep -q "^error: --share-from: .*missing.kiln" "$tmp/err.txt" || fail "unexpected error: $(cat "$tmp/err.txt")"
