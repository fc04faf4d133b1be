"""Every core by default: wall times of `mer-bench run` as a user runs it, ratios in the same run.

Run with `make bench` (or `pytest benchmarks/test_every_core.py --benchmark-only -s` to see the
numbers). Every measurement is a whole `mer-bench run` in a fresh process into a fresh results
folder.

- suite: `mer-bench run --suite all` (what `make run` runs) with no executor flag (the default:
  Ray wherever more than one fold fits) against `--executor local` (one fold at a time, what
  `make run` did before), each from a cold cache of its own: twins generated, inputs built.
  Target: default at most 0.6 x local. ``MER_BENCH_BENCH_SUITE`` / ``MER_BENCH_BENCH_SEEDS``
  choose a smaller suite or fewer seeds for a quick look (the target is about `all`).
- one cell: casme2-5class, STSTNet, annotated key frames, twin scale 1 (26 LOSO folds), its twin
  and inputs built beforehand (warm): 2 workers (`--executor ray --workers 2`) against 1 worker
  (`--executor local`), with `--executor ray --workers 1` beside them to show Ray's own cost.
  Target: 2 workers at most 0.6 x 1 worker.

Records must be identical whichever executor made them: compared before any ratio is reported.
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
TARGET = 0.6
CLI = [sys.executable, "-c", "from mer_bench.cli import main; main()"]
SUITE = os.environ.get("MER_BENCH_BENCH_SUITE", "all")
SEEDS = [arg for seed in os.environ.get("MER_BENCH_BENCH_SEEDS", "").split() for arg in
         ("--seed", seed)]
CELL = ["--protocol", "casme2-5class", "--model", "ststnet", "--keyframes", "annotated",
        "--twin-scale", "1"]


def environment(cache: Path) -> dict[str, str]:
    env = {**os.environ, "MER_BENCH_CACHE": str(cache)}
    env.pop("MER_BENCH_EXECUTOR", None)  # the real default
    return env


def timed_run(env: dict[str, str], results: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CLI, "run", "--results", str(results), *args], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return time.perf_counter() - started


def same_records(left: Path, right: Path) -> int:
    one, other = ResultStore(left).load_all(), ResultStore(right).load_all()
    assert [r.cell for r in one] == [r.cell for r in other]
    for a, b in zip(one, other):
        assert a.metrics == b.metrics and a.predictions.equals(b.predictions), a.cell.cell_id
        assert a.config_hash == b.config_hash and a.curves == b.curves
    return len(one)


def report(benchmark, name: str, numbers: dict) -> None:
    benchmark.extra_info.update(numbers)
    print(f"\n[{name}]\n" + "\n".join(f"{key:>36}: {value}" for key, value in numbers.items()))


def test_the_default_runs_the_suite_cold_in_at_most_0_6_of_local(benchmark, tmp_path):
    local_s = timed_run(environment(tmp_path / "cache-local"), tmp_path / "local",
                        "--suite", SUITE, *SEEDS, "--executor", "local")
    default_s = benchmark.pedantic(
        timed_run, args=(environment(tmp_path / "cache-default"), tmp_path / "default",
                         "--suite", SUITE, *SEEDS), rounds=1, iterations=1)
    jobs = same_records(tmp_path / "local", tmp_path / "default")
    records = ResultStore(tmp_path / "default").load_all()
    report(benchmark, f"suite {SUITE}{' seeds ' + ' '.join(SEEDS[1::2]) if SEEDS else ''}", {
        "jobs": jobs, "cpus": os.cpu_count(),
        "local_s (cold)": round(local_s, 1), "default_s (cold)": round(default_s, 1),
        "ratio": round(default_s / local_s, 3), "target": TARGET,
        "folds": sum(r.n_folds for r in records),
        "fold training s (sum, default run)": round(sum(sum(r.fold_wall_s) for r in records), 1),
    })
    assert default_s <= TARGET * local_s


@pytest.fixture(scope="module")
def warm_cell(tmp_path_factory) -> dict[str, str]:
    """A cache holding the scale-1 CASME II twin and the cell's inputs (a 1-epoch run builds
    them: inputs do not depend on the budget)."""
    env = environment(tmp_path_factory.mktemp("cell-cache"))
    timed_run(env, tmp_path_factory.mktemp("warm-up"), *CELL[:3], "ststnet[epochs=1]",
              *CELL[4:], "--executor", "local")
    return env


def test_one_cell_on_two_workers_takes_at_most_0_6_of_one(benchmark, warm_cell, tmp_path):
    one_s = timed_run(warm_cell, tmp_path / "one", *CELL, "--executor", "local")
    ray_one_s = timed_run(warm_cell, tmp_path / "ray-one", *CELL, "--executor", "ray",
                          "--workers", "1")
    two_s = benchmark.pedantic(timed_run, args=(warm_cell, tmp_path / "two", *CELL, "--executor",
                                                "ray", "--workers", "2"), rounds=1, iterations=1)
    same_records(tmp_path / "one", tmp_path / "two")
    same_records(tmp_path / "one", tmp_path / "ray-one")
    (record,) = ResultStore(tmp_path / "two").load_all()
    report(benchmark, "one cell, 26 folds", {
        "folds": record.n_folds, "local (1 worker) s": round(one_s, 1),
        "ray, 1 worker s": round(ray_one_s, 1), "ray, 2 workers s": round(two_s, 1),
        "ratio 2 workers / local": round(two_s / one_s, 3),
        "ratio 2 workers / ray 1 worker": round(two_s / ray_one_s, 3), "target": TARGET,
        "fold training s (sum)": round(sum(record.fold_wall_s), 1),
    })
    assert two_s <= TARGET * one_s
