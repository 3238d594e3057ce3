"""Core ATen ops that OpInfo's samples do not reach, through Kiln, compared with eager PyTorch.

    python -m torch_frontend.aten_cases --compile bazel-bin/tools/compile --run bazel-bin/tools/run \\
        [--cases NAME,...]

OpInfo exports forward calls, so backward ops (convolution_backward, ...) never appear, and torch's own
decompositions replace some core ops (native_layer_norm_backward, col2im, ...) before Kiln sees them.
Each case here calls one ATen overload directly on inputs shaped as real training produces them, is
exported with that overload kept out of the decomposition table (the case fails if the overload is not
in the exported graph, so it tests what it names), compiled and run by Kiln's tools, and every output
compared with eager (torch_frontend.opinfo's tolerances). Exit status 1 when a case fails.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from typing import Callable, Sequence

import numpy as np

from torch_frontend.opinfo import _compare, _to_numpy, _tool

CASES: dict[str, tuple[str, Callable]] = {}


def case(overload: str):
    """Registers a case: the decorated function returns (fn, inputs); `overload` must be in the graph."""
    def register(make):
        CASES[make.__name__] = (overload, make)
        return make
    return register


def _aten():
    import torch
    return torch, torch.ops.aten


# --- pooling backward ---------------------------------------------------------------------------

@case("aten._adaptive_avg_pool2d_backward.default")
def adaptive_avg_pool2d_backward_uneven():
    torch, A = _aten()
    return (lambda g, x: A._adaptive_avg_pool2d_backward(g, x)), (torch.randn(2, 3, 3, 5), torch.randn(2, 3, 7, 9))


@case("aten._adaptive_avg_pool2d_backward.default")
def adaptive_avg_pool2d_backward_3d_input():
    torch, A = _aten()
    return (lambda g, x: A._adaptive_avg_pool2d_backward(g, x)), (torch.randn(4, 2, 2), torch.randn(4, 6, 4))


@case("aten.avg_pool2d_backward.default")
def avg_pool2d_backward_padded():
    torch, A = _aten()
    fn = lambda g, x: A.avg_pool2d_backward(g, x, [3, 3], [2, 2], [1, 1], False, True, None)
    return fn, (torch.randn(2, 3, 4, 4), torch.randn(2, 3, 8, 8))


@case("aten.avg_pool2d_backward.default")
def avg_pool2d_backward_ceil_exclude_pad():
    torch, A = _aten()
    fn = lambda g, x: A.avg_pool2d_backward(g, x, [3, 2], [2, 3], [1, 1], True, False, None)
    return fn, (torch.randn(2, 4, 3), torch.randn(2, 7, 8))


@case("aten.avg_pool2d_backward.default")
def avg_pool2d_backward_divisor_override():
    torch, A = _aten()
    fn = lambda g, x: A.avg_pool2d_backward(g, x, [2, 2], [1, 1], [0, 0], False, True, 3)
    return fn, (torch.randn(1, 2, 4, 5), torch.randn(1, 2, 5, 6))


@case("aten.max_pool2d_with_indices_backward.default")
def max_pool2d_with_indices_backward_overlapping():
    torch, A = _aten()
    x = torch.randn(2, 3, 7, 6)
    _, idx = A.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1], [1, 1], True)
    fn = lambda g, x, i: A.max_pool2d_with_indices_backward(g, x, [3, 3], [2, 2], [1, 1], [1, 1], True, i)
    return fn, (torch.randn(idx.shape), x, idx)


# --- convolution backward --------------------------------------------------------------------------

def _conv_backward_case(x_shape, w_shape, stride, padding, dilation, groups, transposed=False, output_padding=None):
    torch, A = _aten()
    x, w = torch.randn(x_shape), torch.randn(w_shape)
    output_padding = output_padding or [0] * len(stride)
    y = A.convolution(x, w, None, stride, padding, dilation, transposed, output_padding, groups)
    bias_size = w_shape[1] * groups if transposed else w_shape[0]
    fn = lambda g, x, w: A.convolution_backward(g, x, w, [bias_size], stride, padding, dilation, transposed,
                                                output_padding, groups, [True, True, True])
    return fn, (torch.randn(y.shape), x, w)


@case("aten.convolution_backward.default")
def convolution_backward_strided_grouped():
    return _conv_backward_case((2, 4, 9, 8), (6, 2, 3, 2), [2, 3], [1, 1], [1, 1], 2)


@case("aten.convolution_backward.default")
def convolution_backward_dilated_big_padding():
    return _conv_backward_case((1, 3, 6, 7), (2, 3, 3, 3), [1, 2], [3, 2], [2, 1], 1)


@case("aten.convolution_backward.default")
def convolution_backward_1d():
    return _conv_backward_case((2, 4, 11), (4, 1, 3), [2], [1], [2], 4)


@case("aten.convolution_backward.default")
def convolution_backward_3d():
    return _conv_backward_case((1, 4, 5, 6, 5), (2, 2, 2, 3, 2), [2, 1, 2], [1, 1, 0], [1, 2, 1], 2)


@case("aten.convolution_backward.default")
def convolution_backward_transposed_2d():
    return _conv_backward_case((2, 4, 5, 4), (4, 3, 3, 2), [2, 3], [1, 0], [1, 1], 2, True, [1, 2])


# --- embedding and normalization backward -----------------------------------------------------------

@case("aten.embedding_dense_backward.default")
def embedding_dense_backward_padding_idx():
    torch, A = _aten()
    idx = torch.tensor([[1, 3, 3, 0], [9, 3, 1, 1]])
    return (lambda g, i: A.embedding_dense_backward(g, i, 10, 3, False)), (torch.randn(2, 4, 5), idx)


@case("aten.embedding_dense_backward.default")
def embedding_dense_backward_scale_by_freq():
    torch, A = _aten()
    idx = torch.tensor([1, 3, 3, 0, 9, 3, 1, 1])
    return (lambda g, i: A.embedding_dense_backward(g, i, 12, -1, True)), (torch.randn(8, 3), idx)


@case("aten.native_layer_norm_backward.default")
def native_layer_norm_backward_affine():
    torch, A = _aten()
    x, w, b = torch.randn(2, 3, 4, 5), torch.randn(4, 5), torch.randn(4, 5)
    _, mean, rstd = A.native_layer_norm(x, [4, 5], w, b, 1e-5)
    fn = lambda g, x, m, r, w, b: A.native_layer_norm_backward(g, x, [4, 5], m, r, w, b, [True, True, True])
    return fn, (torch.randn(2, 3, 4, 5), x, mean, rstd, w, b)


@case("aten.native_layer_norm_backward.default")
def native_layer_norm_backward_no_weight():
    torch, A = _aten()
    x = torch.randn(6, 7)
    _, mean, rstd = A.native_layer_norm(x, [7], None, None, 1e-5)
    fn = lambda g, x, m, r: A.native_layer_norm_backward(g, x, [7], m, r, None, None, [True, False, False])[0]
    return fn, (torch.randn(6, 7), x, mean, rstd)


@case("aten.native_group_norm_backward.default")
def native_group_norm_backward_affine():
    torch, A = _aten()
    x, w, b = torch.randn(2, 6, 3, 4), torch.randn(6), torch.randn(6)
    _, mean, rstd = A.native_group_norm(x, w, b, 2, 6, 12, 3, 1e-5)
    fn = lambda g, x, m, r, w: A.native_group_norm_backward(g, x, m, r, w, 2, 6, 12, 3, [True, True, True])
    return fn, (torch.randn(2, 6, 3, 4), x, mean, rstd, w)


# --- ops torch decomposes itself, and forward ops --------------------------------------------------

@case("aten.col2im.default")
def col2im_strided_dilated_padded():
    torch, A = _aten()
    # output 7x8, kernel 2x3, dilation 2x1, padding 1x2, stride 2x3: 4 x 4 blocks
    return (lambda x: A.col2im(x, [7, 8], [2, 3], [2, 1], [1, 2], [2, 3])), (torch.randn(2, 3 * 6, 16),)


@case("aten.col2im.default")
def col2im_unbatched():
    torch, A = _aten()
    return (lambda x: A.col2im(x, [4, 5], [2, 2], [1, 1], [0, 0], [1, 1])), (torch.randn(2 * 4, 12),)


@case("aten._cdist_forward.default")
def cdist_p2_batched():
    torch, A = _aten()
    return (lambda a, b: A._cdist_forward(a, b, 2.0, None)), (torch.randn(2, 5, 3), torch.randn(2, 4, 3))


@case("aten._cdist_forward.default")
def cdist_p1_5():
    torch, A = _aten()
    return (lambda a, b: A._cdist_forward(a, b, 1.5, None)), (torch.randn(5, 3), torch.randn(4, 3))


@case("aten._cdist_forward.default")
def cdist_p_inf_and_0():
    torch, A = _aten()
    a, b = torch.randn(3, 4), torch.randn(2, 4)
    b[0, :2] = a[1, :2]
    return (lambda a, b: (A._cdist_forward(a, b, float("inf"), None), A._cdist_forward(a, b, 0.0, None))), (a, b)


@case("aten._pdist_forward.default")
def pdist_p2_and_p1():
    torch, A = _aten()
    return (lambda a: (A._pdist_forward(a, 2.0), A._pdist_forward(a, 1.0))), (torch.randn(5, 3),)


@case("aten._pdist_forward.default")
def pdist_one_row_is_empty():
    torch, A = _aten()
    return (lambda a: A._pdist_forward(a, 2.0) + 1), (torch.randn(1, 3),)


@case("aten.max_pool3d_with_indices.default")
def max_pool3d_with_indices_padded_dilated_ceil():
    torch, A = _aten()
    fn = lambda x: A.max_pool3d_with_indices(x, [3, 2, 2], [2, 2, 1], [1, 1, 0], [1, 1, 2], True)
    return fn, (torch.randn(2, 3, 6, 5, 7),)


@case("aten.max_pool3d_with_indices.default")
def max_pool3d_with_indices_unbatched():
    torch, A = _aten()
    return (lambda x: A.max_pool3d_with_indices(x, [2, 2, 2], [2, 2, 2])), (torch.randn(3, 4, 4, 5),)


@case("aten._native_batch_norm_legit_functional.default")
def batch_norm_functional_training_updates_running_stats():
    torch, A = _aten()
    fn = lambda x, w, b, m, v: A._native_batch_norm_legit_functional(x, w, b, m, v, True, 0.1, 1e-5)
    return fn, (torch.randn(4, 3, 5, 2) * 2 + 1, torch.randn(3), torch.randn(3), torch.randn(3), torch.rand(3) + 0.5)


@case("aten._native_batch_norm_legit_functional.default")
def batch_norm_functional_inference():
    torch, A = _aten()
    fn = lambda x, w, m, v: A._native_batch_norm_legit_functional(x, w, None, m, v, False, 0.1, 1e-5)[0]
    return fn, (torch.randn(4, 3, 5), torch.randn(3), torch.randn(3), torch.rand(3) + 0.5)


def _grid_case(mode: int, padding_mode: int, align_corners: bool):
    torch, A = _aten()
    grid = torch.rand(2, 4, 5, 2) * 2.6 - 1.3  # some points outside [-1, 1]
    grid[0, 0, 0] = 0.0  # the centre: x = 2.5, y = 1.5 (align_corners: 2.5, 1.5), halves for nearest to round
    fn = lambda x, g: A.grid_sampler_2d(x, g, mode, padding_mode, align_corners)
    return fn, (torch.randn(2, 3, 4, 6), grid)


@case("aten.grid_sampler_2d.default")
def grid_sampler_bilinear_zeros():
    return _grid_case(0, 0, False)


@case("aten.grid_sampler_2d.default")
def grid_sampler_bilinear_border_align_corners():
    return _grid_case(0, 1, True)


@case("aten.grid_sampler_2d.default")
def grid_sampler_bilinear_reflection():
    return _grid_case(0, 2, False)


@case("aten.grid_sampler_2d.default")
def grid_sampler_bilinear_reflection_align_corners():
    return _grid_case(0, 2, True)


@case("aten.grid_sampler_2d.default")
def grid_sampler_nearest_zeros_align_corners():
    return _grid_case(1, 0, True)


@case("aten.grid_sampler_2d.default")
def grid_sampler_nearest_reflection():
    return _grid_case(1, 2, False)


@case("aten.grid_sampler_2d.default")
def grid_sampler_nearest_border():
    return _grid_case(1, 1, False)


def _bag_case(mode: str, **kw):
    torch, _ = _aten()
    F = torch.nn.functional
    weight = torch.randn(10, 3)
    indices = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9, 0])
    offsets = torch.tensor([0, 3, 3, 7] + ([9] if kw.get("include_last_offset") else []))  # bag 1 is empty
    psw = kw.pop("per_sample_weights", None)
    if psw is None:
        return (lambda w, i, o: F.embedding_bag(i, w, o, mode=mode, **kw)), (weight, indices, offsets)
    return (lambda w, i, o, p: F.embedding_bag(i, w, o, mode=mode, per_sample_weights=p, **kw)), \
        (weight, indices, offsets, torch.randn(9))


@case("aten._embedding_bag_forward_only.default")
def embedding_bag_sum_per_sample_weights():
    return _bag_case("sum", per_sample_weights=True)


@case("aten._embedding_bag_forward_only.default")
def embedding_bag_mean_padding_idx():
    return _bag_case("mean", padding_idx=4)


@case("aten._embedding_bag_forward_only.default")
def embedding_bag_max_include_last_offset():
    return _bag_case("max", include_last_offset=True)


@case("aten._embedding_bag.default")
def embedding_bag_direct_call():
    torch, A = _aten()
    fn = lambda w, i, o: A._embedding_bag(w, i, o, False, 1, False, None, False, -1)[0]
    return fn, (torch.randn(6, 4), torch.tensor([0, 5, 5, 2, 1]), torch.tensor([0, 2]))


# --- runner ---------------------------------------------------------------------------------------

def _exported(fn, inputs, overload: str):
    torch, _ = _aten()

    class Module(torch.nn.Module):
        def forward(self, *t):
            return fn(*t)

    target = eval("torch.ops." + overload)  # e.g. torch.ops.aten.col2im.default
    table = torch.export.default_decompositions()
    table.pop(target, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(Module(), inputs).run_decompositions(table)
    found = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    if overload not in found:
        raise AssertionError(f"the exported graph has no {overload}: {sorted(found)}")
    return ep


def run_case(name: str, tools: dict, workdir: str) -> str:
    """'' when the case passes, else why not."""
    torch, _ = _aten()
    from torch.utils import _pytree as pytree
    overload, make = CASES[name]
    torch.manual_seed(0)
    fn, inputs = make()
    with torch.no_grad():
        refs = [t for t in pytree.tree_leaves(fn(*inputs)) if isinstance(t, torch.Tensor)]
    ep = _exported(fn, inputs, overload)
    pt2, kiln, outdir = (os.path.join(workdir, f) for f in ("case.pt2", "case.kiln", "out"))
    torch.export.save(ep, pt2)
    os.makedirs(outdir)
    args = []
    for i, t in enumerate(inputs):
        np.save(os.path.join(workdir, f"in{i}.npy"), _to_numpy(t))
        args += ["--input", os.path.join(workdir, f"in{i}.npy")]
    for cmd in ([tools["compile"], pt2, "-o", kiln, "--quiet"], [tools["run"], kiln, *args, "--output-dir", outdir]):
        cls, why = _tool(cmd)
        if cls:
            return f"{cls}: {why}"
    for i, ref in enumerate(refs):
        path = os.path.join(outdir, f"output{i}.npy")
        if not os.path.exists(path):
            return f"output {i} was not written"
        diff = _compare(_to_numpy(ref), np.load(path))
        if diff:
            return f"output {i}: {diff}"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compile", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args(argv)
    names = [n for n in args.cases.split(",") if n] or list(CASES)
    tools = {"compile": os.path.abspath(args.compile), "run": os.path.abspath(args.run)}
    failed = 0
    for name in names:
        if name not in CASES:
            print(f"unknown case {name}", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="kiln_aten_case_") as wd:
            try:
                why = run_case(name, tools, wd)
            except Exception as e:  # export refused, or the case's op is missing from the graph
                why = f"{type(e).__name__}: {str(e).strip()[:300]}"
        print(f"{'PASS' if not why else 'FAIL'} {name} ({CASES[name][0]}){': ' + why if why else ''}", flush=True)
        failed += bool(why)
    print(f"{len(names) - failed} of {len(names)} cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
