"""Executors: run jobs fold by fold and store their records; all share one interface."""

from mer_bench.execute.base import EXECUTORS, Executor, RunProgress, build_executor
from mer_bench.execute.job import Job, run_job

__all__ = ["EXECUTORS", "Executor", "Job", "RunProgress", "build_executor", "run_job"]
