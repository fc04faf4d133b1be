"""Running jobs on any executor: reuse current records, turn the rest into fold tasks (adopting
the folds a killed run kept, when resuming), run them, report, and collect the records."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from mer_bench.execute.base import RunProgress, TrialsFailed
from mer_bench.execute.cell import count_folds
from mer_bench.execute.job import Job, completed_record, expected_config_hash
from mer_bench.execute.tasks import (RECORD, FoldTask, adopt_staged, drop_other_configs,
                                     new_run_id, stage_root)
from mer_bench.store import Cell, JobResult, ResultStore, check_writable

if TYPE_CHECKING:
    from mer_bench.execute.base import Executor


def plan_task(job: Job, results: Path, run_id: str, *, resume: bool, kind: str = RECORD,
              features: str | None = None) -> FoldTask:
    """The task of every fold of ``job`` still to train; ``resume`` adopts the folds earlier
    runs of the same config kept, and drops those of other configs."""
    config_hash = expected_config_hash(job)
    n_folds = count_folds(job.cell, job.source)
    root = stage_root(results, job.cell, kind, config_hash)
    stage = root / run_id
    staged: set[int] = set()
    if resume:
        staged = adopt_staged(root, stage)
        drop_other_configs(results, job.cell, kind, keep=root)
    return FoldTask(job=job, folds=tuple(i for i in range(n_folds) if i not in staged),
                    n_folds=n_folds, results=Path(results), stage=stage,
                    config_hash=config_hash, record=kind == RECORD, features=features)


class JobProgress:
    """Fold-task events, reported as job events to a run's display."""

    def __init__(self, progress: RunProgress, store: ResultStore,
                 written: "dict[Cell, int | None]") -> None:
        self.progress, self.store, self.before = progress, store, written
        self.kept: Counter[Cell] = Counter()

    def task_started(self, task: FoldTask) -> None:
        self.kept[task.job.cell] = task.n_folds - len(task.folds)
        self.progress.job_started(task.job, task.n_folds)

    def fold_kept(self, task: FoldTask, index: int) -> None:
        self.kept[task.job.cell] += 1
        self.progress.fold_done(task.job, self.kept[task.job.cell], task.n_folds)

    def task_ended(self, task: FoldTask) -> None:
        cell = task.job.cell
        written = record_stamp(self.store, cell) != self.before[cell]
        self.progress.job_done(task.job, self.store.load(cell) if written else None)


def run_jobs(executor: "Executor", jobs: Sequence[Job], store: ResultStore,
             progress: RunProgress) -> list[JobResult]:
    """Run ``jobs`` fold by fold on ``executor``; each record is written when its last fold
    ends. Raises TrialsFailed (after the other records are written) if some never were."""
    results = check_writable(store.root, "results folder")
    run_id = new_run_id()
    done: dict[Cell, JobResult] = {}
    tasks = []
    for job in jobs:
        record = completed_record(job, store) if executor.skip_completed else None
        if record is not None:
            done[job.cell] = record
            progress.job_done(job, record)
        else:
            tasks.append(plan_task(job, results, run_id, resume=executor.skip_completed))
    if tasks:
        before = {task.job.cell: record_stamp(store, task.job.cell) for task in tasks}
        errors = executor.run_tasks(tasks, JobProgress(progress, store, before))
        failed = {task.job.cell: errors.get(i, "the task ended without writing its record")
                  for i, task in enumerate(tasks)
                  if record_stamp(store, task.job.cell) == before[task.job.cell]}
        if failed:
            raise TrialsFailed(
                f"{len(failed)} of {len(tasks)} jobs failed after their retries "
                f"({', '.join(cell.cell_id for cell in failed)}): {next(iter(failed.values()))}. "
                "Those cells have no record (the folds they finished are kept for --resume); "
                "the others were written")
    return [done[job.cell] if job.cell in done else store.load(job.cell) for job in jobs]


def record_stamp(store: ResultStore, cell: Cell) -> int | None:
    """When the cell's record was last written (None: no record); a rewrite changes it."""
    path = store.path_of(cell) / "record.json"
    return path.stat().st_mtime_ns if path.is_file() else None
