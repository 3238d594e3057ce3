"""Export a registered model to .pt2 (core ATen) plus .npy inputs and eager reference outputs.

    python -m torch_frontend.export --list
    python -m torch_frontend.export --model resnet18 --out-dir out/
    python -m torch_frontend.export --model mlp --pt2 a.pt2 --inputs in0.npy --refs ref0.npy
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import Sequence

import numpy as np
import torch
from torch.utils import _pytree as pytree

from torch_frontend import models


def pin_threads() -> None:
    # One intra-op thread keeps reductions in a fixed order, so reference outputs are
    # bit-identical between runs regardless of how many cores the host has.
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (or parallel work started) in this process; harmless


def to_core_aten(ep: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """The one decomposition step of both paths (this AOT export and torch.compile's kiln backend):
    torch.export's default table, down to the core ATen opset that Kiln's lowering rules cover."""
    return ep.run_decompositions(torch.export.default_decompositions())


def pt2_bytes(ep: torch.export.ExportedProgram) -> bytes:
    """The program as .pt2 bytes, what kiln_ext.compile (the in-process compiler) takes."""
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


def export_pt2_bytes(module: torch.nn.Module, example: Sequence[torch.Tensor]) -> bytes:
    """`module` on `example` exported, decomposed to core ATen and serialized: a program's .pt2 bytes."""
    return pt2_bytes(to_core_aten(torch.export.export(module, tuple(example))))


def aten_ops(ep: torch.export.ExportedProgram) -> list[str]:
    """Sorted, de-duplicated call_function targets of the program's graph."""
    return sorted({_target_name(n.target) for n in ep.graph.nodes if n.op == "call_function"})


def _target_name(target: object) -> str:
    # OpOverloads print as "aten.addmm.default"; plain callables (operator.getitem for
    # multi-output ops) would otherwise print as "<built-in function getitem>".
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    mod = getattr(target, "__module__", None) or ""
    return f"{mod.lstrip('_')}.{getattr(target, '__name__', target)}" if mod else str(target)


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """The tensor in its own dtype. NumPy has no bfloat16: it is saved as its bits under '<V2', the
    descr np.save writes for an ml_dtypes.bfloat16 array (tools/npy.h; compare.load reads it)."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.dtype("<V2"))
    return np.ascontiguousarray(t.numpy())


def batched_inputs(spec: models.ModelSpec, seed: int, batch: int) -> list[torch.Tensor]:
    """The model's example inputs for `batch` samples: samples seed, seed+1, ... joined along dim 0, which
    must be a batch dimension of size 1 in every registered input."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    samples = [spec.example_inputs(seed + i) for i in range(batch)]
    if batch == 1:
        return list(samples[0])
    for j, t in enumerate(samples[0]):
        if t.dim() == 0 or t.shape[0] != 1:
            raise ValueError(f"{spec.name}: input {j} has shape {list(t.shape)}, not a leading batch dimension "
                             f"of 1, so it cannot be batched")
    return [torch.cat([s[j] for s in samples]) for j in range(len(samples[0]))]


def _entry(path: str, arr: np.ndarray, base_dir: str) -> dict:
    return {"file": os.path.relpath(path, base_dir), "shape": list(arr.shape),
            "dtype": str(arr.dtype)}


def _mkparent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)


class _Prepared:
    """A built model's example inputs, eager reference outputs and exported program."""

    def __init__(self, name: str, seed: int, batch: int = 1):
        pin_threads()
        spec = models.get(name)
        model = spec.build()
        self.name, self.seed = name, seed
        self.inputs = batched_inputs(spec, seed, batch)
        # References come from the eager model, not the exported program, so an export
        # or decomposition bug shows up as a mismatch instead of being baked in.
        # On copies: a model with an in-place op on an input must not change the inputs saved.
        with torch.no_grad():
            self.refs = pytree.tree_leaves(model(*[t.clone() for t in self.inputs]))
        self.ep = to_core_aten(torch.export.export(model, tuple(t.clone() for t in self.inputs)))

    def write(self, pt2_path: str, input_paths: Sequence[str], ref_paths: Sequence[str],
              manifest_path: str | None) -> dict:
        if len(input_paths) != len(self.inputs):
            raise ValueError(f"{self.name}: model takes {len(self.inputs)} input(s), "
                             f"got {len(input_paths)} path(s)")
        if len(ref_paths) != len(self.refs):
            raise ValueError(f"{self.name}: model has {len(self.refs)} output(s), "
                             f"got {len(ref_paths)} path(s)")
        for p in [pt2_path, *input_paths, *ref_paths, *([manifest_path] if manifest_path else [])]:
            _mkparent(p)
        torch.export.save(self.ep, pt2_path)
        base = os.path.dirname(os.path.abspath(manifest_path or pt2_path))

        def save_all(paths: Sequence[str], tensors: Sequence[torch.Tensor]) -> list[dict]:
            entries = []
            for path, t in zip(paths, tensors):
                arr = _to_numpy(t)
                np.save(path, arr)
                entries.append(_entry(path, arr, base))
            return entries

        manifest = {
            "model": self.name,
            "pt2": os.path.relpath(pt2_path, base),
            "inputs": save_all(input_paths, self.inputs),
            "outputs": save_all(ref_paths, self.refs),
            "seed": self.seed,
            "batch": int(self.inputs[0].shape[0]) if self.inputs and self.inputs[0].dim() else 1,
            "aten_ops": aten_ops(self.ep),
            "torch_version": torch.__version__,
        }
        if manifest_path:
            with open(manifest_path, "w") as f:
                json.dump(manifest, f, indent=2)
                f.write("\n")
        return manifest


def export_to_paths(name: str, pt2_path: str, input_paths: Sequence[str],
                    ref_paths: Sequence[str], manifest_path: str | None = None,
                    seed: int = 0, batch: int = 1) -> dict:
    """Export `name` to explicit file paths; returns the manifest dict.

    Manifest file paths are relative to the manifest's directory (or the .pt2's
    directory when no manifest is written).
    """
    return _Prepared(name, seed, batch).write(pt2_path, input_paths, ref_paths, manifest_path)


def export_model(name: str, out_dir: str, seed: int = 0, batch: int = 1) -> dict:
    """Write <name>.pt2, <name>.input<i>.npy, <name>.ref<i>.npy and <name>.json into out_dir."""
    prep = _Prepared(name, seed, batch)
    p = lambda suffix: os.path.join(out_dir, f"{name}{suffix}")
    return prep.write(p(".pt2"),
                      [p(f".input{i}.npy") for i in range(len(prep.inputs))],
                      [p(f".ref{i}.npy") for i in range(len(prep.refs))],
                      manifest_path=p(".json"))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m torch_frontend.export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="list registered models and exit")
    ap.add_argument("--model", help="registered model name")
    ap.add_argument("--seed", type=int, default=0, help="input seed (default 0)")
    ap.add_argument("--batch", type=int, default=1,
                    help="samples per inference, joined along the inputs' leading dim (default 1)")
    ap.add_argument("--out-dir", help="write <model>.{pt2,json,input<i>.npy,ref<i>.npy} here")
    ap.add_argument("--pt2", help="explicit .pt2 output path")
    ap.add_argument("--inputs", "--input-npy", nargs="+", metavar="NPY",
                    help="explicit input .npy paths, one per model input")
    ap.add_argument("--refs", "--ref-npy", nargs="+", metavar="NPY",
                    help="explicit reference-output .npy paths, one per model output")
    ap.add_argument("--manifest", help="explicit manifest .json path (optional)")
    args = ap.parse_args(argv)
    if args.list:
        return args
    if not args.model:
        ap.error("--model is required (or use --list)")
    explicit = any(x is not None for x in (args.pt2, args.inputs, args.refs, args.manifest))
    if args.out_dir and explicit:
        ap.error("use either --out-dir or explicit --pt2/--inputs/--refs, not both")
    if not args.out_dir and not explicit:
        ap.error("need --out-dir or --pt2/--inputs/--refs")
    if explicit and not (args.pt2 and args.inputs and args.refs):
        ap.error("explicit mode needs all of --pt2, --inputs and --refs")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.list:
        for name, spec in sorted(models.MODELS.items()):
            print(f"{name:16s} {spec.description}")
        return 0
    try:
        if args.out_dir:
            m = export_model(args.model, args.out_dir, seed=args.seed, batch=args.batch)
            base = args.out_dir
        else:
            m = export_to_paths(args.model, args.pt2, args.inputs, args.refs,
                                manifest_path=args.manifest, seed=args.seed, batch=args.batch)
            base = os.path.dirname(os.path.abspath(args.manifest or args.pt2))
    except (KeyError, ValueError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    j = lambda f: os.path.normpath(os.path.join(base, f))
    print(f"wrote {j(m['pt2'])}")
    for kind in ("inputs", "outputs"):
        for e in m[kind]:
            print(f"wrote {j(e['file'])}  {e['dtype']}{e['shape']}")
    if args.out_dir or args.manifest:
        print(f"wrote {args.manifest or os.path.join(args.out_dir, args.model + '.json')}")
    print(f"aten ops: {', '.join(m['aten_ops'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
