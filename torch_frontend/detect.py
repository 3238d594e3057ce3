"""Runs a detector with its real post-processing (torch_frontend/detection.py) against eager PyTorch.

    python -m torch_frontend.detect --model yolov8n|fasterrcnn [--size H,W] [--min-size N] [--seed S]
        [--device-dtype f32|bf16]
    bazel run //torch_frontend:detect -- --model fasterrcnn

Prints the detections matched (boxes paired by IoU), the largest IoU deficit and score difference over
the pairs, label mismatches, the simulated device time per device stage, the host stages' wall time and
the host ops by time, and the bytes over the host link. Exits 1 unless every detection is matched with
IoU >= 0.99, the same label and a score within 1e-3 (and the eager model detects something).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Sequence

from torch_frontend import detection
from torch_frontend.export import pin_threads

MIN_IOU, MAX_SCORE_DIFF = 0.99, 1e-3


@dataclasses.dataclass
class Result:
    detector: detection.Detector
    match: detection.Match
    report: detection.RunReport
    compile_s: dict
    device_dtype: str = "f32"
    values: dict = dataclasses.field(default_factory=dict)  # every named value of the staged run

    @property
    def ok(self) -> bool:
        return self.match.ok(MIN_IOU, MAX_SCORE_DIFF)


def run(name: str, seed: int = 0, device_dtype: str = "f32", **options) -> Result:
    """Builds, compiles (device storage `device_dtype`: f32 or bf16) and runs one detector on its seeded
    example image; compares with eager."""
    try:
        build = detection.DETECTORS[name]
    except KeyError:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(detection.DETECTORS)}") from None
    pin_threads()  # one thread: a repeatable eager reference, and host times of one core
    det = build(**options)
    image = det.example_input(seed)
    reference = det.eager(image)
    compile_s = det.staged.compile(image, device_dtype=device_dtype)
    values: dict = {}
    outputs, report = det.staged.run(image, values=values)
    return Result(det, detection.match_detections(*reference, *outputs), report, compile_s, device_dtype,
                  values)


def device_status(op: str) -> str:
    """Whether Kiln has a lowering rule for a host op. A rule does not mean the host stage could run on
    the device as it stands (its shapes may depend on the data there); no rule says why, if known."""
    from torch_frontend.ext import kiln_ext

    rule = kiln_ext.lowering_rules().get(op)
    if rule:
        return f"Kiln: {rule[0]}"
    reason = kiln_ext.unsupported_ops().get(op)
    return f"no device rule: {reason}" if reason else "no device rule"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def render(r: Result, top_ops: int = 8) -> str:
    rep, det = r.report, r.detector
    lines = [f"{det.name}: input {list(det.input_shape)}, device dtype {r.device_dtype}; {det.notes}",
             f"  detections: {r.match}",
             f"  criteria (IoU >= {MIN_IOU}, same label, score diff <= {MAX_SCORE_DIFF}, none unmatched): "
             f"{'PASS' if r.ok else 'FAIL'}",
             f"  device: {rep.total_device_us:.1f} us simulated in {len(rep.device_us)} stage(s)"]
    for s in det.staged.device_stages:
        lines.append(f"    {s.name}: {rep.device_us[s.name]:.1f} us, {rep.device_ops[s.name]} device ops, "
                     f"compiled in {r.compile_s[s.name]:.1f} s")
    lines.append(f"  host: {_ms(rep.total_host_s)} wall in {len(rep.host_stage_s)} stage(s): " +
                 ", ".join(f"{k} {_ms(v)}" for k, v in rep.host_stage_s.items()))
    ops = rep.host_op_s.most_common()
    lines.append(f"  host ops ({len(ops)} distinct, by wall time):")
    for op, s in ops[:top_ops]:
        lines.append(f"    {op} x{rep.host_op_calls[op]}: {_ms(s)} ({device_status(op)})")
    if len(ops) > top_ops:
        rest = ops[top_ops:]
        lines.append(f"    {len(rest)} more: {_ms(sum(s for _, s in rest))}")
    lines.append(f"  host link: {rep.host_to_device_bytes} B to the device, {rep.device_to_host_bytes} B back "
                 f"({(rep.host_to_device_bytes + rep.device_to_host_bytes) / 2**20:.1f} MiB)")
    lines.append(f"  simulator wall time: {rep.simulator_wall_s:.2f} s")
    return "\n".join(lines)


def _size(text: str) -> tuple[int, int]:
    parts = text.split(",")
    try:
        h, w = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (0, 0)
    except ValueError:
        h = w = 0
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"'{text}': expected H,W or N (positive integers)")
    return h, w


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m torch_frontend.detect", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, choices=sorted(detection.DETECTORS))
    ap.add_argument("--seed", type=int, default=0, help="input image seed (default 0)")
    ap.add_argument("--size", type=_size, help="input image size, H,W or N for N,N (default: the detector's)")
    ap.add_argument("--min-size", type=int, help="Faster R-CNN's transform min_size (default 800)")
    ap.add_argument("--device-dtype", choices=("f32", "bf16"), default="f32",
                    help="weights and activations on the device (default f32; the criteria are fp32's)")
    args = ap.parse_args(argv)
    options = {}
    if args.size:
        options["size"] = args.size
    if args.min_size:
        if args.model != "fasterrcnn":
            ap.error("--min-size applies to fasterrcnn only")
        options["min_size"] = args.min_size
    t0 = time.monotonic()
    result = run(args.model, args.seed, args.device_dtype, **options)
    print(render(result))
    print(f"  ({time.monotonic() - t0:.0f} s in all)")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
