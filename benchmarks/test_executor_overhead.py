"""Ray executor wall time against the local executor, as a user sees it, in the same run.

Run with `make bench` (or `pytest benchmarks/test_executor_overhead.py --benchmark-only -s` to see
the breakdown). Each measurement is a whole `mer-bench run` in a fresh process, into a fresh
results folder, so every job trains and neither side inherits warm in-process caches; the twins
and their optical-flow inputs are generated once beforehand and shared, as on a user's machine.

- local: `--executor local`, one job after another (the reference);
- ray: `--executor ray`, Ray started embedded inside the run.

Where the time goes: Ray start-up (a separate `import ray; ray.init` timed on its own), training
(the records' own wall times: each job's time inside its worker), and the rest (process start,
data checks, Tune's scheduling, trial actors importing torch, result plumbing). Two sizes: the
quick suite (2 jobs) and the quick suite over 4 seeds (8 jobs), to show how much of the gap is a
fixed cost. Target: ray at most 25% over local.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mer_bench.store import ResultStore

pytest.importorskip("ray")
TARGET = 1.25
CLI = [sys.executable, "-c", "from mer_bench.cli import main; main()"]
SIZES = {"quick": [], "quick-4-seeds": ["--seed", "0", "--seed", "1", "--seed", "2", "--seed", "3"]}
STARTUP = ("import time; t = time.perf_counter(); "
           "from mer_bench.execute.ray_session import start_ray; import ray; "
           "start_ray(num_cpus=%d); print(time.perf_counter() - t); ray.shutdown()")


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory) -> dict[str, str]:
    """A private cache holding the quick suite's twins and inputs, made before any timing."""
    env = {**os.environ, "MER_BENCH_CACHE": str(tmp_path_factory.mktemp("bench-cache"))}
    subprocess.run([*CLI, "run", "--suite", "quick", *SIZES["quick-4-seeds"], "--executor",
                    "local", "--results", str(tmp_path_factory.mktemp("warm-up"))], env=env,
                   check=True,
                   capture_output=True)
    return env


def timed_run(env: dict[str, str], results: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([*CLI, "run", "--suite", "quick", "--results", str(results), *args], env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - started


@pytest.mark.parametrize("size", list(SIZES))
def test_ray_executor_overhead_against_local(benchmark, bench_env, tmp_path: Path, size: str):
    cpus = os.cpu_count() or 1
    local_s = timed_run(bench_env, tmp_path / "local", *SIZES[size], "--executor", "local")
    ray_s = benchmark.pedantic(timed_run, args=(bench_env, tmp_path / "ray", *SIZES[size],
                                                "--executor", "ray"), rounds=1, iterations=1)
    startup = subprocess.run([sys.executable, "-c", STARTUP % cpus], env=bench_env, check=True,
                             capture_output=True, text=True)
    local_records = ResultStore(tmp_path / "local").load_all()
    ray_records = ResultStore(tmp_path / "ray").load_all()
    assert [r.metrics for r in ray_records] == [r.metrics for r in local_records]

    training_local = sum(r.wall_time_s for r in local_records)
    training_ray = sum(r.wall_time_s for r in ray_records)
    startup_s = float(startup.stdout.strip().splitlines()[-1])
    breakdown = {
        "jobs": len(local_records),
        "cpus": cpus,
        "local_s": round(local_s, 2),
        "ray_s": round(ray_s, 2),
        "ratio": round(ray_s / local_s, 3),
        "target": TARGET,
        "ray_startup_s": round(startup_s, 2),
        "training_s_local (sum of jobs)": round(training_local, 2),
        "training_s_ray (sum of jobs)": round(training_ray, 2),
        "local_other_s": round(local_s - training_local, 2),
        "ray_other_s (minus start-up, training/cpus)": round(
            ray_s - startup_s - training_ray / min(cpus, len(ray_records)), 2),
    }
    benchmark.extra_info.update(breakdown)
    print(f"\n[{size}]\n" + "\n".join(f"{k:>44}: {v}" for k, v in breakdown.items()))
