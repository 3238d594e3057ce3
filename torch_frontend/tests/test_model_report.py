"""Tests for torch_frontend.model_report's parsing and rendering (no torch, no tools)."""

import unittest

from torch_frontend import model_report
from torch_frontend.model_report import Row


class ModelReportTest(unittest.TestCase):
    def test_compile_summary(self) -> None:
        text = ("compiled a.pt2 -> a.kiln (100 bytes) for chip wormhole_n150\nATen nodes:        70\n"
                "device ops:        69 (1 folded into constants)\n  add: 8\ntransfers:         2\n")
        self.assertEqual(model_report.parse_compile_summary(text),
                         {"aten_nodes": 70, "device_ops": 69, "folded": 1})
        self.assertEqual(model_report.parse_compile_summary("ATen nodes: 3\ndevice ops: 3\n")["folded"], 0)
        with self.assertRaisesRegex(RuntimeError, "no 'ATen nodes'"):
            model_report.parse_compile_summary("compiled\n")

    def test_markdown_rows_and_pictures(self) -> None:
        ok = Row("resnet18", "ResNet-18", aten_nodes=70, distinct_aten_ops=9, device_ops=69, folded=1,
                 pcc_fp32=1.0, max_abs_fp32=2.3e-6, pcc_bf16=0.9991, max_abs_bf16=0.05, compile_s=0.21,
                 latency_us=577.9, roofline_us=198.8, peak_device_bytes=55234240,
                 weight_upload_bytes=46845600, host_link_bytes=606112, host_wall_s=1.5,
                 compile_rss_bytes=140 * 2**20, run_rss_bytes=250 * 2**20,
                 picture="/r/docs/models/resnet18.png")
        bad = Row("bert", error="RuntimeError: compile: unsupported ATen op: aten.foo.default | x")
        md = model_report.render_markdown([ok, bad], {"commit": "abc1234", "date": "2026-11-26",
                                                      "torch": "2.14.1", "chip": "wormhole_n150"}, "/r/docs")
        self.assertIn("Commit abc1234, 2026-11-26, torch 2.14.1, chip wormhole_n150", md)
        self.assertIn("| resnet18 | 70 | 9 | 69 (1) | 0 | 1.000000 | 2.30e-06 | 0.999100 | 5.00e-02 | 210 ms | "
                      "577.9 us | 2.91 | 52.7 MiB | 44.7 MiB | 591.9 KiB | 1.50 s | 140.0 MiB / 250.0 MiB |", md)
        self.assertIn("| bert | error: RuntimeError: compile: unsupported ATen op: aten.foo.default / x |" + " |" * 15,
                      md)
        self.assertIn("![resnet18](models/resnet18.png)", md)
        self.assertNotIn("![bert]", md)

    def test_detection_section_lists_host_ops(self) -> None:
        ok = model_report.DetectionRow(
            "yolov8n", match="226 matched of 226 eager / 226 staged detections (0 unmatched)", passed=True,
            device_us=2924.1, device_stages="network 2924.1 us", host_wall_s=0.0123, host_stages="nms 12 ms",
            host_ops=[("aten.amax.default", 1, 0.005), ("torchvision.nms.default", 1, 0.004),
                      ("aten.index.Tensor", 3, 0.002), ("aten.gt.Scalar", 2, 0.001)],
            host_link_bytes=7737600)
        bad = model_report.DetectionRow("fasterrcnn", error="KilnError: compile: unsupported ATen op | x")
        md = model_report.render_markdown([], {"commit": "abc1234", "date": "2026-11-26", "torch": "2.14.1",
                                               "chip": "wormhole_n150"}, "/r/docs", [ok, bad])
        self.assertIn("## Detection with post-processing", md)
        self.assertIn("| yolov8n | PASS: 226 matched of 226 eager / 226 staged detections (0 unmatched) | "
                      "2924.1 us (network 2924.1 us) | 12.3 ms (nms 12 ms) | aten.amax.default x1 5.0 ms; "
                      "torchvision.nms.default x1 4.0 ms; aten.index.Tensor x3 2.0 ms; aten.gt.Scalar x2 1.0 ms | "
                      "7.4 MiB |", md)
        self.assertIn("| fasterrcnn | error: KilnError: compile: unsupported ATen op / x | | | | |", md)
        lines = model_report.render_detection([ok], top_ops=2)
        self.assertIn("aten.amax.default x1 5.0 ms; torchvision.nms.default x1 4.0 ms; 2 more 3.0 ms |", lines[-2])

    def test_picture_is_a_png(self) -> None:
        import os
        import tempfile
        stats = {"latency_us": 10.0, "regions": [{"name": "activations", "bytes": 4096},
                                                  {"name": "constants", "bytes": 8192}],
                 "instructions": [{"op": "host->device", "start_us": 0.0, "us": 4.0, "live_activation_bytes": 1024},
                                  {"op": "relu", "start_us": 4.0, "us": 2.0, "live_activation_bytes": 2048},
                                  {"op": "device->host", "start_us": 6.0, "us": 4.0, "live_activation_bytes": 1024}]}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.png")
            model_report.picture(path, "m", stats)
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_tool_reports_its_child_peak_rss_and_failures(self) -> None:
        import sys
        ballast = bytearray(256 << 20)  # this process is large; the child's figure must be its own
        ballast[::4096] = b"x" * len(ballast[::4096])
        out, seconds, rss = model_report._tool([sys.executable, "-c", "b = bytearray(64 << 20); print('ok')"])
        del ballast
        self.assertEqual(out, "ok\n")
        self.assertGreater(rss, 64 << 20)
        self.assertLess(rss, 200 << 20)
        with self.assertRaisesRegex(RuntimeError, "bad input"):
            model_report._tool([sys.executable, "-c", "import sys; sys.exit('error: bad input')"])


if __name__ == "__main__":
    unittest.main()
