"""YOLOv8n and Faster R-CNN with their real post-processing: dense stages compiled by Kiln and run on
the simulated chip, NMS / top-k / RoIAlign on the host, against the eager models (python -m
torch_frontend.detect prints the same figures)."""

import unittest

import torch

from torch_frontend import detect


class DetectorsTest(unittest.TestCase):
    def check(self, result: detect.Result, min_detections: int) -> str:
        text = detect.render(result)
        print(text, flush=True)
        m = result.match
        self.assertGreaterEqual(m.reference, min_detections, text)
        self.assertEqual((m.matched, m.unmatched, m.label_mismatches), (m.reference, 0, 0), text)
        self.assertGreaterEqual(m.min_iou, detect.MIN_IOU, text)
        self.assertLessEqual(m.max_score_diff, detect.MAX_SCORE_DIFF, text)
        self.assertTrue(result.ok)
        self.assertIn("criteria (IoU >= 0.99, same label, score diff <= 0.001, none unmatched): PASS", text)
        rep = result.report
        for stage in result.detector.staged.device_stages:
            self.assertGreater(rep.device_us[stage.name], 0.0, stage.name)
        self.assertGreater(rep.host_to_device_bytes, 0)
        self.assertGreater(rep.device_to_host_bytes, 0)
        return text

    def test_yolov8n(self) -> None:
        result = detect.run("yolov8n", size=(320, 320))
        self.check(result, min_detections=20)
        self.assertEqual(list(result.report.device_us), ["network"])
        self.assertEqual(list(result.report.host_stage_s), ["nms"])
        self.assertEqual(result.report.host_op_calls["torchvision.nms.default"], 1)
        # The image crosses to the device, the [1, 84, 2100] prediction back.
        self.assertEqual(result.report.host_to_device_bytes, 3 * 320 * 320 * 4)
        self.assertEqual(result.report.device_to_host_bytes, 84 * 2100 * 4)
        # The program has static shapes: another image size is an error naming the stage and both shapes.
        from torch_frontend.models import image_inputs
        other = image_inputs((1, 3, 256, 320))(torch.Generator().manual_seed(0))[0]
        with self.assertRaisesRegex(ValueError, r"device stage yolov8n.network: inputs of shapes "
                                    r"\[\(1, 3, 256, 320\)\], but it was compiled for \[\(1, 3, 320, 320\)\]"):
            result.detector.staged.run(other)

    def test_fasterrcnn(self) -> None:
        # min_size 160: 636 proposals survive the RPN's NMS, so the box head's 1000 rows carry padding.
        result = detect.run("fasterrcnn", min_size=160)
        text = self.check(result, min_detections=20)
        proposals, logits = result.values["proposals"], result.values["class_logits"]
        self.assertLess(len(proposals), 1000)
        self.assertEqual(tuple(logits.shape), (1000, 91))
        # The costliest host op (by far, but wall times are noisy: among the listed ones), and why.
        self.assertRegex(text, r"\n    torchvision.roi_align.default x\d+: [\d.]+ ms \(no device rule\)\n")
        rep = result.report
        self.assertEqual(list(rep.device_us), ["backbone_rpn_head", "box_head"])
        self.assertEqual(list(rep.host_stage_s), ["proposals", "roi_align", "detections"])
        ops = rep.host_op_calls
        # The RPN's per-level top-k; NMS in the RPN and per class after the box head (batched_nms on
        # the CPU runs one NMS per level / class present beyond 1000 boxes); RoIAlign per FPN level
        # the RoIs map to.
        self.assertGreaterEqual(ops["torchvision.nms.default"], 2)
        self.assertGreaterEqual(ops["aten.topk.default"], 2)
        self.assertGreaterEqual(ops["torchvision.roi_align.default"], 1)


if __name__ == "__main__":
    unittest.main()
