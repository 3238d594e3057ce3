"""Detectors with their real post-processing: dense stages on Kiln's simulated device, the stages with
data-dependent shapes (top-k, NMS, RoIAlign) on the host in PyTorch, compared with the eager model.

    python -m torch_frontend.detect --model yolov8n|fasterrcnn     (the tool: torch_frontend/detect.py)

A detector is a `StagedModel`: a list of stages over named values. A device stage is an nn.Module with
static shapes, exported (torch.export, core ATen), compiled by Kiln and run on the simulator; a host
stage is plain PyTorch calling the model's own submodules and torchvision's / ultralytics' own
post-processing functions, so the reference is the unmodified eager model and the staged run differs
from it only in what the device computed. docs/DETECTION.md describes the two pipelines.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode


@dataclasses.dataclass
class Stage:
    """One step of a staged model: reads `inputs` from the value table, writes `outputs` to it.

    A device stage's `fn` is an nn.Module over tensors returning a tuple of tensors (compiled by
    `StagedModel.compile`); a host stage's `fn` is any callable over the values. Either returns a
    tensor or a tuple of values, one per output."""
    name: str
    device: bool
    fn: Callable
    inputs: Sequence[str]
    outputs: Sequence[str]


@dataclasses.dataclass
class RunReport:
    """What one staged run cost: simulated device time and host link bytes per device stage, host wall
    time per host stage and per host op (ATen and torchvision ops, by overload)."""
    device_us: dict = dataclasses.field(default_factory=dict)          # stage -> simulated us
    device_ops: dict = dataclasses.field(default_factory=dict)         # stage -> device ops in the program
    host_to_device_bytes: int = 0
    device_to_host_bytes: int = 0
    host_stage_s: dict = dataclasses.field(default_factory=dict)       # stage -> wall seconds
    host_op_s: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # op -> s
    host_op_calls: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    simulator_wall_s: float = 0.0                                      # the simulator's own run time

    @property
    def total_device_us(self) -> float:
        return sum(self.device_us.values())

    @property
    def total_host_s(self) -> float:
        return sum(self.host_stage_s.values())


class _Program:
    """A device stage's module exported and compiled by Kiln, callable on CPU tensors."""

    def __init__(self, name: str, module: nn.Module, example: Sequence[Tensor], device_dtype: str):
        from torch_frontend.export import export_pt2_bytes
        from torch_frontend.ext import kiln_ext

        self.graph = kiln_ext.compile(export_pt2_bytes(module, example), name=name, device_dtype=device_dtype)
        self.shapes = [tuple(t.shape) for t in example]
        self.name = name

    def __call__(self, tensors: Sequence[Tensor]) -> tuple[list[Tensor], dict]:
        shapes = [tuple(t.shape) for t in tensors]
        if shapes != self.shapes:  # the program has static shapes: say which stage and both shapes
            raise ValueError(f"device stage {self.name}: inputs of shapes {shapes}, but it was compiled "
                             f"for {self.shapes}")
        return self.graph.run([t.detach().contiguous() for t in tensors])


class StagedModel:
    """A detector as stages. `run_eager` runs every stage in PyTorch; after `compile(inputs)` (which
    traces each device stage with the values an eager run gives it), `run` runs the device stages on
    the simulated chip and reports the cost."""

    def __init__(self, name: str, inputs: Sequence[str], stages: Sequence[Stage], outputs: Sequence[str]):
        self.name, self.inputs, self.stages, self.outputs = name, list(inputs), list(stages), list(outputs)
        self.programs: dict[str, _Program] = {}
        produced = set(self.inputs)
        for s in self.stages:  # a stage may only read what the model's inputs or earlier stages wrote
            missing = [v for v in s.inputs if v not in produced]
            if missing:
                raise ValueError(f"{name}: stage {s.name} reads {', '.join(missing)}, which no earlier "
                                 "stage writes")
            produced.update(s.outputs)
        missing = [v for v in self.outputs if v not in produced]
        if missing:
            raise ValueError(f"{name}: outputs {', '.join(missing)} are written by no stage")

    @property
    def device_stages(self) -> list[Stage]:
        return [s for s in self.stages if s.device]

    def _execute(self, inputs: Sequence[Tensor], device_call, host_call) -> dict:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"{self.name}: takes {len(self.inputs)} input(s) ({', '.join(self.inputs)}), "
                             f"got {len(inputs)}")
        values = dict(zip(self.inputs, inputs))
        for s in self.stages:
            args = [values[v] for v in s.inputs]
            outs = device_call(s, args) if s.device else host_call(s, args)
            if len(outs) != len(s.outputs):
                raise ValueError(f"{self.name}: stage {s.name} returned {len(outs)} value(s), declares "
                                 f"{len(s.outputs)} ({', '.join(s.outputs)})")
            values.update(zip(s.outputs, outs))
        return values

    def run_eager(self, *inputs: Tensor, capture: dict | None = None) -> tuple:
        """Every stage in PyTorch; `capture` receives each device stage's input values."""
        def device(s: Stage, args):
            if capture is not None:
                capture[s.name] = [a.detach().clone() for a in args]
            return _as_tuple(s.fn(*args))

        with torch.no_grad():
            values = self._execute(inputs, device, lambda s, args: _as_tuple(s.fn(*args)))
        return tuple(values[v] for v in self.outputs)

    def compile(self, *inputs: Tensor, device_dtype: str = "f32") -> dict[str, float]:
        """Exports and compiles each device stage for the shapes `inputs` lead to; seconds per stage."""
        captured: dict[str, list[Tensor]] = {}
        self.run_eager(*inputs, capture=captured)
        seconds = {}
        for s in self.device_stages:
            t0 = time.perf_counter()
            self.programs[s.name] = _Program(f"{self.name}.{s.name}", s.fn, captured[s.name], device_dtype)
            seconds[s.name] = time.perf_counter() - t0
        return seconds

    def run(self, *inputs: Tensor, values: dict | None = None) -> tuple[tuple, RunReport]:
        """Device stages on the simulator, host stages in PyTorch, each op timed; `values` receives
        every named value of the run."""
        if len(self.programs) != len(self.device_stages):
            raise RuntimeError(f"{self.name}: compile() the device stages before run()")
        report = RunReport()

        def device(s: Stage, args):
            t0 = time.perf_counter()
            outs, st = self.programs[s.name](args)
            report.simulator_wall_s += time.perf_counter() - t0
            report.device_us[s.name] = st["latency_us"]
            report.device_ops[s.name] = st["ops_executed"]
            report.host_to_device_bytes += st["host_to_device_bytes"]
            report.device_to_host_bytes += st["device_to_host_bytes"]
            return tuple(outs)

        def host(s: Stage, args):
            t0 = time.perf_counter()
            with _HostOpTimer(report):
                outs = _as_tuple(s.fn(*args))
            report.host_stage_s[s.name] = time.perf_counter() - t0
            return outs

        with torch.no_grad():
            table = self._execute(inputs, device, host)
        if values is not None:
            values.update(table)
        return tuple(table[v] for v in self.outputs), report


def _as_tuple(result) -> tuple:
    return (result,) if isinstance(result, Tensor) else tuple(result)


class _HostOpTimer(TorchDispatchMode):
    """Times each op a host stage runs, by overload name as in an ATen graph (aten.topk.default,
    torchvision.nms.default). Ops a kernel calls inside do not reach the mode, so each is counted once."""

    def __init__(self, report: RunReport):
        super().__init__()
        self.report = report

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        t0 = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        name = str(func)
        self.report.host_op_s[name] += time.perf_counter() - t0
        self.report.host_op_calls[name] += 1
        return out


# --- matching detections -----------------------------------------------------------------------------

@dataclasses.dataclass
class Match:
    """Detections of the staged run against the eager model's, paired one to one by IoU."""
    reference: int = 0          # eager detections
    staged: int = 0             # staged-run detections
    matched: int = 0            # pairs with IoU >= the pairing threshold
    min_iou: float = 1.0        # over matched pairs
    max_score_diff: float = 0.0
    label_mismatches: int = 0

    @property
    def unmatched(self) -> int:
        return (self.reference - self.matched) + (self.staged - self.matched)

    def ok(self, min_iou: float = 0.99, max_score_diff: float = 1e-3) -> bool:
        return (self.reference > 0 and self.unmatched == 0 and self.label_mismatches == 0
                and self.min_iou >= min_iou and self.max_score_diff <= max_score_diff)

    def __str__(self) -> str:
        return (f"{self.matched} matched of {self.reference} eager / {self.staged} staged detections "
                f"({self.unmatched} unmatched), min IoU {self.min_iou:.6f} (deficit {1 - self.min_iou:.2e}), "
                f"max score diff {self.max_score_diff:.2e}, {self.label_mismatches} label mismatch(es)")


def match_detections(ref_boxes: Tensor, ref_scores: Tensor, ref_labels: Tensor, boxes: Tensor,
                     scores: Tensor, labels: Tensor, pair_iou: float = 0.5) -> Match:
    """Greedy one-to-one pairing, eager detections in descending score order, each with the free staged
    detection of highest IoU (any label, so a wrong label shows as a mismatch rather than a miss)."""
    from torchvision.ops import box_iou

    m = Match(reference=len(ref_boxes), staged=len(boxes))
    if not len(ref_boxes) or not len(boxes):
        return m
    iou = box_iou(ref_boxes.double(), boxes.double())
    free = torch.ones(len(boxes), dtype=torch.bool)
    for i in torch.argsort(ref_scores, descending=True, stable=True).tolist():
        cand = torch.where(free, iou[i], torch.full_like(iou[i], -1.0))
        best, j = cand.max(0)
        if best < pair_iou:
            continue
        free[j] = False
        m.matched += 1
        m.min_iou = min(m.min_iou, float(best))
        m.max_score_diff = max(m.max_score_diff, abs(float(ref_scores[i]) - float(scores[j])))
        m.label_mismatches += int(ref_labels[i] != labels[j])
    return m


# --- the detectors ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Detector:
    """A registered detector: its staged form and the unmodified eager model it must match, both
    returning (boxes [N, 4] xyxy in input pixels, scores [N], labels [N] int64)."""
    name: str
    staged: StagedModel
    eager: Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]
    input_shape: tuple[int, ...]
    notes: str

    def example_input(self, seed: int = 0) -> Tensor:
        from torch_frontend.models import image_inputs
        return image_inputs(self.input_shape)(torch.Generator().manual_seed(seed))[0]


# ultralytics' predictor defaults (ultralytics/cfg/default.yaml: conf 0.25, iou 0.7, max_det 300).
YOLO_CONF, YOLO_IOU, YOLO_MAX_DET = 0.25, 0.7, 300


def yolov8n(size: tuple[int, int] = (640, 640)) -> Detector:
    """YOLOv8n: the network on the device ([1, 84, anchors]: xywh boxes and 80 sigmoid class scores),
    ultralytics' own non_max_suppression on the host with its predictor's thresholds."""
    import torchvision  # noqa: F401  non_max_suppression calls torchvision.ops.nms only once it is imported
    from torch_frontend import models
    from ultralytics.utils.nms import non_max_suppression

    network = models.get("yolov8n").build()  # the zoo's entry: the DetectionModel, batch norms calibrated

    def nms(prediction: Tensor):
        det = non_max_suppression(prediction, YOLO_CONF, YOLO_IOU, max_det=YOLO_MAX_DET)[0]
        return det[:, :4], det[:, 4], det[:, 5].long()

    staged = StagedModel("yolov8n", ["image"], [
        Stage("network", True, network, ["image"], ["prediction"]),
        Stage("nms", False, nms, ["prediction"], ["boxes", "scores", "labels"]),
    ], ["boxes", "scores", "labels"])

    def eager(image: Tensor):
        with torch.no_grad():
            return nms(network.model(image)[0])

    return Detector("yolov8n", staged, eager, (1, 3, *size),
                    f"ultralytics DetectionModel(yolov8n.yaml), NMS conf {YOLO_CONF}, iou {YOLO_IOU}, "
                    f"max_det {YOLO_MAX_DET}")


class _RcnnDense(nn.Module):
    """Faster R-CNN's dense front: GeneralizedRCNNTransform (normalise, resize, pad to a multiple of
    32), backbone + FPN, and the RPN head on every level. Out: the FPN levels, then the objectness and
    box-delta maps per level, as a flat tuple (static shapes for one input size)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        batch, _ = self.model.transform(list(images))
        features = list(self.model.backbone(batch.tensors).values())
        objectness, deltas = self.model.rpn.head(features)
        return (*features, *objectness, *deltas)


class _BoxHead(nn.Module):
    """The RoI heads' dense part: TwoMLPHead (flatten, fc6, fc7) and FastRCNNPredictor, per RoI."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.head, self.predictor = model.roi_heads.box_head, model.roi_heads.box_predictor

    def forward(self, roi_features: Tensor) -> tuple[Tensor, Tensor]:
        return self.predictor(self.head(roi_features))


# The box classifier's weight scale for seeded random weights (see calibrate_box_classifier).
FASTERRCNN_CLASSIFIER_STD = 0.5


def calibrate_box_classifier(model: nn.Module, std: float = FASTERRCNN_CLASSIFIER_STD) -> nn.Module:
    """Redraws the box predictor's class weights with a larger spread (seeded). torchvision's default
    initialisation gives 91 class logits within ~0.3 of each other, so every softmax score is ~0.011,
    below the 0.05 score threshold: the eager model detects nothing, and any device output would pass.
    Spread logits give confident classes, as in a trained head, and tens of detections to compare."""
    gen = torch.Generator().manual_seed(4321)
    w = model.roi_heads.box_predictor.cls_score.weight
    with torch.no_grad():
        w.copy_(torch.randn(w.shape, generator=gen) * std)
    return model


def fasterrcnn(min_size: int = 800, size: tuple[int, int] = (240, 320)) -> Detector:
    """fasterrcnn_mobilenet_v3_large_fpn in eval mode with torchvision's post-processing on the host;
    an input image of `size` (height, width), resized by the model's transform to `min_size`
    (torchvision's default 800; smaller is faster).

    Device: transform + backbone + FPN + RPN head; then the box head + predictor over the RPN's
    post_nms_top_n RoIs (RoIAlign's output zero-padded to that count; rows are independent, so the
    padding's rows are dropped after and change nothing). Host: anchors, box decoding, the RPN's
    filter_proposals (per-level top-k, clip, small-box removal, score threshold, NMS),
    MultiScaleRoIAlign (torchvision::roi_align has no device lowering), postprocess_detections
    (softmax, decode, score threshold, per-class NMS, top detections) and transform.postprocess (boxes
    back to the input image's size)."""
    from torch_frontend import models
    from torchvision.models.detection.image_list import ImageList
    from torchvision.models.detection.rpn import concat_box_prediction_layers

    torch.manual_seed(0)
    model = calibrate_box_classifier(models.fasterrcnn_detector(min_size=min_size))
    shape = (1, 3, *size)
    with torch.no_grad():  # the resized size and the FPN's levels follow from the input's shape alone
        batch, _ = model.transform([torch.zeros(shape[1:])])
        levels = list(model.backbone(batch.tensors).keys())
    image_sizes, batched_shape = batch.image_sizes, tuple(batch.tensors.shape)
    original_sizes = [tuple(shape[-2:])]
    n = len(levels)
    feats = [f"feature_{k}" for k in levels]
    objs, dels = [f"objectness_{k}" for k in levels], [f"deltas_{k}" for k in levels]
    rois = model.rpn.post_nms_top_n()

    def proposals(*maps):
        features, objectness, deltas = maps[:n], maps[n:2 * n], maps[2 * n:]
        # RegionProposalNetwork.forward after its head, step for step; the anchors need only shapes.
        anchors = model.rpn.anchor_generator(ImageList(torch.empty(batched_shape), image_sizes), list(features))
        per_level = [o[0].numel() for o in objectness]
        objectness, deltas = concat_box_prediction_layers(list(objectness), list(deltas))
        boxes = model.rpn.box_coder.decode(deltas.detach(), anchors).view(1, -1, 4)
        kept, _ = model.rpn.filter_proposals(boxes, objectness, image_sizes, per_level)
        return (kept[0],)

    def roi_align(proposal_boxes, *features):
        pooled = model.roi_heads.box_roi_pool(dict(zip(levels, features)), [proposal_boxes], image_sizes)
        return (torch.cat([pooled, pooled.new_zeros((rois - len(pooled), *pooled.shape[1:]))]),)

    def detections(class_logits, box_regression, proposal_boxes):
        k = len(proposal_boxes)  # the RoIs that are not padding
        boxes, scores, labels = model.roi_heads.postprocess_detections(
            class_logits[:k], box_regression[:k], [proposal_boxes], image_sizes)
        result = model.transform.postprocess([{"boxes": boxes[0], "scores": scores[0], "labels": labels[0]}],
                                             image_sizes, original_sizes)[0]
        return result["boxes"], result["scores"], result["labels"]

    staged = StagedModel("fasterrcnn", ["image"], [
        Stage("backbone_rpn_head", True, _RcnnDense(model), ["image"], feats + objs + dels),
        Stage("proposals", False, proposals, feats + objs + dels, ["proposals"]),
        Stage("roi_align", False, roi_align, ["proposals"] + feats, ["roi_features"]),
        Stage("box_head", True, _BoxHead(model), ["roi_features"], ["class_logits", "box_regression"]),
        Stage("detections", False, detections, ["class_logits", "box_regression", "proposals"],
              ["boxes", "scores", "labels"]),
    ], ["boxes", "scores", "labels"])

    def eager(images: Tensor):
        with torch.no_grad():
            d = model(list(images))[0]
        return d["boxes"], d["scores"], d["labels"]

    return Detector("fasterrcnn", staged, eager, shape,
                    f"torchvision fasterrcnn_mobilenet_v3_large_fpn, min_size {min_size}, {rois} RoIs, box "
                    f"classifier weights std {FASTERRCNN_CLASSIFIER_STD}")


DETECTORS: dict[str, Callable[..., Detector]] = {"yolov8n": yolov8n, "fasterrcnn": fasterrcnn}
