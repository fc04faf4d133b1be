"""The driver-side Tune callback behind the ray executor's one progress display.

Its own module, imported only once Ray is: Tune pickles callbacks with the experiment state, and a
class defined at module level pickles by reference. The live display (locks, a console) cannot be
pickled at all, so the callback holds only a key into ``_DRIVER_STATE``.
"""

from __future__ import annotations

import uuid
from typing import Any

from ray.tune import Callback

from mer_bench.execute.base import RunProgress
from mer_bench.execute.job import Job
from mer_bench.store import Cell, ResultStore

_DRIVER_STATE: dict[str, tuple[dict[Cell, Job], ResultStore, RunProgress]] = {}


class ProgressCallback(Callback):
    """Trial start / per-fold results / completion / error, reported to the run's display."""

    def __init__(self, key: str) -> None:
        self.key = key

    @classmethod
    def attach(cls, jobs: dict[Cell, Job], store: ResultStore,
               progress: RunProgress) -> "ProgressCallback":
        key = uuid.uuid4().hex
        _DRIVER_STATE[key] = (jobs, store, progress)
        return cls(key)

    def detach(self) -> None:
        _DRIVER_STATE.pop(self.key, None)

    def _state(self, trial: Any) -> tuple[Job, ResultStore, RunProgress]:
        jobs, store, progress = _DRIVER_STATE[self.key]
        return jobs[Cell.from_dict(trial.config["job"]["cell"])], store, progress

    def on_trial_start(self, iteration, trials, trial, **info):
        job, _, progress = self._state(trial)
        progress.job_started(job)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        _, _, progress = self._state(trial)
        progress.fold_done(int(result.get("folds_done", 0)), int(result.get("folds", 0)))

    def on_trial_complete(self, iteration, trials, trial, **info):
        job, store, progress = self._state(trial)
        progress.job_done(job, store.load(job.cell) if store.has(job.cell) else None)

    def on_trial_error(self, iteration, trials, trial, **info):
        job, _, progress = self._state(trial)
        progress.job_done(job, None)
