"""Tests for torch_frontend.baseline_report's rendering (no tools run)."""

import unittest

from torch_frontend import baseline_report


def _row(host_link: float, dram: float, peak: float, latency_us: float) -> dict:
    return {"host_link": host_link, "dram": dram, "peak": peak, "latency_us": latency_us,
            "ratio": latency_us / 100.0, "pcc": 1.0}


class BaselineReportTest(unittest.TestCase):
    def test_ratios_and_a_program_that_stays_on_chip(self) -> None:
        results = {
            "resnet18": {"naive": _row(2**30, 2**30, 2**26, 4000.0), "Kiln": _row(2**20, 0, 0, 100.0)},
            "bert": {"naive": _row(2**30, 2**29, 2**28, 9000.0), "Kiln": _row(2**20, 2**27, 2**27, 1500.0)},
        }
        md = baseline_report.render(results, "abc1234")
        self.assertIn("Commit abc1234", md)
        # Kiln keeps ResNet-18 in SRAM: no DRAM traffic or DRAM peak to divide by.
        self.assertIn("| resnet18 | naive / Kiln | 1024x | all on-chip | all on-chip | 40.0x | | |", md)
        self.assertIn("| bert | naive / Kiln | 1024x | 4.0x | 2.00x | 6.0x | | |", md)
        self.assertIn("| resnet18 | Kiln | 1.0 MiB | 0.0 MiB | 0.0 MiB | 100.0 us | 1.00 | 1.000000 |", md)


if __name__ == "__main__":
    unittest.main()
