"""The local executor: jobs run one after another in this process (tests and CI use it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from mer_bench.execute.base import RunProgress
from mer_bench.execute.job import Job, completed_record, run_job
from mer_bench.store import JobResult, ResultStore


@dataclass
class LocalExecutor:
    name: str = "local"
    skip_completed: bool = False

    def run(self, jobs: Sequence[Job], store: ResultStore,
            progress: RunProgress) -> list[JobResult]:
        results = []
        for job in jobs:
            done = completed_record(job, store) if self.skip_completed else None
            if done is not None:
                progress.job_done(job, done)
                results.append(done)
                continue
            progress.job_started(job)
            result = run_job(job, on_fold=progress.fold_done)
            store.write(result)
            progress.job_done(job, result)
            results.append(result)
        return results
