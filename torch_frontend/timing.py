"""Host wall-time measurement shared by the benchmark tools (kiln_overhead, sim_speed)."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_seconds(fn: Callable[[], object], calls: int, warmup: int = 1) -> float:
    """The median wall time of `calls` calls of fn, after `warmup` untimed ones (first touches, thread pools)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
