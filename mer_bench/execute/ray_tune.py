"""The Ray Tune executor: fold tasks as Tune trials, spread over every worker of one machine or a
cluster, each reserving its model's CPUs and, where folds train on GPUs, its share of one GPU.

A trial is a run of consecutive folds of one cell (a chunk): cells are cut into enough chunks to
keep every worker busy (`split_tasks`), so one cell alone runs as fast as the workers allow, while
a run of many cells keeps whole cells together and pays Tune's per-trial cost once per cell. Each
fold is kept in the cell's staging folder as it ends and the worker that ends a cell's last fold
writes its record (see `execute.tasks`); on a multi-node cluster the results folder must therefore
be on storage every node sees, which Ray requires of its own storage path too. A failed trial is
retried (``max_failures``) and keeps the folds it had finished.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from mer_bench.datasource import cache_dir
from mer_bench.device import check_device_spec, cuda_count, resolve_device
from mer_bench.errors import ConfigError
from mer_bench.execute.base import BaseExecutor, TaskProgress, available_cpus, check_positive
from mer_bench.execute.ray_session import check_reachable, cluster_gpus, start_ray
from mer_bench.models import MODELS
from mer_bench.store import check_writable

if TYPE_CHECKING:
    from mer_bench.execute.tasks import FoldTask
    from mer_bench.tune.study import StudyRun

CHUNKS_PER_WORKER = 4  # trials per worker slot a run is cut into, at least: enough to balance


def fold_resources(model: str, gpus_available: bool,
                   gpu_share: float | None = None) -> dict[str, float]:
    """What Ray reserves for one fold of ``model``: its CPUs, and its share of a GPU (the
    model's own, or ``gpu_share``) where folds train on GPUs."""
    declared = MODELS.get(model).resources
    share = declared.get("gpu", 0) if gpu_share is None else gpu_share
    return {"cpu": float(declared.get("cpu", 1)), "gpu": float(share) if gpus_available else 0.0}


def concurrency(resources: Sequence[Mapping[str, float]], cluster: Mapping[str, float]) -> int:
    """How many trials fit side by side on the cluster (at least 1): the fewest of any task."""
    fits = [cluster.get(key.upper(), 0.0) / need
            for need_of in resources for key, need in need_of.items() if need > 0]
    return max(1, int(min(fits, default=1) + 1e-9))


def chunk_sizes(n_folds: int, n_tasks: int, workers: int) -> list[int]:
    """The sizes of the chunks of consecutive folds one of ``n_tasks`` tasks with ``n_folds``
    folds is cut into: at least ``CHUNKS_PER_WORKER`` x ``workers`` chunks in all where the folds
    allow it, every task into the same number of near-equal chunks (a task with nothing left to
    train is one empty chunk, so it still ends). The planner simulates the same cut."""
    per_task = max(1, math.ceil(CHUNKS_PER_WORKER * workers / max(1, n_tasks)))
    n = min(per_task, n_folds) or 1
    size, extra = divmod(n_folds, n)
    return [size + (i < extra) for i in range(n)]


def split_tasks(tasks: Sequence["FoldTask"], workers: int) -> list[tuple[int, "FoldTask"]]:
    """Cut tasks into chunks of consecutive folds (`chunk_sizes`), each chunk with the position
    of its task."""
    chunks = []
    for position, task in enumerate(tasks):
        start = 0
        for size in chunk_sizes(len(task.folds), len(tasks), workers):
            chunks.append((position, task.with_folds(task.folds[start:start + size])))
            start += size
    return chunks


def run_trial(config: dict[str, Any]) -> None:
    """The Tune trainable: train one chunk of folds in a Ray worker, keep each fold."""
    import ray
    from ray import tune

    from mer_bench.device import trial_device
    from mer_bench.execute.tasks import FoldTask, run_task

    chunk = config["chunk"]
    task = FoldTask.from_config(chunk["task"])
    device = trial_device(chunk["device"], ray.get_gpu_ids())
    run_task(task, device=device, on_fold=lambda index: tune.report({"fold": index}))
    tune.report({"fold": -1})  # the chunk ended (a chunk with nothing left still reports)


def _trial_resources(config: dict[str, Any]) -> dict[str, float]:
    return config["chunk"]["resources"]


@dataclass
class RayExecutor(BaseExecutor):
    """Run fold tasks as Ray Tune trials. ``address`` joins a cluster; otherwise Ray starts
    embedded with ``num_cpus`` / ``num_gpus`` (default: what Ray detects). ``workers`` caps the
    folds training at once (default: as many as the resources allow)."""

    name: ClassVar[str] = "ray"
    OPTIONS: ClassVar[tuple[str, ...]] = ("address", "num_cpus", "num_gpus", "storage",
                                          "max_failures", "gpu_share", "workers", "asha")

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: float | None = None
    storage: Path | None = None
    max_failures: int = 2
    gpu_share: float | None = None
    workers: int | None = None
    asha: bool = False  # tuning: stop weak trials early

    def __post_init__(self) -> None:
        check_positive("num_cpus", self.num_cpus)
        check_positive("workers", self.workers)
        if self.num_gpus is not None and self.num_gpus < 0:
            raise ConfigError(f"--num-gpus {self.num_gpus:g}: give 0 or more")
        if self.max_failures < 0:
            raise ConfigError(f"--max-failures {self.max_failures}: give 0 or more")
        if self.gpu_share is not None and not 0 < self.gpu_share <= 1:
            raise ConfigError(f"--gpu-share {self.gpu_share:g}: give a fraction of one GPU in "
                              "(0, 1] (a fold trains on one GPU; 0.25 packs four per GPU)")
        if self.address and (self.num_cpus is not None or self.num_gpus is not None):
            raise ConfigError("--num-cpus / --num-gpus size an embedded Ray; a cluster joined "
                              "with --address brings its own resources")
        spec = check_device_spec(self.device)
        if ":" in spec:
            raise ConfigError(f"--device {spec}: under --executor ray, Ray hands out the GPUs; "
                              f"restrict them with CUDA_VISIBLE_DEVICES={spec.partition(':')[2]}, "
                              "or use --executor local")
        self.device = spec
        if not self.address:  # embedded: this machine's GPUs are the cluster's
            resolve_device(spec)
            if self.num_gpus and not cuda_count():
                raise ConfigError(f"--num-gpus {self.num_gpus:g}: this machine has no CUDA GPU; "
                                  "leave --num-gpus out to train on the CPU")
        if self.storage is not None:
            self.storage = check_writable(self.storage, "Ray storage path")

    def preflight(self) -> None:
        """What can be checked before any data is read: a cluster address nothing listens on."""
        if self.address:
            check_reachable(self.address)

    def reserves(self, model: str) -> dict[str, float]:
        return fold_resources(model, self.device != "cpu", self.gpu_share)

    def describe(self) -> str:
        where = (f"the Ray cluster at {self.address}" if self.address else
                 f"an embedded Ray ({self.num_cpus or available_cpus()} CPUs"
                 f"{f', {self.num_gpus:g} GPUs' if self.num_gpus else ''})")
        workers = f", at most {self.workers} at once" if self.workers else ""
        return (f"executor ray: folds spread over {where}{workers}, device {self.device} (a GPU "
                "share is reserved only where the cluster has GPUs)")

    def start(self) -> Any:
        """Ray, started or joined; checks that folds asked to train on CUDA can."""
        ray = start_ray(self.address, num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        if self.device == "cuda" and not cluster_gpus(ray):
            raise ConfigError("--device cuda: the Ray cluster has no GPU; use --device cpu or "
                              "auto")
        return ray

    def gpus_in_use(self, ray: Any) -> bool:
        return self.device != "cpu" and cluster_gpus(ray) > 0

    def run_tasks(self, tasks: Sequence["FoldTask"], progress: TaskProgress) -> dict[int, str]:
        ray = self.start()
        from ray import tune

        from mer_bench.execute.ray_callbacks import ProgressCallback

        storage = check_writable(self.storage or cache_dir() / "ray", "Ray storage path")
        gpus = self.gpus_in_use(ray)
        resources = {task.job.cell.model: fold_resources(task.job.cell.model, gpus,
                                                         self.gpu_share) for task in tasks}
        slots = concurrency(list(resources.values()), ray.cluster_resources())
        if self.workers:
            slots = min(slots, self.workers)
        chunks = split_tasks(tasks, slots)
        owner = [position for position, _ in chunks]
        configs = [{"key": k, "task": chunk.to_config(), "device": self.device,
                    "resources": resources[chunk.job.cell.model]}
                   for k, (_, chunk) in enumerate(chunks)]
        callback = ProgressCallback.attach(tasks, owner, progress)
        tuner = tune.Tuner(
            tune.with_resources(run_trial, _trial_resources),
            param_space={"chunk": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=self.workers,
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
        errors: dict[int, str] = {}
        for result in grid:
            if result.error is not None:
                key = (result.config or {}).get("chunk", {}).get("key")
                reason = _first_line(result.error)
                for task_index in ([owner[key]] if key is not None else range(len(tasks))):
                    errors.setdefault(task_index, reason)
        return errors

    def optimize(self, study: "StudyRun") -> None:
        from mer_bench.tune.ray_search import optimize_ray

        self.start()
        optimize_ray(study, asha=self.asha, device=self.device, gpu_share=self.gpu_share,
                     workers=self.workers)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
