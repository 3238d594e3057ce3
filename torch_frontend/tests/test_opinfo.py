"""Tests for torch_frontend.opinfo's comparison and report (numpy only; the sweep itself runs in
//tools:opinfo_fast_test, against torch_frontend/opinfo_expected.txt)."""

import unittest

import numpy as np

from torch_frontend import opinfo
from torch_frontend.opinfo import Result, _compare


class CompareTest(unittest.TestCase):
    def test_integers_are_exact(self) -> None:
        ref = np.array([1, 2, 3], dtype=np.int64)
        self.assertEqual(_compare(ref, ref.astype(np.int32)), "")
        self.assertEqual(_compare(ref, np.array([1, 2, 4], dtype=np.int64)), "1 of 3 integer values differ")
        self.assertIn("dtype float32", _compare(ref, ref.astype(np.float32)))

    def test_floats_need_allclose_and_pcc(self) -> None:
        x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
        self.assertEqual(_compare(x, x + 1e-7), "")
        self.assertIn("not allclose", _compare(x, x * 1.01))
        self.assertIn("shape [10, 10], expected [100]", _compare(x, x.reshape(10, 10)))

    def test_constant_reference_needs_only_allclose(self) -> None:
        # digamma of a bool tensor: -inf where False, a constant where True; PyTorch's float32
        # constant is a few ulp from the correctly rounded one.
        ref = np.array([-np.inf, -0.5772159, -0.5772159], dtype=np.float32)
        self.assertEqual(_compare(ref, np.array([-np.inf, -0.5772157, -0.5772157], np.float32)), "")
        self.assertIn("not allclose", _compare(ref, np.array([-np.inf, -0.58, -0.58], np.float32)))

    def test_complex_compares_real_and_imaginary_parts(self) -> None:
        ref = np.array([1 + 2j, -3 + 0.5j, 0.25 - 4j], dtype=np.complex128)  # complex128, Kiln's complex64
        self.assertEqual(_compare(ref, ref.astype(np.complex64)), "")
        self.assertIn("not allclose", _compare(ref, np.conj(ref).astype(np.complex64)))  # only the parts' signs
        self.assertIn("shape [3], expected [3, 2]", _compare(ref, ref.real.astype(np.float32)))

    def test_nan_and_inf_positions_must_match(self) -> None:
        ref = np.array([1.0, np.nan, np.inf, -np.inf], dtype=np.float32)
        self.assertEqual(_compare(ref, ref.copy()), "")
        self.assertEqual(_compare(ref, np.array([1.0, 0.0, np.inf, -np.inf], np.float32)), "NaN positions differ")
        self.assertEqual(_compare(ref, np.array([1.0, np.nan, -np.inf, -np.inf], np.float32)), "infinities differ")

    def test_ties_may_sort_in_any_order(self) -> None:
        x = np.array([[1, 0, 1, 0]], dtype=np.bool_)
        want = np.array([[1, 3, 0, 2]])
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[3, 1, 2, 0]]), -1), "")
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[0, 1, 2, 3]]), -1),
                         "indices do not pick the values torch's do")
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[1, 1, 0, 2]]), -1), "indices repeat")


class ReportTest(unittest.TestCase):
    def test_totals_and_markdown(self) -> None:
        rs = [Result("add", "float32", 0, "passed"),
              Result("add", "float32", 1, "wrong", "output 0: PCC 0.5 < 0.999"),
              Result("cumsum", "float32", 0, "kiln error",
                     "error: m.pt2: unsupported ATen op: aten.cumsum.default (node cumsum)"),
              Result("nonzero", "float32", 0, "export", "data-dependent shape")]
        t = opinfo.totals(rs)
        self.assertEqual((t["samples"], t["exported"], t["passed"], t["export"]), (4, 3, 1, 1))
        self.assertAlmostEqual(t["pass_rate"], 1 / 3)
        md = opinfo.render_markdown(rs, {"commit": "abc1234", "date": "2026-11-26", "torch": "2.14.1",
                                         "samples": 3, "dtypes": ["float32"]})
        self.assertIn("Commit abc1234, 2026-11-26, torch 2.14.1", md)
        self.assertIn("| 4 | 1 | 3 | 1 | 1 | 1 | 0 | 33.3% |", md)
        self.assertIn("| `aten.cumsum.default` | 1 |", md)
        self.assertIn("| add | float32 | 2 | 1 | 0 | 1 | 0 | output 0: PCC 0.5 < 0.999 |", md)


class TiedIndicesTest(unittest.TestCase):
    def test_ties_may_come_in_any_order_but_must_pick_the_same_values(self) -> None:
        x = np.array([[3, 1, 3, 2]])
        want = np.array([[0, 2, 3]])  # topk(3): the two 3s, then the 2
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[2, 0, 3]]), -1), "")
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[0, 0, 3]]), -1), "indices repeat")
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[0, 2, 4]]), -1), "indices out of range")
        self.assertEqual(opinfo._compare_tied_indices(x, want, np.array([[0, 2, 1]]), -1),
                         "indices do not pick the values torch's do")


class ExpectationsTest(unittest.TestCase):
    def test_ratchet(self) -> None:
        import os
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "expected.txt")
            with open(path, "w") as f:
                f.write("# comment\nadd float32 passed\nmul float32 passed\n"
                        "avg_pool2d int64 wrong ATen truncates, Kiln rounds\n")
            expected = opinfo.load_expectations(path)
            self.assertEqual(expected[("avg_pool2d", "int64")], ("wrong", "ATen truncates, Kiln rounds"))
            rs = [Result("add", "float32", 0, "passed"),
                  Result("mul", "float32", 0, "kiln error", "unsupported"),
                  Result("avg_pool2d", "int64", 0, "wrong", "output 0: 1 of 4 integer values differ"),
                  Result("div", "float32", 0, "wrong", "output 0: PCC 0.1 < 0.999"),
                  Result("sub", "float32", 0, "crash", "run: exit -11"),
                  Result("mul", "float32", 1, "passed")]
            problems = opinfo.check_expectations(rs, expected)
            self.assertEqual(problems, [
                "regressed: mul float32 was passed, now kiln error: unsupported",
                "wrong result not listed as a known limitation: div float32: output 0: PCC 0.1 < 0.999",
                "crash: sub float32: run: exit -11"])
            opinfo.write_expectations(path, rs, {**expected, ("abs", "int32"): ("passed", "")})
            rewritten = opinfo.load_expectations(path)
            # mul regressed and loses its line; abs, not in this run, keeps its own.
            self.assertEqual(rewritten, {("abs", "int32"): ("passed", ""), ("add", "float32"): ("passed", ""),
                                         ("avg_pool2d", "int64"): ("wrong", "ATen truncates, Kiln rounds")})

    def test_malformed_line_names_it(self) -> None:
        import os
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "expected.txt")
            with open(path, "w") as f:
                f.write("add float32 wrong\n")
            with self.assertRaisesRegex(ValueError, "expected.txt:1: expected 'OP DTYPE passed'"):
                opinfo.load_expectations(path)


if __name__ == "__main__":
    unittest.main()
