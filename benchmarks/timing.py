"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from typing import Callable


def best_seconds(work: Callable[[], object], repeats: int = 5) -> float:
    """Best of ``repeats`` wall times: the least disturbed by other processes on shared cores."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)
