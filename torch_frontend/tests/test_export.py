"""Tests for torch_frontend.models and torch_frontend.export (resnet18 is build-only)."""

import io
import json
import os
import tempfile
import unittest
import unittest.mock
from contextlib import redirect_stdout

import numpy as np
import torch

from torch_frontend import export, models

FAST_MODELS = ("mlp", "small_cnn", "unsupported_op")

EXPECTED_OPS = {
    "mlp": {"aten.addmm.default", "aten.relu.default", "aten._softmax.default"},
    "small_cnn": {"aten.convolution.default",
                  "aten._native_batch_norm_legit_no_training.default",
                  "aten.relu.default", "aten.max_pool2d_with_indices.default",
                  "aten.avg_pool2d.default", "aten.addmm.default"},
    "unsupported_op": {models.UNSUPPORTED_OP_TARGET},
}


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class ModelsTest(unittest.TestCase):
    def test_registry(self) -> None:
        for name in (*FAST_MODELS, "resnet18"):
            self.assertIn(name, models.MODELS)
        with self.assertRaises(KeyError):
            models.get("no_such_model")

    def test_build_is_seeded_and_eval(self) -> None:
        for name in FAST_MODELS:
            spec = models.get(name)
            a, b = spec.build(), spec.build()
            self.assertFalse(a.training)
            for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
                self.assertEqual(ka, kb)
                self.assertTrue(torch.equal(va, vb), f"{name}.{ka} not reproducible")

    def test_inputs_seeded(self) -> None:
        spec = models.get("mlp")
        self.assertTrue(torch.equal(spec.example_inputs(0)[0], spec.example_inputs(0)[0]))
        self.assertFalse(torch.equal(spec.example_inputs(0)[0], spec.example_inputs(1)[0]))
        self.assertEqual(tuple(spec.example_inputs()[0].shape), (4, 64))

    def test_batched_inputs_join_samples_along_the_batch_dim(self) -> None:
        spec = models.get("resnet18")  # one [1, 3, 224, 224] image per sample (inputs only: no build)
        one = spec.example_inputs(5)[0]
        batch = export.batched_inputs(spec, 5, 3)[0]
        self.assertEqual(batch.shape[0], 3)
        self.assertTrue(torch.equal(batch[:1], one))
        self.assertTrue(torch.equal(batch[1:2], spec.example_inputs(6)[0]))
        with self.assertRaisesRegex(ValueError, r"small_cnn: input 0 has shape \[2, 3, 32, 32\], not a leading "
                                                r"batch dimension of 1"):
            export.batched_inputs(models.get("small_cnn"), 0, 2)
        with self.assertRaisesRegex(ValueError, "batch must be >= 1, got 0"):
            export.batched_inputs(spec, 0, 0)

    def test_small_cnn_batchnorm_is_nontrivial(self) -> None:
        bn = models.get("small_cnn").build()[1]
        self.assertIsInstance(bn, torch.nn.BatchNorm2d)
        self.assertGreater(bn.running_mean.abs().min().item(), 0.0)
        self.assertGreater((bn.running_var - 1).abs().max().item(), 0.1)

    def test_resnet18_builds(self) -> None:
        spec = models.get("resnet18")
        model = spec.build()
        self.assertFalse(model.training)
        self.assertEqual(tuple(spec.example_inputs()[0].shape), (1, 3, 224, 224))


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls._tmp = tempfile.TemporaryDirectory()
        cls.out = cls._tmp.name
        cls.manifests = {name: export.export_model(name, cls.out) for name in FAST_MODELS}

    @classmethod
    def tearDownClass(cls) -> None:
        cls._tmp.cleanup()

    def path(self, name: str, suffix: str) -> str:
        return os.path.join(self.out, name + suffix)

    def test_files_and_manifest(self) -> None:
        for name, m in self.manifests.items():
            with open(self.path(name, ".json")) as f:
                on_disk = json.load(f)
            self.assertEqual(on_disk, m)
            self.assertEqual(m["model"], name)
            self.assertEqual(m["pt2"], name + ".pt2")
            self.assertEqual(m["torch_version"], torch.__version__)
            self.assertEqual([e["file"] for e in m["inputs"]], [name + ".input0.npy"])
            self.assertEqual([e["file"] for e in m["outputs"]], [name + ".ref0.npy"])
            inputs = models.get(name).example_inputs(0)
            for e, t in zip(m["inputs"], inputs):
                arr = np.load(os.path.join(self.out, e["file"]))
                self.assertEqual(e["shape"], list(t.shape))
                self.assertEqual(e["dtype"], "float32")
                self.assertEqual(arr.dtype, np.float32)
                self.assertTrue(arr.flags["C_CONTIGUOUS"])
                np.testing.assert_array_equal(arr, t.numpy())
            for e in m["outputs"]:
                arr = np.load(os.path.join(self.out, e["file"]))
                self.assertEqual(list(arr.shape), e["shape"])
                self.assertEqual(e["dtype"], "float32")
        self.assertEqual(self.manifests["mlp"]["outputs"][0]["shape"], [4, 10])
        self.assertEqual(self.manifests["small_cnn"]["outputs"][0]["shape"], [2, 10])

    def test_tensors_keep_their_dtype(self) -> None:
        # float16/float64 stay themselves; bfloat16 is saved as its bits under '<V2' (tools/npy.h).
        t = torch.tensor([1.0, -2.0, 0.5])
        self.assertEqual(export._to_numpy(t.half()).dtype, np.float16)
        self.assertEqual(export._to_numpy(t.double()).dtype, np.float64)
        bf = export._to_numpy(t.bfloat16())
        self.assertEqual((bf.dtype.kind, bf.dtype.itemsize), ("V", 2))
        np.testing.assert_array_equal(bf.view("<u2"), [0x3F80, 0xC000, 0x3F00])
        self.assertEqual(export._to_numpy(t.long()).dtype, np.int64)

    def test_pt2_loads_and_contains_expected_ops(self) -> None:
        for name, expected in EXPECTED_OPS.items():
            ep = torch.export.load(self.path(name, ".pt2"))
            ops = set(export.aten_ops(ep))
            self.assertLessEqual(expected, ops, f"{name}: missing {expected - ops}")
            self.assertEqual(sorted(ops), self.manifests[name]["aten_ops"])

    def test_decomposed_to_core_aten(self) -> None:
        for name in FAST_MODELS:
            ops = set(export.aten_ops(torch.export.load(self.path(name, ".pt2"))))
            # Non-core ops that run_decompositions() should have removed.
            for op in ("aten.linear.default", "aten.conv2d.default",
                       "aten.batch_norm.default", "aten.softmax.int"):
                self.assertNotIn(op, ops, name)

    def test_refs_match_loaded_program(self) -> None:
        for name, m in self.manifests.items():
            ep = torch.export.load(self.path(name, ".pt2"))
            inputs = tuple(torch.from_numpy(np.load(os.path.join(self.out, e["file"])))
                           for e in m["inputs"])
            with torch.no_grad():
                got = ep.module()(*inputs)
            ref = np.load(os.path.join(self.out, m["outputs"][0]["file"]))
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-6, err_msg=name)

    def test_mlp_ref_is_softmax(self) -> None:
        ref = np.load(self.path("mlp", ".ref0.npy"))
        np.testing.assert_allclose(ref.sum(-1), np.ones(4), rtol=1e-5)

    def test_reexport_is_deterministic(self) -> None:
        with tempfile.TemporaryDirectory() as other:
            for name in ("mlp", "small_cnn"):
                m2 = export.export_model(name, other)
                self.assertEqual(m2, self.manifests[name])
                for e in m2["inputs"] + m2["outputs"]:
                    self.assertEqual(_read_bytes(os.path.join(other, e["file"])),
                                     _read_bytes(os.path.join(self.out, e["file"])), e["file"])

    def test_cli_explicit_paths(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            pt2, inp, ref = (os.path.join(d, "sub", f) for f in ("m.pt2", "in.npy", "ref.npy"))
            buf = io.StringIO()
            with redirect_stdout(buf):
                rc = export.main(["--model", "mlp", "--pt2", pt2, "--inputs", inp, "--refs", ref])
            self.assertEqual(rc, 0)
            for p in (pt2, inp, ref):
                self.assertTrue(os.path.isfile(p), p)
                self.assertIn(p, buf.getvalue())
            self.assertEqual(_read_bytes(ref), _read_bytes(self.path("mlp", ".ref0.npy")))

    def test_cli_wrong_path_count(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with redirect_stdout(io.StringIO()), \
                    unittest.mock.patch("sys.stderr", new_callable=io.StringIO) as err:
                rc = export.main(["--model", "mlp", "--pt2", os.path.join(d, "m.pt2"),
                                  "--inputs", os.path.join(d, "a.npy"), os.path.join(d, "b.npy"),
                                  "--refs", os.path.join(d, "r.npy")])
            self.assertEqual(rc, 2)
            self.assertIn("1 input(s)", err.getvalue())

    def test_cli_list(self) -> None:
        buf = io.StringIO()
        with redirect_stdout(buf):
            self.assertEqual(export.main(["--list"]), 0)
        for name in (*FAST_MODELS, "resnet18"):
            self.assertIn(name, buf.getvalue())



class RedrawZeroWeightsTest(unittest.TestCase):
    def test_only_all_zero_weight_matrices_are_redrawn(self) -> None:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
        with torch.no_grad():
            model[1].weight.zero_()
            model[1].bias.zero_()
        kept = model[0].weight.clone()
        models.redraw_zero_weights(model)
        self.assertTrue(model[1].weight.any())           # the zero head is redrawn
        self.assertFalse(model[1].bias.any())            # biases (rank 1) stay as they are
        self.assertTrue(torch.equal(model[0].weight, kept))  # non-zero weights are untouched


if __name__ == "__main__":
    unittest.main()
