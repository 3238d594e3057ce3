"""Per-call host overhead of torch.compile(backend="kiln") against eager PyTorch, on a small model.

    python -m torch_frontend.kiln_overhead [--model mlp] [--calls 200]

Prints the median wall time per call of: eager PyTorch; kiln_ext's Graph.run alone (the simulator
running the program on the host CPU, the floor of any call); and the compiled model (Dynamo's guards,
the backend's shape-keyed cache lookup, tensor conversion, and that run). Their difference is the
backend's own overhead per call. Simulated device time is reported separately by stats().
"""

from __future__ import annotations

import argparse
import sys

import torch

from torch_frontend import kiln_backend as kiln
from torch_frontend import models
from torch_frontend.export import export_pt2_bytes
from torch_frontend.ext import kiln_ext
from torch_frontend.timing import median_seconds


def _median_us(fn, calls: int) -> float:
    return median_seconds(fn, calls, warmup=5) * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mlp", help="registered model (torch_frontend/models.py)")
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    spec = models.get(args.model)
    model = spec.build().eval()
    inputs = spec.example_inputs(0)

    graph = kiln_ext.compile(export_pt2_bytes(model, inputs), name=args.model)
    compiled = torch.compile(model, backend=kiln.kiln_backend)
    with torch.no_grad():
        eager_us = _median_us(lambda: model(*inputs), args.calls)
        run_us = _median_us(lambda: graph.run(list(inputs)), args.calls)
        kiln_us = _median_us(lambda: compiled(*inputs), args.calls)
    print(f"{args.model}: median wall time per call over {args.calls} calls")
    print(f"  eager PyTorch:                 {eager_us:9.1f} us")
    print(f"  kiln_ext Graph.run (simulator): {run_us:8.1f} us")
    print(f"  torch.compile(backend='kiln'): {kiln_us:9.1f} us")
    print(f"  backend overhead per call:     {kiln_us - run_us:9.1f} us")
    print(kiln.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
