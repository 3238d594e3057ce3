"""PyTorch's OpInfo samples through Kiln: export, compile, run on the simulator, compare with eager.

    python -m torch_frontend.opinfo --compile bazel-bin/tools/compile --run bazel-bin/tools/run \\
        [--samples 3] [--dtypes float32,int64,int32,bool] [--ops add,mul] [--jobs 2] \\
        [--report docs/OPINFO.md] [--json results.json] [--expect FILE [--update-expect]]

Every OpInfo of `torch.testing._internal.common_methods_invocations.op_db` (the suite PyTorch tests its
own ops with, shipped in the wheel) gives sample inputs per dtype. Each sample becomes a module whose
tensor arguments are its inputs (everything else is baked in), is exported with `torch.export` and
decomposed to core ATen (`run_decompositions()`, the same table as the model path), then compiled and
run by Kiln's command-line tools. Each sample ends in one class:

- export: torch.export refused it, or the exported (decomposed) program itself differs from eager
  (torch's concern, not Kiln's; not counted in the pass rate)
- passed: outputs match eager PyTorch (floats: PCC and allclose; integers and bools: exact)
- kiln error: compile or run stopped with a clear error (exit 1 and a message)
- wrong: Kiln ran it and the result differs from PyTorch
- crash: a signal, an abort, a sanitizer report or a hang

With --expect FILE (the fast slice in `bazel test //...`, //tools:opinfo_fast_test) the run is checked
against FILE, a ratchet of first samples: every (op, dtype) listed as `passed` must still pass, every
wrong result must be listed as `wrong` with its cause (a known limitation), and nothing may crash.
`--update-expect` rewrites the passed lines from this run and keeps the explained wrong ones.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import warnings
from typing import Iterable, Sequence

import numpy as np

from torch_frontend.provenance import git_commit

CLASSES = ("passed", "kiln error", "wrong", "crash", "export")

# Float tolerances per dtype: Kiln computes in fp32, with kernels that may order sums differently
# from PyTorch's; PCC catches structural errors, allclose catches scale and offset errors.
FLOAT_TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-4, atol=1e-5),
             "float16": dict(rtol=1e-2, atol=1e-3), "bfloat16": dict(rtol=2e-2, atol=1e-2)}
MIN_PCC = 0.999
# Ops whose result is uninitialized memory: only the shape and dtype can be compared.
UNINITIALIZED = {"empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided", "empty_permuted"}
# Ops whose indices may order equal values any way unless asked to be stable (ATen's own unstable
# sort permutes ties differently from its stable one, and topk documents no order among ties):
# indices that pick the same values from the input are right. The op's index output, and where
# its dim argument sits among the sample's positional arguments.
TIES_IN_ANY_ORDER = {"argsort": (0, 0), "sort": (1, 0), "topk": (1, 1)}
# Ops whose index output may name any of several equal elements (ATen's kthvalue takes whichever its
# quickselect leaves there): an index is right when the input holds the wanted value there.
TIES_AT_ANY_INDEX = {"kthvalue"}
TOOL_TIMEOUT_S = 60


@dataclasses.dataclass
class Result:
    op: str
    dtype: str
    sample: int
    cls: str
    reason: str = ""


def _torch():
    import torch  # imported lazily: the report writer and tests of it need no torch
    return torch


def _case_name(opinfo) -> str:
    return opinfo.name + (f".{opinfo.variant_test_name}" if opinfo.variant_test_name else "")


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


class _Call:
    """Builds the module for one sample: tensor leaves of (input, args, kwargs) become inputs."""

    def __init__(self, fn, sample):
        torch = _torch()
        from torch.utils import _pytree as pytree
        leaves, self.spec = pytree.tree_flatten((sample.input, sample.args, sample.kwargs))
        self.positions = [i for i, x in enumerate(leaves) if isinstance(x, torch.Tensor)]
        self.leaves = leaves
        self.tensors = tuple(leaves[i] for i in self.positions)
        fn_ref, spec, positions, consts = fn, self.spec, self.positions, leaves

        class Module(torch.nn.Module):
            def forward(self, *tensors):
                args = list(consts)
                for pos, t in zip(positions, tensors):
                    args[pos] = t
                inp, a, kw = pytree.tree_unflatten(args, spec)
                out = fn_ref(inp, *a, **kw)
                # torch.return_types (median.dim's values and indices, say) cannot be saved in a .pt2;
                # the same tensors as a plain tuple can.
                return tuple(out) if isinstance(out, tuple) and type(out) is not tuple else out

        self.module = Module()


def _tensor_outputs(out) -> list:
    torch = _torch()
    from torch.utils import _pytree as pytree
    return [x for x in pytree.tree_leaves(out) if isinstance(x, torch.Tensor)]


def _to_numpy(t):
    torch = _torch()
    t = t.detach().cpu().resolve_conj().resolve_neg()  # a lazily conjugated view (fft.ifft's) has no numpy()
    if t.dtype == torch.bfloat16:
        t = t.float()  # numpy has no bfloat16; the tools read it back as float32 values
    return np.array(t.numpy(), order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d


def _to_file(t) -> np.ndarray:
    """What the Kiln tools read: the tensor in its own dtype, bfloat16 as its bits under '<V2'
    (tools/npy.h); compare.load reads that back as float32 values."""
    torch = _torch()
    t = t.detach().cpu().resolve_conj().resolve_neg().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.dtype("<V2"))
    if t.dtype == torch.complex128:  # Kiln narrows complex128 to complex64 (the tools read '<c8')
        t = t.to(torch.complex64)
    return np.array(t.numpy(), order="C")


def _compare(ref: np.ndarray, out: np.ndarray) -> str:
    """'' when `out` matches `ref`, else why not. Complex values compare as their (real, imaginary)
    parts, as view_as_real holds them."""
    from torch_frontend.compare import as_real
    ref, out = as_real(ref), as_real(out)
    if ref.shape != out.shape:
        return f"shape {list(out.shape)}, expected {list(ref.shape)}"
    if ref.dtype.kind in "iub":
        if out.dtype.kind not in "iub":
            return f"dtype {out.dtype}, expected {ref.dtype}"
        if not np.array_equal(ref.astype(np.int64), out.astype(np.int64)):
            bad = int(np.sum(ref.astype(np.int64) != out.astype(np.int64)))
            return f"{bad} of {ref.size} integer values differ"
        return ""
    from torch_frontend.compare import allclose, pcc
    x, y = ref.astype(np.float64), out.astype(np.float64)
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return "NaN positions differ"
    finite = np.isfinite(x)
    if not np.array_equal(x[~finite & ~np.isnan(x)], y[~finite & ~np.isnan(x)]) or \
            not np.array_equal(np.isfinite(y), finite):
        return "infinities differ"
    x, y = x[finite], y[finite]
    tol = FLOAT_TOL.get(str(ref.dtype), FLOAT_TOL["float32"])
    if x.size and not allclose(y, x, **tol):
        p = pcc(y, x)
        err = float(np.max(np.abs(x - y)))
        return f"not allclose (max abs err {err:.3g}, PCC {p:.6f})"
    # A constant reference has no variation to correlate with (its PCC is 1 or 0 by bit-equality):
    # allclose alone decides, so float32 results a few ulp from PyTorch's are not "wrong".
    if x.size > 1 and not (x == x[0]).all() and pcc(y, x) < MIN_PCC:
        return f"PCC {pcc(y, x):.6f} < {MIN_PCC}"
    return ""


def _compare_tied_indices(x: np.ndarray, want: np.ndarray, got: np.ndarray, dim: int) -> str:
    """'' when `got`, like `want`, holds distinct in-range indices along `dim` that pick the same
    values from x (ties may come in any order, or, for topk, be any of the tied elements)."""
    if got.shape != want.shape or x.ndim == 0:
        return _compare(want, got)
    n = x.shape[dim]
    if got.min(initial=0) < 0 or got.max(initial=0) >= n:
        return "indices out of range"
    ordered = np.sort(got, axis=dim)
    if np.any(np.diff(ordered, axis=dim) == 0):
        return "indices repeat"
    picked = np.take_along_axis(x, got.astype(np.int64), dim)
    if not np.array_equal(picked, np.take_along_axis(x, want.astype(np.int64), dim), equal_nan=picked.dtype.kind == "f"):
        return "indices do not pick the values torch's do"
    return ""


def _compare_selected_indices(x: np.ndarray, values: np.ndarray, want: np.ndarray, got: np.ndarray,
                              dim: int, keepdim: bool) -> str:
    """'' when `got`, of `want`'s shape, picks from x along `dim` the same values `want` does."""
    if got.shape != want.shape or x.ndim == 0:
        return _compare(want, got)
    if got.min(initial=0) < 0 or got.max(initial=0) >= x.shape[dim]:
        return "indices are out of range"
    index = got.astype(np.int64) if keepdim else np.expand_dims(got.astype(np.int64), dim)
    picked = np.take_along_axis(x, index, dim).reshape(values.shape)
    if not np.array_equal(picked, values, equal_nan=True):
        return "indices do not select the values torch's do"
    return ""


def _last_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    line = lines[-1] if lines else ""
    return re.sub(r"/\S*/(kiln_opinfo_[^/]*/)?", "", line)[:300]


def _tool(cmd: Sequence[str]) -> tuple[str, str]:
    """Runs a Kiln tool: ('', '') on success, else (class, reason)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "crash", f"{os.path.basename(cmd[0])}: hang (over {TOOL_TIMEOUT_S} s)"
    text = p.stdout + p.stderr
    if p.returncode < 0 or p.returncode >= 128 or re.search(
            r"terminate called|Segmentation fault|AddressSanitizer|runtime error:|Aborted", text):
        return "crash", f"{os.path.basename(cmd[0])}: exit {p.returncode}: {_last_line(text)}"
    if p.returncode != 0:
        return "kiln error", _last_line(p.stderr or p.stdout)
    return "", ""


def run_sample(opinfo, dtype, index: int, sample, tools: dict, workdir: str) -> Result:
    torch = _torch()
    name, dname = _case_name(opinfo), _dtype_name(dtype)
    res = Result(name, dname, index, "export")
    try:
        call = _Call(opinfo.op, sample)
        if not call.tensors:
            res.reason = "sample has no tensor argument"
            return res
        # In-place ops (add_, index_put_) change their inputs: every call gets fresh copies, and a
        # mutated input's new value is an output too (Kiln returns it after the user outputs).
        def fresh():
            return tuple(t.clone() for t in call.tensors)
        with torch.no_grad():
            args = fresh()
            refs = _tensor_outputs(call.module(*args))
        if not refs:
            res.reason = "op returns no tensor"
            return res
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.export(call.module, fresh()).run_decompositions()
            with torch.no_grad():
                exported_args = fresh()
                exported = _tensor_outputs(ep.module()(*exported_args))
        sig = ep.graph_signature
        mutated = [sig.user_inputs.index(name) for name in sig.user_inputs_to_mutate.values()]
        refs += [args[i] for i in mutated]
        exported += [exported_args[i] for i in mutated]
    except Exception as e:  # torch refused: record why, in one line
        res.reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}"
        return res
    # A decomposition that changes the op's meaning is torch's, not Kiln's: the exported program itself
    # must agree with eager before Kiln is judged against it.
    if len(exported) != len(refs):
        res.reason = f"the exported program returns {len(exported)} tensors, eager {len(refs)}"
        return res
    for i, (ref, got) in enumerate(zip(refs, exported)):
        if opinfo.name in UNINITIALIZED:  # two reads of uninitialized memory need not agree
            break
        diff = _compare(_to_numpy(ref), _to_numpy(got))
        if diff:
            res.reason = f"the exported program differs from eager: output {i}: {diff}"
            return res
    base = os.path.join(workdir, "case")
    pt2, kiln = base + ".pt2", base + ".kiln"
    torch.export.save(ep, pt2)
    inputs = []
    for i, t in enumerate(call.tensors):
        path = f"{base}.in{i}.npy"
        np.save(path, _to_file(t))
        inputs += ["--input", path]
    cls, why = _tool([tools["compile"], pt2, "-o", kiln, "--quiet"])
    if not cls:
        outdir = base + "_out"
        os.makedirs(outdir, exist_ok=True)
        cls, why = _tool([tools["run"], kiln, *inputs, "--output-dir", outdir])
        if not cls:
            for i, ref in enumerate(refs):
                path = os.path.join(outdir, f"output{i}.npy")
                if not os.path.exists(path):
                    cls, why = "wrong", f"output {i} was not written"
                    break
                from torch_frontend.compare import load
                got, want = load(path), _to_numpy(ref)
                if opinfo.name in UNINITIALIZED:
                    got, want = np.zeros_like(got), np.zeros_like(want)
                diff = _compare(want, got)
                ties = TIES_IN_ANY_ORDER.get(opinfo.name)
                if diff and ties and i == ties[0] and not sample.kwargs.get("stable", False):
                    pos = ties[1]
                    dim = sample.kwargs.get("dim", sample.args[pos] if len(sample.args) > pos else -1)
                    diff = _compare_tied_indices(_to_numpy(sample.input), want, got, dim)
                if diff and opinfo.name in TIES_AT_ANY_INDEX and i == 1:  # kthvalue(x, k, dim, keepdim)
                    dim = sample.kwargs.get("dim", sample.args[1] if len(sample.args) > 1 else -1)
                    keepdim = sample.kwargs.get("keepdim", sample.args[2] if len(sample.args) > 2 else False)
                    diff = _compare_selected_indices(_to_numpy(sample.input), _to_numpy(refs[0]), want, got, dim,
                                                     keepdim)
                if diff:
                    cls, why = "wrong", f"output {i}: {diff}"
                    break
    res.cls, res.reason = (cls or "passed"), why
    return res


def _cases(samples: int, dtypes: Sequence[str], only: set[str] | None) -> Iterable:
    torch = _torch()
    from torch.testing._internal.common_methods_invocations import op_db
    for opinfo in op_db:
        if only and opinfo.name not in only and _case_name(opinfo) not in only:
            continue
        supported = opinfo.supported_dtypes("cpu")
        for dname in dtypes:
            dtype = getattr(torch, dname)
            if dtype not in supported:
                continue
            yield opinfo, dtype


def _run_op(args) -> list[Result]:
    (name, dname, samples, tools) = args
    torch = _torch()
    torch.set_num_threads(1)
    from torch.testing._internal.common_methods_invocations import op_db
    opinfo = next(o for o in op_db if _case_name(o) == name)
    dtype = getattr(torch, dname)
    results = []
    torch.manual_seed(0)
    try:
        it = opinfo.sample_inputs("cpu", dtype, requires_grad=False)
        for index in range(samples):
            try:
                sample = next(it)
            except StopIteration:
                break
            with tempfile.TemporaryDirectory(prefix="kiln_opinfo_") as wd:
                results.append(run_sample(opinfo, dtype, index, sample, tools, wd))
    except Exception as e:  # the sample generator itself failed
        results.append(Result(name, dname, len(results), "export",
                              f"sample generation: {type(e).__name__}: {str(e)[:150]}"))
    return results


def sweep(tools: dict, samples: int, dtypes: Sequence[str], only: set[str] | None, jobs: int,
          progress=sys.stderr) -> list[Result]:
    tasks = [(_case_name(o), _dtype_name(d), samples, tools) for o, d in _cases(samples, dtypes, only)]
    results: list[Result] = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, maxtasksperchild=50) as pool:
        for i, rs in enumerate(pool.imap_unordered(_run_op, tasks)):
            results.extend(rs)
            if progress and (i % 20 == 0 or i + 1 == len(tasks)):
                counts = collections.Counter(r.cls for r in results)
                print(f"opinfo: {i + 1}/{len(tasks)} op/dtype pairs, " +
                      ", ".join(f"{c} {counts[c]}" for c in CLASSES), file=progress, flush=True)
    results.sort(key=lambda r: (r.op, r.dtype, r.sample))
    return results


def totals(results: Sequence[Result]) -> dict:
    counts = collections.Counter(r.cls for r in results)
    exported = sum(counts[c] for c in CLASSES if c != "export")
    return {"samples": len(results), "exported": exported,
            **{c: counts[c] for c in CLASSES},
            "pass_rate": (counts["passed"] / exported) if exported else math.nan}


def render_markdown(results: Sequence[Result], meta: dict, max_shown: int = 3) -> str:
    t = totals(results)
    lines = [
        "# OpInfo sweep",
        "",
        "Generated by `bazel run //tools:opinfo_report` (torch_frontend/opinfo.py); do not edit by hand.",
        f"Commit {meta['commit']}, {meta['date']}, torch {meta['torch']}; up to {meta['samples']} "
        f"sample(s) per op and dtype, dtypes {', '.join(meta['dtypes'])}.",
        "",
        "Each OpInfo sample of PyTorch's own op test suite is exported with torch.export, decomposed to "
        "core ATen, compiled by Kiln, run on the simulated chip and compared with eager PyTorch "
        f"(floats: allclose and PCC >= {MIN_PCC}; integers and bools: exact).",
        "",
        "| samples | export refused by torch | exported | passed | clear Kiln error | wrong result | crash | pass rate of exported |",
        "|---|---|---|---|---|---|---|---|",
        f"| {t['samples']} | {t['export']} | {t['exported']} | {t['passed']} | {t['kiln error']} | "
        f"{t['wrong']} | {t['crash']} | {t['pass_rate']:.1%} |",
        "",
    ]
    # What stops Kiln most often: the unsupported ATen ops, by number of samples.
    missing = collections.Counter()
    for r in results:
        if r.cls == "kiln error":
            for op in re.findall(r"aten\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+", r.reason):
                missing[op] += 1
    if missing:
        lines += ["## ATen ops that stop the most samples", "",
                  "| ATen op | samples |", "|---|---|"]
        lines += [f"| `{op}` | {n} |" for op, n in missing.most_common(40)]
        lines.append("")
    lines += ["## Per op", "",
              "| op | dtype | exported | passed | kiln error | wrong | crash | first reasons |",
              "|---|---|---|---|---|---|---|---|"]
    by_key = collections.defaultdict(list)
    for r in results:
        by_key[(r.op, r.dtype)].append(r)
    for (op, dtype), rs in sorted(by_key.items()):
        c = collections.Counter(r.cls for r in rs)
        exported = len(rs) - c["export"]
        reasons = []
        for r in rs:
            if r.cls != "passed" and r.reason and r.reason not in reasons:
                reasons.append(r.reason)
        shown = "; ".join(f"{x}" for x in reasons[:max_shown]).replace("|", "\\|")
        lines.append(f"| {op} | {dtype} | {exported} | {c['passed']} | {c['kiln error']} | {c['wrong']} | "
                     f"{c['crash']} | {shown} |")
    return "\n".join(lines) + "\n"


def load_expectations(path: str) -> dict:
    """{(op, dtype): (class, cause)} from an expectations file: `op dtype passed` or
    `op dtype wrong cause...` per line, '#' comments."""
    expected = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 3)
            if len(parts) < 3 or parts[2] not in ("passed", "wrong") or (parts[2] == "wrong") != (len(parts) == 4):
                raise ValueError(f"{path}:{n}: expected 'OP DTYPE passed' or 'OP DTYPE wrong CAUSE', got {line!r}")
            expected[(parts[0], parts[1])] = (parts[2], parts[3] if len(parts) == 4 else "")
    return expected


def check_expectations(results: Sequence[Result], expected: dict) -> list[str]:
    """What breaks the ratchet: a listed pass that no longer passes, an unexplained wrong result, a
    crash. Only first samples count (the slice runs one sample per op and dtype)."""
    problems = []
    got = {(r.op, r.dtype): r for r in results if r.sample == 0}
    for key, (cls, _) in sorted(expected.items()):
        r = got.get(key)
        if cls == "passed" and r is not None and r.cls != "passed":
            problems.append(f"regressed: {key[0]} {key[1]} was passed, now {r.cls}: {r.reason}")
    for key, r in sorted(got.items()):
        if r.cls == "crash":
            problems.append(f"crash: {key[0]} {key[1]}: {r.reason}")
        elif r.cls == "wrong" and expected.get(key, ("", ""))[0] != "wrong":
            problems.append(f"wrong result not listed as a known limitation: {key[0]} {key[1]}: {r.reason}")
    return problems


def write_expectations(path: str, results: Sequence[Result], expected: dict) -> None:
    got = {(r.op, r.dtype): r for r in results if r.sample == 0}
    lines = ["# The OpInfo ratchet (torch_frontend/opinfo.py --expect): the first sample per OpInfo and dtype.",
             "# 'passed' must keep passing; 'wrong' lines are known limitations with their cause. The fast",
             "# slice in `bazel test //...` (//tools:opinfo_fast_test) checks the float32 lines. Rewritten with",
             "# `bazel run //tools:opinfo_report -- --samples 1 --expect torch_frontend/opinfo_expected.txt",
             "# --update-expect` (which also writes docs/OPINFO.md); causes of wrong results are written by hand."]
    for key in sorted(set(got) | set(expected)):
        r = got.get(key)
        # A pair this run did not cover (a slice of ops or dtypes) keeps its line.
        if (r is not None and r.cls == "passed") or (r is None and expected.get(key, ("", ""))[0] == "passed"):
            lines.append(f"{key[0]} {key[1]} passed")
        elif expected.get(key, ("", ""))[0] == "wrong" and (r is None or r.cls == "wrong"):
            lines.append(f"{key[0]} {key[1]} wrong {expected[key][1]}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")




def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compile", required=True, help="the compile tool (bazel-bin/tools/compile)")
    ap.add_argument("--run", required=True, help="the run tool (bazel-bin/tools/run)")
    ap.add_argument("--samples", type=int, default=3, help="samples per op and dtype")
    ap.add_argument("--dtypes", default="float32,int64,int32,bool")
    ap.add_argument("--ops", default="", help="comma-separated OpInfo names (default: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report", help="write the Markdown report here (default: docs/OPINFO.md; under "
                    "`bazel test`, the test's undeclared outputs)")
    ap.add_argument("--json", help="write every result as JSON here")
    ap.add_argument("--repo", default=os.getcwd(), help="the checkout, for the commit in the report")
    ap.add_argument("--expect", help="check the run against this expectations file (see above)")
    ap.add_argument("--update-expect", action="store_true", help="rewrite --expect from this run")
    ap.add_argument("--max-crashes", type=int, default=-1,
                    help="exit 1 when more samples than this crash (-1: never)")
    args = ap.parse_args(argv)
    torch = _torch()
    tools = {"compile": os.path.abspath(args.compile), "run": os.path.abspath(args.run)}
    dtypes = [d for d in args.dtypes.split(",") if d]
    only = set(x for x in args.ops.split(",") if x) or None
    if args.report is None:
        outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        args.report = os.path.join(outputs, "OPINFO.md") if outputs else "docs/OPINFO.md"
    expected = load_expectations(args.expect) if args.expect and os.path.exists(args.expect) else None
    if args.expect and expected is None and not args.update_expect:
        ap.error(f"--expect {args.expect}: no such file")
    results = sweep(tools, args.samples, dtypes, only, args.jobs)
    meta = {"commit": git_commit(args.repo), "date": datetime.date.today().isoformat(),
            "torch": torch.__version__, "samples": args.samples, "dtypes": dtypes}
    t = totals(results)
    print("opinfo: " + ", ".join(f"{k} {v}" for k, v in t.items() if k != "pass_rate") +
          f", pass rate {t['pass_rate']:.1%}")
    if args.report:
        with open(args.report, "w") as f:
            f.write(render_markdown(results, meta))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "totals": t,
                       "results": [dataclasses.asdict(r) for r in results]}, f, indent=1)
    if args.expect and args.update_expect:
        write_expectations(args.expect, results, expected or {})
        print(f"opinfo: wrote {args.expect}")
    elif expected is not None:
        problems = check_expectations(results, expected)
        for p in problems:
            print(p, file=sys.stderr)
        newly = sorted(f"{r.op} {r.dtype}" for r in results if r.sample == 0 and r.cls == "passed"
                       and expected.get((r.op, r.dtype), ("", ""))[0] != "passed")
        if newly:
            print(f"opinfo: {len(newly)} newly passing (add them with --update-expect): {', '.join(newly[:20])}")
        print(f"opinfo: {len(problems)} problem(s) against {args.expect}")
        if problems:
            return 1
    if args.max_crashes >= 0 and t["crash"] > args.max_crashes:
        for r in results:
            if r.cls == "crash":
                print(f"CRASH {r.op} {r.dtype} sample {r.sample}: {r.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
