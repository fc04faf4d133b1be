"""The executor interface and registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

from mer_bench.errors import MerBenchError
from mer_bench.registry import Registry

if TYPE_CHECKING:
    from mer_bench.execute.job import Job
    from mer_bench.store import JobResult, ResultStore


class TrialsFailed(MerBenchError):
    """Some jobs still failed after their retries; the other jobs' records were written."""

    exit_code = 1


class RunProgress(Protocol):
    """What an executor reports while it works (a progress bar, a log, or nothing)."""

    def job_started(self, job: "Job", folds: int | None = None) -> None: ...

    def fold_done(self, done: int, total: int) -> None: ...

    def job_done(self, job: "Job", result: "JobResult | None") -> None: ...


class Executor(Protocol):
    """Runs jobs. It may also have ``preflight()``: checks of its own options that cost no data
    and no training (a run calls it before reading any dataset)."""

    name: str

    def run(self, jobs: Sequence["Job"], store: "ResultStore",
            progress: RunProgress) -> list["JobResult"]:
        """Run ``jobs``, write each record to ``store`` as it completes, return the records."""


EXECUTORS: Registry[type] = Registry("executor", entry_point_group="mer_bench.executors")
EXECUTORS.register("local", "mer_bench.execute.local:LocalExecutor")
EXECUTORS.register("ray", "mer_bench.execute.ray_tune:RayExecutor")
