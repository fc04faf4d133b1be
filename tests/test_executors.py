"""Executors without Ray running: which one a run gets by default, devices (CUDA mocked in and out),
mixed precision, what a record keeps of where it ran, fold staging and resuming a cell killed in
its middle (the local executor; test_ray_executor.py does the same under Ray)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from mer_bench.datasource import resolve_data_source
from mer_bench.device import check_amp, resolve_device, trial_device
from mer_bench.errors import ConfigError
from mer_bench.execute import build_executor
from mer_bench.execute.base import worker_slots
from mer_bench.execute.job import Job, expected_config_hash, run_job
from mer_bench.execute.local import LocalExecutor
from mer_bench.execute.ray_tune import split_tasks
from mer_bench.execute.runs import plan_task
from mer_bench.execute.tasks import stage_root
from mer_bench.models import MODELS
from mer_bench.store import Cell, ResultStore, data_key

PROTOCOL = "casme2-5class"
CLI = [sys.executable, "-c", "from mer_bench.cli import main; main()"]


@pytest.fixture
def cuda(monkeypatch):
    """Pretend this machine has ``n`` CUDA GPUs (0: none), whatever it has."""

    def have(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)

    return have


@pytest.fixture
def default_executor(monkeypatch):
    """No MER_BENCH_EXECUTOR (the test session sets it to local): the real default."""
    monkeypatch.delenv("MER_BENCH_EXECUTOR", raising=False)


# -- every core by default -------------------------------------------------------------------------

@pytest.mark.parametrize("cpus, gpus, model, device, expected", [
    (2, 0, "ststnet", "auto", "ray"),  # two folds at once on 2 cores
    (1, 0, "ststnet", "auto", "local"),  # one core: nothing to spread
    (2, 0, "htnet", "auto", "local"),  # a model declaring 2 CPUs fits once on 2 cores
    (16, 1, "htnet", "auto", "local"),  # ... and a whole GPU of its own fits once on 1 GPU
    (16, 1, "ststnet", "auto", "ray"),  # four quarter-GPU folds on one GPU
    (1, 1, "ststnet", "cuda:0", "local"),  # one GPU named: one process
])
def test_ray_is_the_default_wherever_more_than_one_fold_fits(
        default_executor, cuda, monkeypatch, cpus, gpus, model, device, expected):
    cuda(gpus)
    monkeypatch.setattr("mer_bench.execute.base.available_cpus", lambda: cpus)
    executor = build_executor(None, {}, device=device, models=[MODELS.get(model)])
    assert executor.name == expected


def test_slots_count_cpus_and_gpu_shares_of_the_models():
    small, big = MODELS.get("ststnet"), MODELS.get("htnet")  # 1 CPU + 1/4 GPU; 2 CPUs + 1 GPU
    assert worker_slots([small], cpus=2, gpus=0) == 2
    assert worker_slots([small], cpus=16, gpus=1) == 4
    assert worker_slots([small], "cpu", cpus=16, gpus=1) == 16  # GPUs unused on the CPU
    assert worker_slots([big], cpus=16, gpus=2) == 2
    assert worker_slots([big, small], cpus=2, gpus=0) == 2  # the run's best model decides


def test_an_option_only_ray_takes_picks_ray_and_the_environment_picks_too(
        default_executor, monkeypatch):
    monkeypatch.setattr("mer_bench.execute.base.available_cpus", lambda: 1)
    models = [MODELS.get("ststnet")]
    assert build_executor(None, {"workers": 1}, models=models).name == "ray"
    monkeypatch.setenv("MER_BENCH_EXECUTOR", "ray")
    assert build_executor(None, {}, models=models).name == "ray"
    assert build_executor("local", {}, models=models).name == "local"  # the flag wins
    with pytest.raises(ConfigError, match="--workers only apply to --executor ray"):
        build_executor("local", {"workers": 2}, models=models)


def test_dry_run_says_the_default_is_ray_on_two_cores(default_executor, cli, tiny_twin_root,
                                                     tmp_path, monkeypatch):
    monkeypatch.setattr("mer_bench.execute.base.available_cpus", lambda: 2)
    code, out, err = cli("run", "--protocol", PROTOCOL, "--keyframes", "annotated", "--dry-run",
                         "--data-root", tiny_twin_root, "--results", tmp_path / "r")
    assert code == 0, err
    assert "executor ray: folds spread over an embedded Ray" in out


# -- every GPU -------------------------------------------------------------------------------------

def test_auto_is_cuda_where_present(cuda):
    cuda(0)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    cuda(2)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    assert LocalExecutor(device="auto").device == "cuda"
    assert trial_device("auto", ["3"]) == "cuda" and trial_device("cpu", ["3"]) == "cpu"
    assert trial_device("auto", []) == "cpu"


@pytest.mark.parametrize("gpus, device, expected", [
    (0, "cuda", "--device cuda: torch sees no CUDA GPU on this machine"),
    (1, "cuda:3", "--device cuda:3: this machine has 1 CUDA GPU (cuda:0 to cuda:0)"),
    (0, "gpu", "--device gpu: use one of auto, cpu, cuda or cuda:N"),
])
@pytest.mark.parametrize("command", ["run", "tune", "visualize"])
def test_a_device_that_is_not_there_is_one_line_and_exit_2(cli, cuda, tiny_twin_root, tmp_path,
                                                           gpus, device, expected, command):
    cuda(gpus)
    cell = ["--protocol", PROTOCOL, "--model", "ststnet", "--data-root", tiny_twin_root,
            "--results", tmp_path / "r", "--device", device]
    args = {"run": ["run", *cell], "tune": ["tune", *cell, "--trials", "1"],
            "visualize": ["visualize", "tsne", *cell]}[command]
    code, _, err = cli(*args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {expected}"), err
    assert not (tmp_path / "r").exists()


def test_without_cuda_a_ray_trial_asked_for_cuda_refuses(cuda):
    cuda(0)
    with pytest.raises(ConfigError, match="--device cuda: this Ray worker has no usable GPU"):
        trial_device("cuda", ["0"])


def test_mixed_precision_is_opt_in_hashed_only_when_on_and_trains_on_the_cpu(tiny_twin_root):
    plain, amp = MODELS.get("ststnet"), MODELS.get("ststnet[amp=true,epochs=2]")
    assert "amp" not in plain.budget.as_dict()  # full-precision config hashes are unchanged
    assert amp.budget.as_dict()["amp"] is True and MODELS.canonical("ststnet[amp=false]") == "ststnet"
    source = resolve_data_source(tiny_twin_root)
    data = data_key(source)
    hashes = {expected_config_hash(Job(Cell(PROTOCOL, spec, "annotated", 0, data=data), source))
              for spec in ("ststnet[epochs=2]", "ststnet[amp=true,epochs=2]")}
    assert len(hashes) == 2

    from mer_bench.train import train_and_predict  # bfloat16 autocast on the CPU

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3, 28, 28)).astype(np.float32)
    outcome = train_and_predict(amp, 3, [x], np.arange(12) % 3, [x[:4]], seed=0)
    assert outcome.predictions.shape == (4,) and np.isfinite(outcome.epoch_losses).all()


def test_mixed_precision_on_a_gpu_without_bfloat16_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    with pytest.raises(ConfigError, match="amp=true trains in bfloat16, which cuda:0 .Tesla"):
        check_amp("cuda:0")
    check_amp("cpu")


# -- folds as the unit of work ---------------------------------------------------------------------

def test_cells_are_cut_into_chunks_of_consecutive_folds_to_fill_the_workers(tiny_twin_root,
                                                                           tmp_path):
    source = resolve_data_source(tiny_twin_root)
    job = Job(Cell(PROTOCOL, "ststnet", "annotated", 0, data=data_key(source)), source)
    task = plan_task(job, tmp_path, "run1", resume=False)
    assert task.folds == (0, 1, 2, 3) and task.n_folds == 4
    many = task.with_folds(range(26))
    assert [len(c.folds) for _, c in split_tasks([many], 2)] == [4, 4, 3, 3, 3, 3, 3, 3]
    assert [c.folds for _, c in split_tasks([many], 1)][0] == (0, 1, 2, 3, 4, 5, 6)
    # many cells: whole cells, Tune's per-trial cost paid once a cell
    assert [p for p, _ in split_tasks([task] * 8, 2)] == list(range(8))
    assert [c.folds for _, c in split_tasks([task.with_folds(())], 2)] == [()]


def test_a_record_keeps_its_fold_times_and_device_and_older_records_still_load(
        tiny_twin_root, tmp_path):
    source = resolve_data_source(tiny_twin_root)
    cell = Cell(PROTOCOL, "ststnet[epochs=1]", "annotated", 0, data=data_key(source))
    store = ResultStore(tmp_path)
    (record,) = LocalExecutor(device="cpu").run([Job(cell, source)], store, Quiet())
    assert record.device == "cpu" and len(record.fold_wall_s) == record.n_folds == 4
    assert all(t > 0 for t in record.fold_wall_s)
    assert record.wall_time_s >= sum(record.fold_wall_s) - 1e-6  # folds, and building inputs
    assert record.config_hash == expected_config_hash(Job(cell, source))  # neither is hashed

    path = store.path_of(cell) / "record.json"
    older = json.loads(path.read_text())
    del older["fold_wall_s"], older["device"]
    path.write_text(json.dumps(older))
    loaded = store.load(cell)
    assert loaded.fold_wall_s == [] and loaded.device is None
    assert loaded.metrics == record.metrics


def test_resume_adopts_folds_of_the_same_config_and_never_those_of_another(tiny_twin_root,
                                                                           tmp_path):
    source = resolve_data_source(tiny_twin_root)
    job = Job(Cell(PROTOCOL, "ststnet", "annotated", 0, data=data_key(source)), source)
    root = stage_root(tmp_path, job.cell, "record", expected_config_hash(job))
    other = stage_root(tmp_path, job.cell, "record", "0" * 64)
    for stage, index in ((root / "killed-run", 2), (other / "older-run", 0)):
        stage.mkdir(parents=True)
        (stage / f"fold-{index:04d}.json").write_text("{}")

    fresh = plan_task(job, tmp_path, "fresh", resume=False)
    assert fresh.folds == (0, 1, 2, 3)  # a fresh run trains everything
    resumed = plan_task(job, tmp_path, "resumed", resume=True)
    assert resumed.folds == (0, 1, 3)  # fold 2 is adopted, fold 0 of another config is not
    assert (resumed.stage / "fold-0002.json").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["resumed"] and not other.exists()


class Quiet:
    def __init__(self) -> None:
        self.folds_trained = 0

    def job_started(self, job, folds=None):
        pass

    def fold_done(self, job, done, total):
        self.folds_trained += 1

    def job_done(self, job, result):
        pass


def test_a_local_run_killed_in_the_middle_of_a_cell_resumes_its_kept_folds(tiny_twin_root,
                                                                           tmp_path):
    results = tmp_path / "results"
    source = resolve_data_source(tiny_twin_root)
    cell = Cell(PROTOCOL, "ststnet", "annotated", 2, data=data_key(source))
    driver = subprocess.Popen(
        [*CLI, "run", "--protocol", PROTOCOL, "--keyframes", "annotated", "--seed", "2",
         "--data-root", str(tiny_twin_root), "--results", str(results), "--executor", "local",
         "--device", "cpu"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while driver.poll() is None and time.monotonic() < deadline:
        kept = sorted((results / ".folds").rglob("fold-*.json"))
        if len(kept) >= 2:
            break
        time.sleep(0.05)
    assert driver.poll() is None, f"the run ended before it could be killed: {driver.stderr.read()}"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=60)
    driver.stderr.close()
    kept = {json.loads(p.read_text())["index"]: json.loads(p.read_text())["wall_s"]
            for p in (results / ".folds").rglob("fold-*.json")}
    assert 2 <= len(kept) < 4 and not ResultStore(results).has(cell)

    progress = Quiet()
    (record,) = LocalExecutor(skip_completed=True, device="cpu").run(
        [Job(cell, source)], ResultStore(results), progress)

    assert progress.folds_trained == 4 - len(kept)
    assert all(record.fold_wall_s[index] == wall_s for index, wall_s in kept.items())
    assert not (results / ".folds").exists()
    reference = run_job(Job(cell, source))  # in process, every fold in one go
    assert record.metrics == reference.metrics
    assert record.predictions.equals(reference.predictions)
    assert record.curves == reference.curves and record.config_hash == reference.config_hash
