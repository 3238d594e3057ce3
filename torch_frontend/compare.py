"""Compare accelerator outputs with PyTorch reference outputs (.npy).

    python -m torch_frontend.compare --ref ref0.npy [ref1.npy ...] --out out0.npy [out1.npy ...]
        [--min-pcc 0.999] [--rtol 1e-3] [--atol 1e-4] [--latency-us X]

Prints one line per output; exits 1 if any output's PCC is below --min-pcc (or NaN)
or shapes differ, or an integer or bool output (argmax indices, masks) is not exactly equal to its
reference, 0 otherwise. Deliberately numpy-only so it never imports torch.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Sequence

import numpy as np


def load(path: str) -> np.ndarray:
    """np.load, with bfloat16 (saved as its bits under a 2-byte void descr, see tools/npy.h) widened
    exactly to float32, since NumPy cannot compute with it."""
    arr = np.load(path)
    if arr.dtype.kind == "V" and arr.dtype.itemsize == 2:
        arr = (arr.view("<u2").astype("<u4") << 16).view("<f4")
    return arr


def as_real(a: np.ndarray) -> np.ndarray:
    """A complex array as its (real, imaginary) parts in a trailing dim of 2 (torch.view_as_real's
    layout, which is how Kiln holds complex values); any other array unchanged."""
    a = np.asarray(a)
    return np.stack([a.real, a.imag], axis=-1) if np.iscomplexobj(a) else a


def _as_f64_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return a.astype(np.float64).ravel(), b.astype(np.float64).ravel()


def pcc(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the flattened arrays, computed in float64.

    Edge cases: any NaN/Inf -> nan; both constant -> 1.0 if exactly equal else 0.0;
    exactly one constant -> 0.0; empty arrays -> 1.0. Raises ValueError on shape mismatch.
    """
    x, y = _as_f64_pair(a, b)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    if x.size == 0:
        return 1.0
    # Test constancy exactly rather than via std == 0: the float64 mean of identical
    # values need not equal them, leaving tiny non-zero deviations.
    x_const, y_const = bool((x == x[0]).all()), bool((y == y[0]).all())
    if x_const or y_const:
        return 1.0 if (x_const and y_const and x[0] == y[0]) else 0.0
    if np.array_equal(x, y):
        return 1.0  # exact, so --min-pcc 1.0 passes bit-identical outputs despite rounding
    xc, yc = x - x.mean(), y - y.mean()
    r = float(np.dot(xc, yc) / (np.linalg.norm(xc) * np.linalg.norm(yc)))
    return min(1.0, max(-1.0, r))  # rounding can land just outside [-1, 1]


def max_abs_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| in float64; nan if any NaN; 0.0 for empty arrays."""
    x, y = _as_f64_pair(a, b)
    return float(np.max(np.abs(x - y))) if x.size else 0.0


def allclose(a: np.ndarray, b: np.ndarray, rtol: float = 1e-3, atol: float = 1e-4) -> bool:
    """np.allclose(a, b) (|a-b| <= atol + rtol*|b|, b = reference) without broadcasting."""
    x, y = _as_f64_pair(a, b)
    return bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=False))


def _fmt_tol(v: float) -> str:
    return np.format_float_scientific(v, trim="-", exp_digits=1)  # 0.001 -> "1e-3"


def compare_files(refs: Sequence[str], outs: Sequence[str], min_pcc: float,
                  rtol: float, atol: float) -> tuple[list[str], list[str]]:
    """Returns (report lines, failure messages)."""
    lines, failures = [], []
    for i, (ref_path, out_path) in enumerate(zip(refs, outs)):
        ref, out = as_real(load(ref_path)), as_real(load(out_path))
        if ref.shape != out.shape:
            lines.append(f"output{i}: shape mismatch: ref {ref.shape} vs out {out.shape}")
            failures.append(f"output{i}: shape mismatch (ref {ref.shape}, out {out.shape})")
            continue
        if ref.dtype.kind in "iub":
            # Indices and masks are right or wrong: exact, whatever the PCC.
            differ = int(np.sum(ref.astype(np.int64) != out.astype(np.int64))) \
                if out.dtype.kind in "iub" else ref.size
            lines.append(f"output{i}: {ref.dtype} exact={differ == 0}"
                         + (f" ({differ} of {ref.size} differ)" if differ else ""))
            if out.dtype.kind not in "iub":
                failures.append(f"output{i}: dtype {out.dtype}, expected {ref.dtype}")
            elif differ:
                failures.append(f"output{i}: {differ} of {ref.size} {ref.dtype} values differ")
            continue
        p = pcc(out, ref)
        lines.append(f"output{i}: PCC={p:.6f} max_abs_err={max_abs_err(out, ref):.3g} "
                     f"allclose(rtol={_fmt_tol(rtol)}, atol={_fmt_tol(atol)})="
                     f"{allclose(out, ref, rtol, atol)}"
                     + ("  (warning: the reference is constant, so PCC says little)"
                        if ref.size > 1 and bool((ref == ref.flat[0]).all()) else ""))
        if not p >= min_pcc:  # written this way so NaN fails too
            failures.append(f"output{i}: PCC {p:.6f} < min-pcc {min_pcc}")
    return lines, failures


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m torch_frontend.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", nargs="+", required=True, metavar="NPY", help="reference output(s)")
    ap.add_argument("--out", nargs="+", required=True, metavar="NPY", help="actual output(s)")
    ap.add_argument("--min-pcc", type=float, default=0.999)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--latency-us", type=float, help="simulated latency to echo in the report")
    args = ap.parse_args(argv)
    if len(args.ref) != len(args.out):
        ap.error(f"--ref has {len(args.ref)} file(s) but --out has {len(args.out)}")

    try:
        lines, failures = compare_files(args.ref, args.out, args.min_pcc, args.rtol, args.atol)
    except (OSError, ValueError) as e:  # missing/unreadable .npy
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    if args.latency_us is not None:
        print(f"latency_us={args.latency_us:g}")
    if failures:
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        return 1
    print(f"PASS: {len(lines)} output(s), PCC >= {args.min_pcc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
