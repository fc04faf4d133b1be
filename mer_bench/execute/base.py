"""The executor interface and registry, and what every executor shares: running jobs fold by fold.

An executor is a class registered in `EXECUTORS`. It declares the options it takes (``OPTIONS``,
keyword names; the command line spells them ``--num-cpus`` and so on) and checks their values in
``from_options``; `build_executor` refuses an option the chosen executor does not take and names
the executors that do take it. So the core never names an executor: it hands the options over.

Executors differ only in how they run fold tasks (`run_tasks`) and tuning trials (`optimize`);
`BaseExecutor.run` turns jobs into fold tasks (resuming staged folds under ``skip_completed``),
runs them, and collects the records, the same way for every executor.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, Sequence

from mer_bench.device import cuda_count
from mer_bench.errors import ConfigError, MerBenchError, UnknownNameError
from mer_bench.registry import Registry

if TYPE_CHECKING:
    from mer_bench.execute.job import Job
    from mer_bench.execute.tasks import FoldTask
    from mer_bench.models import ModelSpec
    from mer_bench.store import JobResult, ResultStore
    from mer_bench.tune.study import StudyRun

EXECUTOR_ENV = "MER_BENCH_EXECUTOR"  # the executor when --executor is not given (default: auto)
AUTO = "auto"
# The default where more than one fold can train at once, and where only one can.
PARALLEL_DEFAULT = "ray"
SERIAL_DEFAULT = "local"


class TrialsFailed(MerBenchError):
    """Some jobs still failed after their retries; the other jobs' records were written."""

    exit_code = 1


class RunProgress(Protocol):
    """What a run reports while it works (a progress bar, a log, or nothing). Jobs may run
    side by side, so fold counts name their job."""

    def job_started(self, job: "Job", folds: int | None = None) -> None: ...

    def fold_done(self, job: "Job", done: int, total: int) -> None: ...

    def job_done(self, job: "Job", result: "JobResult | None") -> None: ...


class QuietProgress:
    """A RunProgress that shows nothing."""

    def job_started(self, job: "Job", folds: int | None = None) -> None:
        pass

    def fold_done(self, job: "Job", done: int, total: int) -> None:
        pass

    def job_done(self, job: "Job", result: "JobResult | None") -> None:
        pass


class TaskProgress(Protocol):
    """What an executor reports about fold tasks: started, each fold kept, ended."""

    def task_started(self, task: "FoldTask") -> None: ...

    def fold_kept(self, task: "FoldTask", index: int) -> None: ...

    def task_ended(self, task: "FoldTask") -> None: ...


class Executor(Protocol):
    name: str
    device: str
    skip_completed: bool

    def preflight(self) -> None:
        """Checks of its own options that cost no data and no training (e.g. an address)."""

    def run(self, jobs: Sequence["Job"], store: "ResultStore",
            progress: RunProgress) -> list["JobResult"]:
        """Run ``jobs``, write each record to ``store`` as its last fold ends, return them."""

    def run_tasks(self, tasks: Sequence["FoldTask"], progress: TaskProgress) -> dict[int, str]:
        """Run fold tasks; returns why tasks failed (by position), for executors that retry
        and carry on rather than stop at the first error."""

    def optimize(self, study: "StudyRun") -> None:
        """Run the missing trials of one Optuna study (nested tuning)."""


EXECUTORS: Registry[type] = Registry("executor", entry_point_group="mer_bench.executors")
EXECUTORS.register("local", "mer_bench.execute.local:LocalExecutor")
EXECUTORS.register("ray", "mer_bench.execute.ray_tune:RayExecutor")


def flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def build_executor(name: str | None, options: Mapping[str, Any] | None = None, *,
                   skip_completed: bool = False, device: str = "auto",
                   models: Sequence["ModelSpec"] = ()) -> Executor:
    """The executor ``name`` (None: ``$MER_BENCH_EXECUTOR``, else auto) with ``options`` (only
    those given: a value of None is "not given"), validated by the executor itself."""
    options = {key: value for key, value in (options or {}).items() if value is not None}
    name = name or os.environ.get(EXECUTOR_ENV) or AUTO
    if name == AUTO:
        name = default_executor(options, models, device)
    try:
        cls = EXECUTORS.get(name)
    except UnknownNameError as error:
        raise ConfigError(f"--executor {name}: {error} (or {AUTO}: ray wherever more than one "
                          "fold can train at once)") from None
    foreign = [key for key in options if key not in cls.OPTIONS]
    if foreign:
        owners = [other for other in EXECUTORS.names()
                  if all(key in EXECUTORS.get(other).OPTIONS for key in foreign)]
        flags = ", ".join(flag(key) for key in foreign)
        raise ConfigError(f"{flags} only apply to --executor {' or '.join(owners)}" if owners
                          else f"{flags}: --executor {name} takes no such option")
    return cls.from_options(options, skip_completed=skip_completed, device=device)


def default_executor(options: Mapping[str, Any], models: Sequence["ModelSpec"],
                     device: str) -> str:
    """Ray wherever more than one fold can train at once, else the local executor; an option
    only one of them takes (``--address``, ``--workers``) picks that one."""
    if options:
        for name in (PARALLEL_DEFAULT, SERIAL_DEFAULT):
            if set(options) <= set(EXECUTORS.get(name).OPTIONS):
                return name
    if ":" in device:  # one GPU named: one process trains on it
        return SERIAL_DEFAULT
    return PARALLEL_DEFAULT if worker_slots(models, device) > 1 else SERIAL_DEFAULT


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_slots(models: Sequence["ModelSpec"], device: str = "auto", *,
                 cpus: float | None = None, gpus: float | None = None) -> int:
    """How many folds of these models can train at once here: per model, the CPUs over the CPUs
    it declares and, where folds train on GPUs, the GPUs over its GPU share; the most of any."""
    cpus = available_cpus() if cpus is None else cpus
    gpus = 0 if device == "cpu" else cuda_count() if gpus is None else gpus
    best = 0
    for spec in models or ():
        slots = int(cpus // max(float(spec.resources.get("cpu", 1)), 1e-9))
        share = float(spec.resources.get("gpu", 0))
        if gpus and share > 0:
            slots = min(slots, math.floor(gpus / share + 1e-9))
        best = max(best, slots)
    return best if models else int(cpus)


@dataclass
class BaseExecutor:
    """Options every executor has: where folds train, and whether current records are reused."""

    name: ClassVar[str]
    OPTIONS: ClassVar[tuple[str, ...]] = ()

    skip_completed: bool = False
    device: str = "auto"

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, skip_completed: bool = False,
                     device: str = "auto") -> "BaseExecutor":
        return cls(skip_completed=skip_completed, device=device, **options)

    def preflight(self) -> None:
        pass

    def reserves(self, model: str) -> dict[str, float]:
        """What one fold of ``model`` holds while it trains (CPUs, share of a GPU)."""
        from mer_bench.models import MODELS

        return {"cpu": float(MODELS.get(model).resources.get("cpu", 1)), "gpu": 0.0}

    def describe(self) -> str:
        """One line for a dry run: how folds will run, and on what."""
        return f"executor {self.name}: one fold at a time in this process, on {self.device}"

    def run(self, jobs: Sequence["Job"], store: "ResultStore",
            progress: RunProgress) -> list["JobResult"]:
        from mer_bench.execute.runs import run_jobs

        return run_jobs(self, jobs, store, progress)


def check_positive(option: str, value: float | None, *, whole: bool = True) -> None:
    if value is not None and (value < 1 if whole else value <= 0):
        raise ConfigError(f"{flag(option)} {value:g}: give at least 1" if whole else
                          f"{flag(option)} {value:g}: give a positive number")
