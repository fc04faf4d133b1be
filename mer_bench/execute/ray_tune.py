"""The Ray Tune executor: the same jobs as the local executor, scheduled by Ray on one machine or a
cluster, each with the CPUs and GPU fraction its model declares.

One Tune trial is one whole job (every LOSO fold of a cell), because pooled UF1 / UAR need every
fold's predictions. The trial writes its own record into the result store (an atomic rename, so a
retried or repeated trial replaces a record whole and never duplicates it); on a multi-node cluster
the results folder must therefore be on storage every node sees, which Ray requires of its own
storage path too. The store is also what makes a run resumable: a killed run started again skips
the cells whose record exists with the same config hash, and re-runs the rest.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from mer_bench.datasource import CACHE_ENV, DataSource, cache_dir
from mer_bench.execute.base import RunProgress, TrialsFailed
from mer_bench.execute.job import Job, completed_record
from mer_bench.execute.ray_session import check_reachable, cluster_gpus, start_ray
from mer_bench.models import MODELS
from mer_bench.store import Cell, JobResult, ResultStore, check_writable


def job_resources(job: Job, gpus_available: bool,
                  gpu_share: float | None = None) -> dict[str, float]:
    """What Ray reserves for ``job``: its model's CPUs, and its share of a GPU (the model's own,
    or ``gpu_share``) when the cluster has GPUs. Training runs on the CPU where it has none."""
    declared = MODELS.get(job.cell.model).resources
    share = declared.get("gpu", 0) if gpu_share is None else gpu_share
    return {"cpu": float(declared.get("cpu", 1)), "gpu": float(share) if gpus_available else 0.0}


def _trial_config(job: Job, results: Path, resources: dict[str, float]) -> dict[str, Any]:
    # Plain values only: the config crosses process (and machine) boundaries.
    return {
        "cell": job.cell.to_dict(),
        "source": {"root": str(job.source.root) if job.source.root else None,
                   "twin_scale": job.source.twin_scale, "twin_seed": job.source.twin_seed},
        "results": str(results),
        "cache": str(cache_dir().resolve()),
        "resources": resources,
    }


def _trial_resources(config: dict[str, Any]) -> dict[str, float]:
    return config["job"]["resources"]


def run_trial(config: dict[str, Any]) -> None:
    """The Tune trainable: run one job in a Ray worker and store its record."""
    from ray import tune

    from mer_bench.execute.job import run_job

    config = config["job"]
    os.environ[CACHE_ENV] = config["cache"]  # workers do not inherit the driver's environment
    source = config["source"]
    job = Job(Cell.from_dict(config["cell"]),
              DataSource(Path(source["root"]) if source["root"] else None,
                         source["twin_scale"], source["twin_seed"]))
    device = _trial_device()

    def on_fold(done: int, total: int) -> None:
        tune.report({"folds_done": done, "folds": total, "uf1": float("nan")})

    result = run_job(job, on_fold=on_fold, device=device)
    ResultStore(Path(config["results"])).write(result)
    tune.report({"folds_done": result.n_folds, "folds": result.n_folds,
                 "uf1": result.metrics.uf1, "done": 1})


def _trial_device() -> str:
    import ray
    import torch

    return "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"


@dataclass
class RayExecutor:
    """Run jobs as Ray Tune trials. ``address`` joins a cluster; otherwise Ray starts embedded
    with ``num_cpus`` / ``num_gpus`` (default: what Ray detects)."""

    name: str = "ray"
    skip_completed: bool = False
    address: str | None = None
    num_cpus: int | None = None
    num_gpus: float | None = None
    storage: Path | None = None
    max_failures: int = 2
    gpu_share: float | None = None

    def preflight(self) -> None:
        """What can be checked before any data is read: a cluster address nothing listens on."""
        if self.address:
            check_reachable(self.address)

    def run(self, jobs: Sequence[Job], store: ResultStore,
            progress: RunProgress) -> list[JobResult]:
        results_dir = check_writable(store.root, "results folder")
        storage = check_writable(self.storage or cache_dir() / "ray", "Ray storage path")
        done: dict[Cell, JobResult] = {}
        pending = []
        for job in jobs:
            record = completed_record(job, store) if self.skip_completed else None
            if record is not None:
                done[job.cell] = record
                progress.job_done(job, record)
            else:
                pending.append(job)
        if pending:
            failures = self._run_trials(pending, ResultStore(results_dir), storage, progress)
            if failures:
                raise TrialsFailed(
                    f"{len(failures)} of {len(pending)} jobs failed after {self.max_failures} "
                    f"retries each ({', '.join(cell.cell_id for cell in failures)}): "
                    f"{next(iter(failures.values()))}. Those cells have no record; the others "
                    "were written")
        return [done[job.cell] if job.cell in done else store.load(job.cell) for job in jobs]

    def _run_trials(self, jobs: Sequence[Job], store: ResultStore, storage: Path,
                    progress: RunProgress) -> dict[Cell, str]:
        ray = start_ray(self.address, num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        from ray import tune

        from mer_bench.execute.ray_callbacks import ProgressCallback

        gpus = cluster_gpus(ray) > 0
        configs = [_trial_config(job, store.root, job_resources(job, gpus, self.gpu_share))
                   for job in jobs]
        by_cell = {job.cell: job for job in jobs}
        callback = ProgressCallback.attach(by_cell, store, progress)
        before = {job.cell: _record_stamp(store, job.cell) for job in jobs}
        trainable = tune.with_resources(run_trial, _trial_resources)
        tuner = tune.Tuner(
            trainable,
            param_space={"job": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(reuse_actors=True,
                                        trial_dirname_creator=lambda trial: trial.trial_id),
            run_config=tune.RunConfig(
                name=f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}",
                storage_path=str(storage),
                failure_config=tune.FailureConfig(max_failures=self.max_failures),
                callbacks=[callback], verbose=0),
        )
        try:
            grid = tuner.fit()
        finally:
            callback.detach()
        # A trial that failed before reporting has no config in its result, so failures are
        # read from the store: a job whose record was not (re)written failed, with the errors
        # Tune kept.
        errors = sorted({_first_line(result.error) for result in grid if result.error is not None})
        reason = "; ".join(errors) or "the trial ended without writing its record"
        return {job.cell: reason for job in jobs
                if _record_stamp(store, job.cell) in (None, before[job.cell])}


def _record_stamp(store: ResultStore, cell: Cell) -> int | None:
    """When the cell's record was last written (None: no record); a rewrite changes it."""
    path = store.path_of(cell) / "record.json"
    return path.stat().st_mtime_ns if path.is_file() else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
