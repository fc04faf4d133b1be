"""Training throughput of every zoo model against the fp32 matmul rate, and a whole suite's wall
time by executor beside the planner's estimates, all measured in one run.

Run with `make bench`, which also writes the page users read, results/throughput.md
(`--throughput-page PATH`; written only when every test of this module ran and measured).

- matmul: `torch.mm` of two large square fp32 matrices on 1 and 2 threads (the reference);
- a training step of every registered model (`mer_bench.planner.steps.training_step`) at its
  budget's batch size (GPU-size models at batch 2), on the threads it reserves;
- the `quick` suite over four seeds (8 cells) with the local and the Ray executor, each a whole
  `mer-bench run` in a fresh process, as in test_executor_overhead.py; before them, the planner's
  estimate of both, from timed steps and from an earlier run's records.

No timed assertions: the numbers are reported, and compared only with others of the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mer_bench.inputs.representations import INPUTS
from mer_bench.models import MODELS, count_flops, spec_parameters
from mer_bench.planner.steps import training_step
from mer_bench.store import ResultStore
from throughput_page import MATMUL_SIZE, ModelThroughput, SuiteRun, machine, render

ZOO = MODELS.names()
GPU_SIZE_BATCH = 2
CLASSES = 5
THREADS = sorted({1, 2} | {int(MODELS.get(m).resources.get("cpu", 1)) for m in ZOO})
SUITE = "quick"
SUITE_ARGS = ["--suite", SUITE, "--seed", "0", "--seed", "1", "--seed", "2", "--seed", "3"]
CLI = [sys.executable, "-c", "from mer_bench.cli import main; main()"]
ESTIMATE = """
import json, sys
from rich.console import Console
from mer_bench import api
e = api.estimate(suite=%(suite)r, seeds=[0, 1, 2, 3], workers=%(workers)r, units=["chunk"],
                 results=%(results)r, console=Console(quiet=True))
print(json.dumps({int(r.workers): r.wall_s for r in e.rows}))
"""


@pytest.fixture(scope="module")
def page(request):
    """What the tests measure; written as the page when the module is done, if asked."""
    measured = {"matmul": {}, "models": [], "suite": [],
                "load_before": " / ".join(f"{x:.1f}" for x in os.getloadavg())}
    yield measured
    path = request.config.getoption("--throughput-page")
    complete = (len(measured["models"]) == len(ZOO) and len(measured["suite"]) == 2
                and set(measured["matmul"]) >= {m.threads for m in measured["models"]})
    if path and complete:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(render(matmul=measured["matmul"], models=measured["models"],
                                     suite=measured["suite"], suite_name=" ".join(SUITE_ARGS[1:]),
                                     host=machine(), load_before=measured["load_before"]))


def median_s(benchmark) -> float | None:
    return benchmark.stats.stats.median if benchmark.stats else None  # None: --benchmark-disable


@pytest.mark.parametrize("threads", THREADS)
def test_fp32_matmul_rate(benchmark, page, threads):
    torch.set_num_threads(threads)
    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    benchmark.group = "fp32 matmul"
    benchmark.pedantic(torch.mm, args=(a, b), rounds=5, warmup_rounds=1)
    seconds = median_s(benchmark)
    if seconds:
        page["matmul"][threads] = 2 * MATMUL_SIZE ** 3 / seconds
        benchmark.extra_info["gflop_per_s"] = round(page["matmul"][threads] / 1e9, 2)


@pytest.mark.parametrize("model", ZOO)
def test_training_step_throughput(benchmark, page, model):
    spec = MODELS.get(model)
    gpu_size = spec.resources.get("gpu", 0) >= 0.5
    batch = GPU_SIZE_BATCH if gpu_size else spec.budget.batch_size
    threads = max(1, int(spec.resources.get("cpu", 1)))
    torch.set_num_threads(threads)
    step = training_step(model, num_classes=CLASSES, batch_size=batch)
    benchmark.group = "training step"
    benchmark.pedantic(step, rounds=1 if gpu_size else 10, warmup_rounds=1)
    seconds = median_s(benchmark)
    if seconds:
        result = ModelThroughput(
            model=model, batch=batch, budget_batch=spec.budget.batch_size, gpu_size=gpu_size,
            threads=threads, params=spec_parameters(spec, CLASSES),
            forward_flops=count_flops(spec, CLASSES, [INPUTS.get(k).channels for k in spec.inputs]),
            branches=2 if spec.two_branch else 1, step_s=seconds)
        page["models"].append(result)
        benchmark.extra_info.update(batch=batch, threads=threads,
                                    samples_per_s=round(result.samples_per_s, 1),
                                    train_gflop_per_s=round(result.flops_per_s / 1e9, 3))


@pytest.fixture(scope="module")
def suite_env(tmp_path_factory) -> tuple[dict[str, str], Path]:
    """A private cache holding the suite's twins and inputs, and the records of a first run."""
    env = {**os.environ, "MER_BENCH_CACHE": str(tmp_path_factory.mktemp("bench-cache"))}
    earlier = tmp_path_factory.mktemp("earlier-run")
    subprocess.run([*CLI, "run", *SUITE_ARGS, "--executor", "local", "--results", str(earlier)],
                   env=env, check=True, capture_output=True)
    return env, earlier


@pytest.fixture(scope="module")
def estimates(suite_env, tmp_path_factory) -> dict[str, dict[int, float]]:
    """The planner's wall times for 1 worker and for every CPU, before the timed runs."""
    env, earlier = suite_env
    workers = sorted({1, os.cpu_count() or 1})
    found = {}
    for name, results in (("steps", tmp_path_factory.mktemp("no-records")), ("records", earlier)):
        code = ESTIMATE % {"suite": SUITE, "workers": workers, "results": str(results)}
        done = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                              capture_output=True, text=True)
        found[name] = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    return found


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_suite_wall_time_by_executor(benchmark, page, suite_env, estimates, tmp_path, executor):
    if executor == "ray":
        pytest.importorskip("ray")
    env, _ = suite_env
    results = tmp_path / "results"

    def run() -> None:
        subprocess.run([*CLI, "run", *SUITE_ARGS, "--executor", executor, "--results",
                        str(results)], env=env, check=True, capture_output=True)

    benchmark.group = "suite wall time"
    started = time.perf_counter()
    benchmark.pedantic(run, rounds=1, iterations=1)
    wall = time.perf_counter() - started
    records = ResultStore(results).load_all()
    workers = 1 if executor == "local" else os.cpu_count() or 1
    page["suite"].append(SuiteRun(
        executor=executor, workers=workers, cells=len(records), wall_s=wall,
        training_s=sum(r.wall_time_s for r in records),
        estimate_s=estimates["steps"][workers],
        estimate_from_records_s=estimates["records"][workers]))
    benchmark.extra_info.update(cells=len(records),
                                estimate_s=round(estimates["steps"][workers], 1))
