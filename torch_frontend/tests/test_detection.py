"""Tests for torch_frontend.detection's staging, host-op timing and detection matching (no device:
the detectors on the simulator are torch_frontend/detection_tests)."""

import unittest

import torch

from torch_frontend import detection
from torch_frontend.detection import Stage, StagedModel

BOXES = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 30.0], [5.0, 50.0, 25.0, 90.0]])
SCORES = torch.tensor([0.9, 0.5, 0.7])
LABELS = torch.tensor([1, 2, 3])


class MatchTest(unittest.TestCase):
    def test_identical_detections_in_another_order(self) -> None:
        order = torch.tensor([2, 0, 1])
        m = detection.match_detections(BOXES, SCORES, LABELS, BOXES[order], SCORES[order], LABELS[order])
        self.assertEqual((m.reference, m.staged, m.matched, m.unmatched, m.label_mismatches), (3, 3, 3, 0, 0))
        self.assertEqual((m.min_iou, m.max_score_diff), (1.0, 0.0))
        self.assertTrue(m.ok())

    def test_shifted_box_wrong_label_and_score_each_fail(self) -> None:
        shifted = BOXES.clone()
        shifted[1] += torch.tensor([0.5, 0.0, 0.5, 0.0])  # 20 px wide: IoU 19.5 / 20.5
        m = detection.match_detections(BOXES, SCORES, LABELS, shifted, SCORES, LABELS)
        self.assertAlmostEqual(m.min_iou, 19.5 / 20.5, places=6)
        self.assertFalse(m.ok())
        self.assertIn("min IoU 0.951220 (deficit 4.88e-02)", str(m))

        m = detection.match_detections(BOXES, SCORES, LABELS, BOXES, SCORES, torch.tensor([1, 5, 3]))
        self.assertEqual(m.label_mismatches, 1)
        self.assertFalse(m.ok())

        m = detection.match_detections(BOXES, SCORES, LABELS, BOXES, SCORES + torch.tensor([0, 2e-3, 0]), LABELS)
        self.assertAlmostEqual(m.max_score_diff, 2e-3, places=6)
        self.assertFalse(m.ok())
        self.assertTrue(m.ok(max_score_diff=3e-3))

    def test_missing_and_extra_detections_are_unmatched(self) -> None:
        m = detection.match_detections(BOXES, SCORES, LABELS, BOXES[:2], SCORES[:2], LABELS[:2])
        self.assertEqual((m.matched, m.unmatched), (2, 1))
        self.assertFalse(m.ok())
        far = torch.tensor([[100.0, 100.0, 110.0, 110.0]])
        m = detection.match_detections(BOXES[:1], SCORES[:1], LABELS[:1], far, SCORES[:1], LABELS[:1])
        self.assertEqual((m.matched, m.unmatched), (0, 2))
        self.assertIn("0 matched of 1 eager / 1 staged detections (2 unmatched)", str(m))

    def test_nothing_detected_is_not_a_pass(self) -> None:
        empty = torch.zeros((0, 4))
        m = detection.match_detections(empty, empty[:, 0], LABELS[:0], empty, empty[:, 0], LABELS[:0])
        self.assertFalse(m.ok())  # a comparison of nothing proves nothing

    def test_one_box_each_pairs_once(self) -> None:
        # Two eager detections on the same box: only one may take the single staged detection.
        m = detection.match_detections(BOXES[[0, 0]], SCORES[[0, 1]], LABELS[[0, 0]], BOXES[:1], SCORES[:1],
                                       LABELS[:1])
        self.assertEqual((m.matched, m.unmatched, m.max_score_diff), (1, 1, 0.0))


class DetectToolTest(unittest.TestCase):
    def test_size_and_option_errors(self) -> None:
        import contextlib
        import io

        from torch_frontend import detect
        self.assertEqual(detect._size("320"), (320, 320))
        self.assertEqual(detect._size("240,320"), (240, 320))
        for bad in ("0", "a,b", "1,2,3", "-5,4"):
            with self.assertRaisesRegex(Exception, "expected H,W or N"):
                detect._size(bad)
        err = io.StringIO()
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(err):
            detect.main(["--model", "yolov8n", "--min-size", "320"])
        self.assertIn("--min-size applies to fasterrcnn only", err.getvalue())
        with self.assertRaisesRegex(KeyError, "unknown detector 'ssd'; known: yolov8n, fasterrcnn"):
            detect.run("ssd")


class StagedModelTest(unittest.TestCase):
    def test_a_stage_reading_an_unwritten_value_is_rejected(self) -> None:
        with self.assertRaisesRegex(ValueError, "toy: stage post reads scores, which no earlier stage writes"):
            StagedModel("toy", ["x"], [Stage("post", False, lambda s: s, ["scores"], ["y"])], ["y"])
        with self.assertRaisesRegex(ValueError, "toy: outputs z are written by no stage"):
            StagedModel("toy", ["x"], [Stage("post", False, lambda x: x, ["x"], ["y"])], ["z"])

    def test_host_ops_are_timed_by_overload(self) -> None:
        def top2(x):
            return x.topk(2).values, torch.ops.torchvision.nms(x[:, None].repeat(1, 4) * torch.tensor(
                [0.0, 0.0, 1.0, 1.0]), x, 0.5)

        import torchvision  # noqa: F401  registers torchvision::nms
        model = StagedModel("toy", ["x"], [Stage("post", False, top2, ["x"], ["top", "keep"])], ["top", "keep"])
        x = torch.tensor([0.3, 0.9, 0.1, 0.5])
        top, keep = model.run_eager(x)
        self.assertEqual(top.tolist(), [0.8999999761581421, 0.5])
        # run() needs no compile when there is no device stage; every op is timed once, by overload.
        (top, keep), report = model.run(x)
        self.assertEqual(top.tolist(), [0.8999999761581421, 0.5])
        self.assertEqual(report.host_op_calls["aten.topk.default"], 1)
        self.assertEqual(report.host_op_calls["torchvision.nms.default"], 1)
        self.assertGreater(report.host_op_s["torchvision.nms.default"], 0.0)
        self.assertEqual(list(report.host_stage_s), ["post"])
        self.assertEqual((report.total_device_us, report.host_to_device_bytes), (0.0, 0))

    def test_wrong_arity_names_the_stage(self) -> None:
        model = StagedModel("toy", ["x"], [Stage("post", False, lambda x: (x, x), ["x"], ["y"])], ["y"])
        with self.assertRaisesRegex(ValueError, r"toy: stage post returned 2 value\(s\), declares 1 \(y\)"):
            model.run_eager(torch.zeros(1))
        with self.assertRaisesRegex(ValueError, r"toy: takes 1 input\(s\) \(x\), got 2"):
            model.run_eager(torch.zeros(1), torch.zeros(1))

    def test_run_before_compile_is_an_error(self) -> None:
        model = StagedModel("toy", ["x"], [Stage("net", True, torch.nn.ReLU(), ["x"], ["y"])], ["y"])
        with self.assertRaisesRegex(RuntimeError, r"toy: compile\(\) the device stages before run\(\)"):
            model.run(torch.zeros(1))


if __name__ == "__main__":
    unittest.main()
