"""Tests for torch_frontend.compare (numpy only)."""

import io
import math
import os
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import numpy as np

from torch_frontend import compare
from torch_frontend.compare import allclose, max_abs_err, pcc


class PccTest(unittest.TestCase):
    def setUp(self) -> None:
        self.x = np.random.default_rng(0).standard_normal((3, 5, 7)).astype(np.float32)

    def test_linear_relations(self) -> None:
        self.assertAlmostEqual(pcc(self.x, 2 * self.x + 1), 1.0, places=12)
        self.assertAlmostEqual(pcc(self.x, -self.x), -1.0, places=12)
        self.assertEqual(pcc(self.x, self.x), 1.0)

    def test_known_value(self) -> None:
        a = np.array([1.0, 2.0, 3.0, 4.0])
        b = np.array([1.0, 3.0, 2.0, 4.0])
        self.assertAlmostEqual(pcc(a, b), 0.8, places=12)  # cov 1.0 / var 1.25
        self.assertAlmostEqual(pcc(a, b), float(np.corrcoef(a, b)[0, 1]), places=12)

    def test_returns_python_float_in_range(self) -> None:
        r = pcc(self.x, self.x + np.float32(1e-3) * np.ones_like(self.x) * self.x ** 2)
        self.assertIsInstance(r, float)
        self.assertLessEqual(r, 1.0)
        self.assertGreaterEqual(r, -1.0)

    def test_constant_edge_cases(self) -> None:
        c = np.full((4, 4), 0.1, dtype=np.float32)
        self.assertEqual(pcc(c, c.copy()), 1.0)
        self.assertEqual(pcc(np.zeros(5), np.zeros(5)), 1.0)
        self.assertEqual(pcc(c, c + 1), 0.0)          # both constant, not equal
        self.assertEqual(pcc(c, self.x[0, :4, :4]), 0.0)  # one constant
        self.assertEqual(pcc(self.x[0, :4, :4], c), 0.0)
        self.assertEqual(pcc(np.zeros((0, 3)), np.zeros((0, 3))), 1.0)

    def test_nan_and_inf(self) -> None:
        y = self.x.copy()
        y[1, 2, 3] = np.nan
        self.assertTrue(math.isnan(pcc(self.x, y)))
        self.assertTrue(math.isnan(pcc(y, self.x)))
        self.assertTrue(math.isnan(pcc(np.full(3, np.nan), np.full(3, np.nan))))
        y[1, 2, 3] = np.inf
        self.assertTrue(math.isnan(pcc(self.x, y)))

    def test_shape_mismatch_raises(self) -> None:
        with self.assertRaises(ValueError) as cm:
            pcc(np.zeros((2, 3)), np.zeros((3, 2)))
        self.assertIn("(2, 3)", str(cm.exception))
        self.assertIn("(3, 2)", str(cm.exception))
        # No broadcasting, even when numpy would allow it.
        with self.assertRaises(ValueError):
            pcc(np.zeros((1, 3)), np.zeros(3))

    def test_integer_and_mixed_dtypes(self) -> None:
        self.assertAlmostEqual(pcc(np.arange(10), np.arange(10, dtype=np.float16)), 1.0)


class ErrTest(unittest.TestCase):
    def test_max_abs_err(self) -> None:
        self.assertEqual(max_abs_err(np.array([1.0, 2.0]), np.array([1.5, 0.0])), 2.0)
        self.assertEqual(max_abs_err(np.zeros(0), np.zeros(0)), 0.0)
        self.assertTrue(math.isnan(max_abs_err(np.array([np.nan]), np.array([0.0]))))
        with self.assertRaises(ValueError):
            max_abs_err(np.zeros(2), np.zeros(3))

    def test_allclose(self) -> None:
        ref = np.array([1.0, 100.0])
        self.assertTrue(allclose(ref + [5e-5, 0.09], ref))        # atol, rtol respectively
        self.assertFalse(allclose(ref + [2e-3, 0.0], ref))
        self.assertTrue(allclose(ref + [2e-3, 0.0], ref, rtol=0, atol=1e-2))
        self.assertFalse(allclose(np.array([np.nan]), np.array([np.nan])))
        with self.assertRaises(ValueError):
            allclose(np.zeros((1, 2)), np.zeros(2))


class CliTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        rng = np.random.default_rng(1)
        self.ref = rng.standard_normal((2, 10)).astype(np.float32)
        self.paths = {}
        for name, arr in {"ref": self.ref,
                          "good": self.ref + np.float32(1e-6),
                          "bad": rng.standard_normal((2, 10)).astype(np.float32),
                          "short": self.ref[:1]}.items():
            self.paths[name] = os.path.join(self.tmp.name, name + ".npy")
            np.save(self.paths[name], arr)

    def run_cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = compare.main(list(argv))
        return rc, out.getvalue(), err.getvalue()

    def test_pass(self) -> None:
        rc, out, _ = self.run_cli("--ref", self.paths["ref"], "--out", self.paths["good"],
                                  "--latency-us", "42")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"output0: PCC=1\.000000 max_abs_err=\S+ "
                              r"allclose\(rtol=1e-3, atol=1e-4\)=True")
        self.assertIn("latency_us=42", out)

    def test_constant_reference_is_flagged(self) -> None:
        # A zero-initialised head makes every output 0: a match then says nothing about the device.
        zeros = os.path.join(self.tmp.name, "zeros.npy")
        np.save(zeros, np.zeros((2, 5), np.float32))
        rc, out, _ = self.run_cli("--ref", zeros, "--out", zeros)
        self.assertEqual(rc, 0)
        self.assertIn("warning: the reference is constant", out)
        rc, out, _ = self.run_cli("--ref", self.paths["ref"], "--out", self.paths["good"])
        self.assertNotIn("warning", out)

    def test_complex_outputs_compare_as_their_parts(self) -> None:
        z = (self.ref[0] + 1j * self.ref[1]).astype(np.complex64)
        paths = [os.path.join(self.tmp.name, n) for n in ("z.npy", "zc.npy")]
        np.save(paths[0], z)
        np.save(paths[1], np.conj(z))
        rc, out, _ = self.run_cli("--ref", paths[0], "--out", paths[0])
        self.assertEqual(rc, 0)
        self.assertIn("output0: PCC=1.000000", out)
        rc, _, err = self.run_cli("--ref", paths[0], "--out", paths[1])  # imaginary parts negated
        self.assertEqual(rc, 1)
        self.assertIn("min-pcc", err)
        self.assertEqual(compare.as_real(z).shape, (10, 2))

    def test_fail_low_pcc(self) -> None:
        rc, out, err = self.run_cli("--ref", self.paths["ref"], "--out", self.paths["bad"])
        self.assertEqual(rc, 1)
        self.assertIn("allclose(rtol=1e-3, atol=1e-4)=False", out)
        self.assertIn("min-pcc 0.999", err)

    def test_min_pcc_flag_and_multiple_outputs(self) -> None:
        rc, out, _ = self.run_cli("--ref", self.paths["ref"], self.paths["ref"],
                                  "--out", self.paths["good"], self.paths["bad"],
                                  "--min-pcc", "-1")
        self.assertEqual(rc, 0)
        self.assertIn("output0:", out)
        self.assertIn("output1:", out)

    def test_shape_mismatch_fails(self) -> None:
        rc, out, err = self.run_cli("--ref", self.paths["ref"], "--out", self.paths["short"])
        self.assertEqual(rc, 1)
        self.assertIn("shape mismatch", err)

    def test_integer_outputs_are_exact(self) -> None:
        ids = np.array([[3, 1, 4], [1, 5, 9]], dtype=np.int64)
        off_by_one = ids.copy()
        off_by_one[1, 2] = 8  # PCC still above 0.99
        for name, arr in {"ids": ids, "off": off_by_one, "asfloat": ids.astype(np.float32)}.items():
            self.paths[name] = os.path.join(self.tmp.name, name + ".npy")
            np.save(self.paths[name], arr)
        rc, out, _ = self.run_cli("--ref", self.paths["ids"], "--out", self.paths["ids"])
        self.assertEqual(rc, 0)
        self.assertIn("output0: int64 exact=True", out)
        rc, out, err = self.run_cli("--ref", self.paths["ids"], "--out", self.paths["off"])
        self.assertEqual(rc, 1)
        self.assertIn("exact=False (1 of 6 differ)", out)
        self.assertIn("output0: 1 of 6 int64 values differ", err)
        rc, _, err = self.run_cli("--ref", self.paths["ids"], "--out", self.paths["asfloat"])
        self.assertEqual(rc, 1)
        self.assertIn("output0: dtype float32, expected int64", err)

    def test_bfloat16_bits_load_as_float32(self) -> None:
        # bf16 1.0, -2.0 and 0.5: the high halves of the float32 bit patterns, saved as '<V2'
        # (what np.save writes for an ml_dtypes.bfloat16 array) and as NumPy's own '|V2'.
        bits = np.array([0x3F80, 0xC000, 0x3F00], dtype="<u2")
        for descr in ("<V2", "|V2"):
            path = os.path.join(self.tmp.name, "bf16.npy")
            np.save(path, bits.view(np.dtype(descr)))
            arr = compare.load(path)
            self.assertEqual(arr.dtype, np.float32)
            np.testing.assert_array_equal(arr, [1.0, -2.0, 0.5])
        rc, out, _ = self.run_cli("--ref", path, "--out", path)
        self.assertEqual(rc, 0)
        self.assertIn("PCC=1.000000", out)

    def test_missing_file_fails(self) -> None:
        rc, _, err = self.run_cli("--ref", self.paths["ref"], "--out", "/nonexistent/x.npy")
        self.assertEqual(rc, 1)
        self.assertIn("FAIL", err)


if __name__ == "__main__":
    unittest.main()
