"""The local executor: fold tasks one after another in this process, on one device.

For debugging (a breakpoint stops the only process there is) and for the tests that need it; the
default wherever only one fold can train at a time. It runs the same fold tasks as Ray, through
the same code, so its records are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Sequence

from mer_bench.device import resolve_device
from mer_bench.execute.base import BaseExecutor, TaskProgress

if TYPE_CHECKING:
    from mer_bench.execute.tasks import FoldTask
    from mer_bench.tune.study import StudyRun


@dataclass
class LocalExecutor(BaseExecutor):
    name: ClassVar[str] = "local"
    OPTIONS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.device = resolve_device(self.device)  # a missing GPU is a one-line error now

    def run_tasks(self, tasks: Sequence["FoldTask"], progress: TaskProgress) -> dict[int, str]:
        from mer_bench.execute.tasks import run_task

        for task in tasks:
            progress.task_started(task)
            run_task(task, device=self.device, on_fold=lambda index: progress.fold_kept(task, index))
            progress.task_ended(task)
        return {}  # an error stops the run where it happened

    def optimize(self, study: "StudyRun") -> None:
        from mer_bench.tune.study import optimize_local

        optimize_local(study.study, study.space, study.data, study.cell_seed, study.n_trials,
                       device=self.device)
