"""The model report: every registered model exported, compiled and run by Kiln, written to docs/MODELS.md.

    bazel run //tools:model_report                          # every model -> docs/MODELS.md, docs/models/*.png
    bazel run //tools:model_report -- --models mlp,resnet18 --out /tmp/m.md --pictures /tmp/pics
    bazel test //tools:full_size_models_test --test_output=streamed   # the full-size ones (manual)

Per model: export with torch.export (the registry's constructor, seeded weights and inputs), compile with
the compile tool in fp32 and with bf16 device storage, run each on the simulated chip with
`run --stats-json`, and compare with PyTorch. The report gives ATen op counts, the share of ops on the
device, PCC and max abs error in fp32 and bf16, compile time, simulated latency and latency / roofline,
peak device memory, bytes over the host link and the simulator's own wall time; and for each model a
picture (PNG beside the report) of the activation bytes live over the run and of the time by op kind,
and the peak host memory of compiling and of running. The detectors run with their post-processing
(torch_frontend/detection.py) in a section of their own, which lists the ops that ran on the host. A model whose fp32 PCC is below --min-pcc
(0.999) is an error row, and the tool then exits 1. Progress (model i of n, stage, elapsed) goes to
stderr; the table also to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Sequence

import numpy as np

from torch_frontend.compare import load, max_abs_err, pcc
from torch_frontend.provenance import git_commit

# Models the report leaves out: test fixtures, not architectures.
SKIP = {"unsupported_op", "inplace_input", "mlp_fp16", "mlp_bf16", "mlp_fp64"}
TOOL_TIMEOUT_S = 1800


@dataclasses.dataclass
class Row:
    model: str
    description: str = ""
    error: str = ""
    aten_nodes: int = 0
    distinct_aten_ops: int = 0
    device_ops: int = 0
    folded: int = 0
    host_ops: int = 0
    pcc_fp32: float = float("nan")
    max_abs_fp32: float = float("nan")
    pcc_bf16: float = float("nan")
    max_abs_bf16: float = float("nan")
    export_s: float = 0.0
    compile_s: float = 0.0
    latency_us: float = 0.0
    roofline_us: float = 0.0
    peak_device_bytes: int = 0
    weight_upload_bytes: int = 0
    host_link_bytes: int = 0
    host_wall_s: float = 0.0
    compile_rss_bytes: int = 0
    run_rss_bytes: int = 0
    picture: str = ""


class Progress:
    def __init__(self, total: int, out=sys.stderr):
        self.total, self.out, self.start = total, out, time.monotonic()

    def __call__(self, index: int, model: str, stage: str) -> None:
        print(f"model_report: [{index + 1}/{self.total}] {model}: {stage} "
              f"({time.monotonic() - self.start:.0f} s elapsed)", file=self.out, flush=True)


# Runs a command and writes its peak RSS (KiB) to a file. A fresh, small interpreter forks the tool:
# Linux keeps the larger RSS of a process from before its exec, so a tool forked straight from this
# process (torch loaded, ~1 GB) would report this process's size, not its own.
_RSS_WRAPPER = """import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)"""


def _tool(cmd: Sequence[str]) -> tuple[str, float, int]:
    """Runs a Kiln tool; (stdout, seconds, peak RSS in bytes). Raises RuntimeError with the tool's last
    line on failure."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-S", "-c", _RSS_WRAPPER, rss.name, *cmd], capture_output=True,
                           text=True, timeout=TOOL_TIMEOUT_S)
        seconds = time.monotonic() - t0
        peak_kib = int(rss.read() or 0)
    if p.returncode != 0:
        lines = [l for l in (p.stderr or p.stdout).strip().splitlines() if l.strip()]
        raise RuntimeError(f"{os.path.basename(cmd[0])}: {lines[-1] if lines else f'exit {p.returncode}'}")
    return p.stdout, seconds, peak_kib * 1024


def parse_compile_summary(text: str) -> dict:
    """ATen nodes, device ops and folded constants from the compile tool's summary."""
    nodes = re.search(r"^ATen nodes:\s+(\d+)", text, re.M)
    ops = re.search(r"^device ops:\s+(\d+)(?: \((\d+) folded)?", text, re.M)
    if not nodes or not ops:
        raise RuntimeError("compile: summary has no 'ATen nodes' / 'device ops' lines")
    return {"aten_nodes": int(nodes.group(1)), "device_ops": int(ops.group(1)),
            "folded": int(ops.group(2) or 0)}


def _compare_outputs(refs: Sequence[str], outs: Sequence[str]) -> tuple[float, float]:
    """Worst PCC and max abs error over a model's outputs (floats; integer outputs must be exact)."""
    worst_pcc, worst_err = 1.0, 0.0
    for ref_path, out_path in zip(refs, outs):
        ref, out = load(ref_path), load(out_path)  # bf16 files too (compare.load)
        if ref.shape != out.shape:
            raise RuntimeError(f"{os.path.basename(out_path)}: shape {list(out.shape)}, expected {list(ref.shape)}")
        if ref.dtype.kind in "iub":
            same = np.array_equal(ref.astype(np.int64), out.astype(np.int64))
            worst_pcc = min(worst_pcc, 1.0 if same else 0.0)
            worst_err = max(worst_err, float(np.max(np.abs(ref.astype(np.int64) - out.astype(np.int64)), initial=0)))
            continue
        worst_pcc = min(worst_pcc, pcc(out, ref))
        worst_err = max(worst_err, max_abs_err(out, ref))
    return worst_pcc, worst_err


def _run(tools: dict, kiln: str, manifest: dict, base: str, outdir: str, stats_path: str) -> tuple[dict, int]:
    os.makedirs(outdir, exist_ok=True)
    inputs = []
    for entry in manifest["inputs"]:
        inputs += ["--input", os.path.join(base, entry["file"])]
    _, _, rss = _tool([tools["run"], kiln, *inputs, "--output-dir", outdir, "--stats-json", stats_path])
    with open(stats_path) as f:
        return json.load(f), rss


def picture(path: str, model: str, stats: dict) -> None:
    """Activation bytes live over the simulated run (constants as a flat band below), and time by op kind."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Engines overlap, so program order is not time order: each instruction's live bytes hold from its
    # start to the next start in time.
    insts = sorted(stats["instructions"], key=lambda i: i["start_us"])
    starts = [i["start_us"] for i in insts] + [max([stats["latency_us"]] + [i["start_us"] for i in insts])]
    live = [i["live_activation_bytes"] / 2**20 for i in insts]
    constants = sum(r["bytes"] for r in stats["regions"] if r["name"] == "constants") / 2**20
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    ax0.fill_between(starts, [constants] * len(starts), step="post", color="#c8d6e5", label="constants")
    ax0.stairs([constants + x for x in live], starts, baseline=constants, fill=True, color="#ee5253",
               label="live activations")
    ax0.set_xlabel("simulated time (us)")
    ax0.set_ylabel("device memory (MiB)")
    ax0.set_title(f"{model}: device memory over the run")
    ax0.legend(loc="upper right", fontsize=8)
    by_kind: dict[str, float] = {}
    for i in insts:
        by_kind[i["op"]] = by_kind.get(i["op"], 0.0) + i["us"]
    kinds = sorted(by_kind, key=by_kind.get)[-12:]
    ax1.barh(kinds, [by_kind[k] for k in kinds], color="#576574")
    ax1.set_xlabel("simulated time (us)")
    ax1.set_title("time by op kind")
    ax1.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report_model(name: str, tools: dict, workdir: str, pictures: str | None, progress, index: int,
                 min_pcc: float = 0.999) -> Row:
    from torch_frontend import export, models
    row = Row(name, description=models.get(name).description)
    try:
        progress(index, name, "export")
        t0 = time.monotonic()
        manifest = export.export_model(name, workdir)
        row.export_s = time.monotonic() - t0
        row.distinct_aten_ops = len(manifest["aten_ops"])
        pt2 = os.path.join(workdir, manifest["pt2"])
        refs = [os.path.join(workdir, o["file"]) for o in manifest["outputs"]]
        for dtype in ("fp32", "bf16"):
            progress(index, name, f"compile ({dtype})")
            kiln = os.path.join(workdir, f"{name}.{dtype}.kiln")
            extra = ["--device-dtype", "bf16"] if dtype == "bf16" else []
            text, seconds, compile_rss = _tool([tools["compile"], pt2, "-o", kiln, *extra])
            progress(index, name, f"run ({dtype})")
            outdir = os.path.join(workdir, f"out_{dtype}")
            stats, run_rss = _run(tools, kiln, manifest, workdir, outdir, os.path.join(workdir, f"{dtype}.json"))
            outs = [os.path.join(outdir, f"output{i}.npy") for i in range(len(refs))]
            p, err = _compare_outputs(refs, outs)
            if dtype == "fp32":
                summary = parse_compile_summary(text)
                row.aten_nodes, row.device_ops, row.folded = (summary["aten_nodes"], summary["device_ops"],
                                                              summary["folded"])
                row.compile_s, row.host_wall_s = seconds, stats["host_wall_us"] / 1e6
                row.compile_rss_bytes, row.run_rss_bytes = compile_rss, run_rss
                row.pcc_fp32, row.max_abs_fp32 = p, err
                row.latency_us, row.roofline_us = stats["latency_us"], stats["roofline_us"]
                row.peak_device_bytes = stats["peak_device_bytes"]
                row.weight_upload_bytes = stats["load_host_to_device_bytes"]
                c = stats["counters"]
                row.host_link_bytes = c["host_to_device_bytes"] + c["device_to_host_bytes"]
                if pictures:
                    os.makedirs(pictures, exist_ok=True)
                    row.picture = os.path.join(pictures, f"{name}.png")
                    picture(row.picture, name, stats)
            else:
                row.pcc_bf16, row.max_abs_bf16 = p, err
        if row.pcc_fp32 < min_pcc:
            raise RuntimeError(f"fp32 PCC {row.pcc_fp32:.6f} < {min_pcc}")
    except Exception as e:  # one model's failure is a row in the report, not the end of it
        row.error = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
    return row


@dataclasses.dataclass
class DetectionRow:
    """A detector with its post-processing (torch_frontend/detection.py): the stages' costs and host ops."""
    model: str
    notes: str = ""
    error: str = ""
    match: str = ""
    passed: bool = False
    device_us: float = 0.0
    device_stages: str = ""
    host_wall_s: float = 0.0
    host_stages: str = ""
    host_ops: list = dataclasses.field(default_factory=list)  # (op, calls, seconds), slowest first
    host_link_bytes: int = 0


def report_detector(name: str, progress, index: int) -> DetectionRow:
    """Runs `python -m torch_frontend.detect --model name` in process (the detector's default sizes)."""
    from torch_frontend import detect
    row = DetectionRow(name)
    try:
        progress(index, name, "detection: export, compile, run, compare")
        r = detect.run(name)
        rep = r.report
        row.notes, row.match, row.passed = r.detector.notes, str(r.match), r.ok
        row.device_us = rep.total_device_us
        row.device_stages = ", ".join(f"{k} {v:.1f} us" for k, v in rep.device_us.items())
        row.host_wall_s = rep.total_host_s
        row.host_stages = ", ".join(f"{k} {_ms(v)}" for k, v in rep.host_stage_s.items())
        row.host_ops = [(op, rep.host_op_calls[op], sec) for op, sec in rep.host_op_s.most_common()]
        row.host_link_bytes = rep.host_to_device_bytes + rep.device_to_host_bytes
        if not r.ok:
            raise RuntimeError(f"detections do not match eager PyTorch: {r.match}")
    except Exception as e:  # as for models: a row, not the end of the report
        row.error = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
    return row


def render_detection(rows: Sequence[DetectionRow], top_ops: int = 6) -> list[str]:
    lines = ["## Detection with post-processing", "",
             "`python -m torch_frontend.detect --model NAME` (torch_frontend/detection.py, docs/DETECTION.md): "
             "the dense stages compiled by Kiln and run on the simulated chip, the stages with data-dependent "
             "shapes (top-k, NMS, RoIAlign) in PyTorch on the host, compared with the eager model's boxes, "
             "scores and labels (pairs by IoU; pass: IoU >= 0.99, same label, score within 1e-3, none "
             "unmatched). Host wall times are one thread on this machine.", "",
             "| detector | detections | device (simulated) | host stages (wall) | host ops, slowest first | "
             "host link / inference |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r.error and not r.match:
            lines.append(f"| {r.model} | error: {r.error.replace('|', '/')} | | | | |")
            continue
        ops = "; ".join(f"{op} x{n} {_ms(sec)}" for op, n, sec in r.host_ops[:top_ops])
        if len(r.host_ops) > top_ops:
            rest = r.host_ops[top_ops:]
            ops += f"; {len(rest)} more {_ms(sum(sec for _, _, sec in rest))}"
        lines.append(f"| {r.model} | {'PASS' if r.passed else 'FAIL'}: {r.match} | {r.device_us:.1f} us "
                     f"({r.device_stages}) | {_ms(r.host_wall_s)} ({r.host_stages}) | {ops} | "
                     f"{_bytes(r.host_link_bytes)} |")
    return lines + [""]


def _bytes(b: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{int(b)} B"


def _ms(s: float) -> str:
    return f"{s * 1e3:.1f} ms"


def _seconds(s: float) -> str:
    return f"{s:.2f} s" if s >= 1 else f"{s * 1000:.0f} ms"


def render_markdown(rows: Sequence[Row], meta: dict, report_dir: str,
                    detections: Sequence[DetectionRow] = ()) -> str:
    lines = [
        "# Models",
        "",
        "Generated by `bazel run //tools:model_report` (torch_frontend/model_report.py); do not edit by hand.",
        f"Commit {meta['commit']}, {meta['date']}, torch {meta['torch']}, chip {meta['chip']}, batch as "
        "registered (torch_frontend/models.py), seeded weights and inputs.",
        "",
        "Every model is exported with torch.export, compiled by Kiln (fp32, and with bf16 device storage), run "
        "on the simulated chip and compared with eager PyTorch in fp32 (the bf16 columns compare the bf16 "
        "program with the same fp32 reference). All ops of a compiled model run on the device: the AOT path "
        "has no host fallback, so a model with an op Kiln cannot run is an error row. 'host link' is the "
        "bytes of one inference's inputs and outputs; the weights cross once, at load. 'host wall' is the "
        "functional simulator's own time for one inference on this machine; 'host RSS' the peak memory of the "
        "compile and run tools.",
        "",
        "| model | ATen nodes | distinct ATen ops | device ops (folded) | host ops | PCC fp32 | max abs err fp32 | "
        "PCC bf16 | max abs err bf16 | compile | simulated latency | latency / roofline | peak device memory | "
        "weights uploaded | host link / inference | host wall | host RSS (compile / run) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.error:
            lines.append(f"| {r.model} | error: {r.error.replace('|', '/')} |" + " |" * 15)
            continue
        lines.append(
            f"| {r.model} | {r.aten_nodes} | {r.distinct_aten_ops} | {r.device_ops} ({r.folded}) | {r.host_ops} | "
            f"{r.pcc_fp32:.6f} | {r.max_abs_fp32:.2e} | {r.pcc_bf16:.6f} | {r.max_abs_bf16:.2e} | "
            f"{_seconds(r.compile_s)} | {r.latency_us:.1f} us | {r.latency_us / r.roofline_us:.2f} | "
            f"{_bytes(r.peak_device_bytes)} | {_bytes(r.weight_upload_bytes)} | {_bytes(r.host_link_bytes)} | "
            f"{_seconds(r.host_wall_s)} | {_bytes(r.compile_rss_bytes)} / {_bytes(r.run_rss_bytes)} |")
    lines.append("")
    if detections:
        lines += render_detection(detections)
    lines += ["## Device memory and time by op kind", ""]
    for r in rows:
        if r.picture:
            rel = os.path.relpath(r.picture, report_dir)
            lines += [f"### {r.model}", "", r.description, "", f"![{r.model}]({rel})", ""]
    return "\n".join(lines) + "\n"




def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compile", required=True, help="the compile tool (bazel-bin/tools/compile)")
    ap.add_argument("--run", required=True, help="the run tool (bazel-bin/tools/run)")
    ap.add_argument("--models", default="", help="comma-separated registry names (default: every model)")
    ap.add_argument("--out", help="the report (default docs/MODELS.md; under `bazel test`, the test's "
                    "undeclared outputs)")
    ap.add_argument("--pictures", help="folder for the PNGs (default: models/ beside the report; '' for none)")
    ap.add_argument("--detectors", help="comma-separated detectors run with their post-processing "
                    "(torch_frontend/detection.py; default: all of them when --models is not given)")
    ap.add_argument("--min-pcc", type=float, default=0.999, help="fp32 PCC below this is an error row")
    ap.add_argument("--repo", default=os.getcwd(), help="the checkout, for the commit in the report")
    args = ap.parse_args(argv)
    import torch
    from torch_frontend import models
    names = [m for m in args.models.split(",") if m] or [m for m in models.MODELS if m not in SKIP]
    unknown = [m for m in names if m not in models.MODELS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}; registered: {', '.join(models.MODELS)}")
    if args.out is None:
        outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        args.out = os.path.join(outputs, "MODELS.md") if outputs else "docs/MODELS.md"
    if args.pictures is None:
        args.pictures = os.path.join(os.path.dirname(args.out), "models")
    from torch_frontend import detection
    if args.detectors is None:
        args.detectors = "" if args.models else ",".join(detection.DETECTORS)
    detectors = [d for d in args.detectors.split(",") if d]
    unknown = [d for d in detectors if d not in detection.DETECTORS]
    if unknown:
        ap.error(f"unknown detector(s): {', '.join(unknown)}; known: {', '.join(detection.DETECTORS)}")
    tools = {"compile": os.path.abspath(args.compile), "run": os.path.abspath(args.run)}
    progress = Progress(len(names) + len(detectors))
    rows = []
    for i, name in enumerate(names):
        with tempfile.TemporaryDirectory(prefix=f"kiln_report_{name}_") as wd:
            rows.append(report_model(name, tools, wd, args.pictures or None, progress, i, args.min_pcc))
        r = rows[-1]
        print(f"model_report: [{i + 1}/{len(names)}] {name}: " +
              (f"ERROR {r.error}" if r.error else f"PCC {r.pcc_fp32:.6f}, {r.latency_us:.1f} us, "
               f"latency / roofline {r.latency_us / r.roofline_us:.2f}"), file=sys.stderr, flush=True)
    detection_rows = []
    for i, name in enumerate(detectors, start=len(names)):
        detection_rows.append(report_detector(name, progress, i))
        r = detection_rows[-1]
        print(f"model_report: [{i + 1}/{progress.total}] {name}: " + (f"ERROR {r.error}" if r.error else
              f"{r.match}; device {r.device_us:.1f} us, host {_seconds(r.host_wall_s)}"), file=sys.stderr,
              flush=True)
    meta = {"commit": git_commit(args.repo), "date": datetime.date.today().isoformat(),
            "torch": torch.__version__, "chip": "wormhole_n150 (target/configs/wormhole_n150.json)"}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    markdown = render_markdown(rows, meta, os.path.dirname(os.path.abspath(args.out)), detection_rows)
    with open(args.out, "w") as f:
        f.write(markdown)
    print(markdown.split("\n## ")[0])
    errors = sum(1 for r in [*rows, *detection_rows] if r.error)
    print(f"model_report: wrote {args.out} ({len(rows)} models, {len(detection_rows)} detectors, {errors} errors)",
          file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
