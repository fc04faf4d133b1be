"""The driver-side Tune callback behind the ray executor's progress reports.

Its own module, imported only once Ray is: Tune pickles callbacks with the experiment state, and a
class defined at module level pickles by reference. The live display (locks, a console) cannot be
pickled at all, so the callback holds only a key into ``_DRIVER_STATE``.

Trials are chunks of fold tasks; a task has started when its first chunk starts and has ended
when all its chunks have (completed, or failed for good).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from ray.tune import Callback

from mer_bench.execute.base import TaskProgress
from mer_bench.execute.tasks import FoldTask


@dataclass
class _Run:
    tasks: Sequence[FoldTask]
    owner: Sequence[int]  # per chunk (trial key), the position of its task
    progress: TaskProgress
    started: set[int] = field(default_factory=set)
    open_chunks: dict[int, int] = field(default_factory=dict)  # task position -> chunks not ended

    def __post_init__(self) -> None:
        for position in self.owner:
            self.open_chunks[position] = self.open_chunks.get(position, 0) + 1


_DRIVER_STATE: dict[str, _Run] = {}


class ProgressCallback(Callback):
    """Task started / fold kept / task ended, from trial events."""

    def __init__(self, key: str) -> None:
        self.key = key

    @classmethod
    def attach(cls, tasks: Sequence[FoldTask], owner: Sequence[int],
               progress: TaskProgress) -> "ProgressCallback":
        key = uuid.uuid4().hex
        _DRIVER_STATE[key] = _Run(tasks, owner, progress)
        return cls(key)

    def detach(self) -> None:
        _DRIVER_STATE.pop(self.key, None)

    def _task(self, trial: Any) -> tuple[_Run, int]:
        run = _DRIVER_STATE[self.key]
        return run, run.owner[trial.config["chunk"]["key"]]

    def on_trial_start(self, iteration, trials, trial, **info):
        run, position = self._task(trial)
        if position not in run.started:
            run.started.add(position)
            run.progress.task_started(run.tasks[position])

    def on_trial_result(self, iteration, trials, trial, result, **info):
        run, position = self._task(trial)
        index = int(result.get("fold", -1))
        if index >= 0:
            run.progress.fold_kept(run.tasks[position], index)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._chunk_ended(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._chunk_ended(trial)

    def _chunk_ended(self, trial: Any) -> None:
        run, position = self._task(trial)
        run.open_chunks[position] -= 1
        if run.open_chunks[position] == 0:
            run.progress.task_ended(run.tasks[position])
