"""Ray executor wall time against the local executor on the quick suite, in the same run.

Run with `make bench` (or `pytest benchmarks/test_executor_overhead.py --benchmark-only -s` to see
the breakdown). The quick suite's jobs run three ways, each into a fresh results folder so that
every job trains:

- local: one job after another in this process (the reference);
- ray, cold: Ray started embedded (import + ``ray.init``) inside the timed region, as
  ``mer-bench run --executor ray`` does on a laptop;
- ray, warm: Ray already running, as when joining a cluster with ``--address``.

Where the time goes: start-up (import + init), training (the records' own wall times: each job's
time inside its worker), and the rest (Tune's trial scheduling, actor start, result plumbing).
The target is ray at most 25% over local; on 2 cores the cold start-up alone is several seconds,
so the ratio is reported for both, and the suite's size decides whether start-up is amortised.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mer_bench.datasource import resolve_data_source
from mer_bench.execute.job import Job
from mer_bench.execute.local import LocalExecutor
from mer_bench.runner import expand_cells
from mer_bench.store import ResultStore
from mer_bench.suites import suite_registry

pytest.importorskip("ray")
TARGET = 1.25


class Silent:
    def job_started(self, job, folds=None) -> None: ...

    def fold_done(self, done, total) -> None: ...

    def job_done(self, job, result) -> None: ...


@pytest.fixture(scope="module")
def quick_jobs(tmp_path_factory):
    """The quick suite's jobs, on twins generated (and their inputs cached) before any timing."""
    cache = tmp_path_factory.mktemp("bench-cache")
    os.environ["MER_BENCH_CACHE"] = str(cache)
    suite = suite_registry().get("quick")
    source = resolve_data_source(None, suite.twin_scale, 0)
    jobs = [Job(cell, source) for cell in expand_cells("quick", None, None, None, None)]
    LocalExecutor().run(jobs, ResultStore(tmp_path_factory.mktemp("warm-up")), Silent())
    return jobs


def timed(run) -> tuple[float, list]:
    started = time.perf_counter()
    records = run()
    return time.perf_counter() - started, records


def test_ray_executor_overhead_against_local(benchmark, quick_jobs, tmp_path: Path):
    from mer_bench.execute.ray_tune import RayExecutor

    def local():
        return LocalExecutor().run(quick_jobs, ResultStore(tmp_path / "local"), Silent())

    def ray_cold():
        from mer_bench.execute.ray_session import start_ray

        started = time.perf_counter()
        start_ray(num_cpus=os.cpu_count())
        timings["startup"] = time.perf_counter() - started
        return RayExecutor().run(quick_jobs, ResultStore(tmp_path / "ray-cold"), Silent())

    timings: dict[str, float] = {}
    local_s, local_records = timed(local)
    cold_s, cold_records = benchmark.pedantic(lambda: timed(ray_cold), rounds=1, iterations=1)
    warm_s, warm_records = timed(lambda: RayExecutor().run(
        quick_jobs, ResultStore(tmp_path / "ray-warm"), Silent()))
    import ray

    ray.shutdown()

    training = {name: sum(r.wall_time_s for r in records) for name, records in
                (("local", local_records), ("cold", cold_records), ("warm", warm_records))}
    breakdown = {
        "jobs": len(quick_jobs),
        "cpus": os.cpu_count(),
        "local_s": round(local_s, 2),
        "ray_cold_s": round(cold_s, 2),
        "ray_warm_s": round(warm_s, 2),
        "ray_startup_s": round(timings["startup"], 2),
        "training_s_local": round(training["local"], 2),
        "training_s_ray_warm": round(training["warm"], 2),
        "ray_warm_other_s": round(warm_s - training["warm"] / min(len(quick_jobs),
                                                                   os.cpu_count() or 1), 2),
        "ratio_cold": round(cold_s / local_s, 3),
        "ratio_warm": round(warm_s / local_s, 3),
        "target": TARGET,
    }
    benchmark.extra_info.update(breakdown)
    print("\n" + "\n".join(f"{key:>22}: {value}" for key, value in breakdown.items()))
    for records in (cold_records, warm_records):  # the speed is worth nothing if numbers differ
        assert [r.metrics for r in records] == [r.metrics for r in local_records]
