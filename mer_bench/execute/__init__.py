"""Executors: run a list of jobs and store their records; all share one interface."""

from mer_bench.execute.base import EXECUTORS, Executor, RunProgress
from mer_bench.execute.job import Job, run_job

__all__ = ["EXECUTORS", "Executor", "Job", "RunProgress", "run_job"]
