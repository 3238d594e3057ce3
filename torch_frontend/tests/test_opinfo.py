"""Tests for torch_frontend.opinfo's comparison and report (numpy only; the sweep itself runs in
//tools:opinfo_fast_test)."""

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

    def test_nan_and_inf_positions_must_match(self) -> None:
        ref = np.array([1.0, np.nan, np.inf, -np.inf], dtype=np.float32)
        self.assertEqual(_compare(ref, ref.copy()), "")
        self.assertEqual(_compare(ref, np.array([1.0, 0.0, np.inf, -np.inf], np.float32)), "NaN positions differ")
        self.assertEqual(_compare(ref, np.array([1.0, np.nan, -np.inf, -np.inf], np.float32)), "infinities differ")

    def test_ties_may_sort_in_any_order(self) -> None:
        x = np.array([[1, 0, 1, 0]], dtype=np.bool_)
        want = np.array([[1, 3, 0, 2]])
        self.assertEqual(opinfo._compare_sorting_indices(x, want, np.array([[3, 1, 2, 0]]), -1), "")
        self.assertEqual(opinfo._compare_sorting_indices(x, want, np.array([[0, 1, 2, 3]]), -1),
                         "indices do not sort the input as torch's do")
        self.assertEqual(opinfo._compare_sorting_indices(x, want, np.array([[1, 1, 0, 2]]), -1),
                         "indices are not a permutation")


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


if __name__ == "__main__":
    unittest.main()
