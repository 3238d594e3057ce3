"""The functional simulator's own speed: host wall time of one simulated inference beside eager PyTorch,
on the same CPU, in the same process, with the same threads.

    bazel run //tools:sim_speed -- [--model resnet50] [--calls 5]

Kiln's simulator computes every op for real on the stored bits (ops/ kernels; SGEMM from OpenBLAS), and
converts device storage (tile layout, bf16) around each kernel; PyTorch eager runs the same model with its
own kernels. The ratio is how much slower a simulated run is than the framework itself.
"""

from __future__ import annotations

import argparse
import sys

import torch

from torch_frontend import models
from torch_frontend.export import export_pt2_bytes
from torch_frontend.ext import kiln_ext
from torch_frontend.provenance import git_commit
from torch_frontend.timing import median_seconds


def _median_ms(fn, calls: int) -> float:
    return median_seconds(fn, calls) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50", help="registered model (torch_frontend/models.py)")
    ap.add_argument("--calls", type=int, default=5, help="timed calls of each (median)")
    ap.add_argument("--repo", default=".", help="checkout whose commit the result names")
    ap.add_argument("--compile", help=argparse.SUPPRESS)  # frontend_tool passes the built tools; the
    ap.add_argument("--run", help=argparse.SUPPRESS)      # simulator here runs in process (kiln_ext)
    args = ap.parse_args(argv)
    spec = models.get(args.model)
    model = spec.build().eval()
    inputs = spec.example_inputs(0)
    graph = kiln_ext.compile(export_pt2_bytes(model, inputs), name=args.model)
    with torch.no_grad():
        eager_ms = _median_ms(lambda: model(*inputs), args.calls)
        sim_ms = _median_ms(lambda: graph.run(list(inputs)), args.calls)
    print(f"{args.model} at commit {git_commit(args.repo)}: median host wall time per inference over {args.calls} calls, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")
    print(f"  eager PyTorch:             {eager_ms:9.1f} ms")
    print(f"  Kiln functional simulator: {sim_ms:9.1f} ms  ({sim_ms / eager_ms:.2f}x eager)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
