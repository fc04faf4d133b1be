"""A run's wall time, utilisation and peak memory on a number of workers, from its cells' costs.

A worker is one CPU an executor may reserve (Ray's ``num_cpus``, summed over a cluster's nodes).
One worker means the local executor: cells one after another in the driver process. More mean
Ray: each task reserves its model's CPUs, and its GPU share where there are GPUs. Three units of
scheduling are simulated: ``chunk`` (what the Ray executor does: every cell cut into chunks of
consecutive folds, enough to keep every worker busy, by the executor's own `chunk_sizes`),
``cell`` (a task runs every fold of its cell in series) and ``fold`` (each fold is a task of its
own). Each task pays its cell's setup, as a trial that loads its cell's inputs does. The local
executor runs a cell's folds in series whatever the unit.

The wall time is the driver's start (process start, reading every dataset, the executor's
start-up) + the simulated schedule + writing the leaderboards. The executors' constants below
were measured on the project's 2-core machine; `results/throughput.md` compares the estimate
with a measured run on the machine it was made on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from mer_bench.errors import ConfigError
from mer_bench.planner.costs import CellCost
from mer_bench.planner.schedule import Cluster, Task, fits_ever, simulate

UNITS = ("chunk", "cell", "fold")
GIB = 1024 ** 3


@dataclass(frozen=True)
class Overheads:
    """What an executor costs outside its tasks."""

    start_s: float  # before the first task: process start and imports, the executor's start-up
    per_task_s: float  # each task: scheduling it and carrying its result back
    end_s: float  # after the last task: writing the leaderboards
    memory: float  # bytes held by the executor's own processes


# Measured on the project's 2-core machine, shared (load average 4-8), from `mer-bench run
# --suite quick` with four seeds and `--suite megc2019 --seed 0 --twin-scale 0.15`, as the time
# from the process's start to its first job, between jobs, and from its last job to its exit:
# local 8-17 s, 0 s, 6 s; Ray (embedded `ray.init`, or joining a 2-node loopback cluster: Tune
# starting its trial actors included) 24-50 s, under 1 s on a reused actor, 11-12 s.
LOCAL = Overheads(start_s=10.0, per_task_s=0.0, end_s=6.0, memory=0.0)
RAY = Overheads(start_s=30.0, per_task_s=0.5, end_s=10.0, memory=1.0 * GIB)


def executor_for(workers: int) -> str:
    """The executor a run on ``workers`` uses: local for one, Ray for more."""
    return "local" if workers == 1 else "ray"


@dataclass(frozen=True)
class PlanRow:
    workers: int
    gpus: int
    executor: str
    unit: str
    wall_s: float
    work_s: float  # CPU-seconds the tasks reserve
    utilisation: float  # work over workers x wall
    worker_memory: float  # bytes: the most one task holds
    peak_memory: float  # bytes: running tasks at their most, plus the executor's processes
    tasks: int  # tasks scheduled
    critical_path: tuple[str, ...]  # the chain of tasks that ends last, in order
    longest: str  # the longest task on that chain
    longest_s: float


def simulate_run(costs: Sequence[CellCost], *, workers: int, gpus: int = 0, unit: str = "chunk",
                 read_s: float = 0.0) -> PlanRow:
    """Schedule ``costs`` on ``workers`` (and ``gpus``) and read the wall time off the schedule.

    ``read_s`` is the driver's reading of every dataset before the first task.
    """
    if unit not in UNITS:
        raise ConfigError(f"unit {unit!r}: use one of {', '.join(UNITS)}")
    executor = executor_for(workers)
    overheads = LOCAL if executor == "local" else RAY
    cluster = Cluster(1, 0) if executor == "local" else Cluster(workers, gpus)
    tasks = build_tasks(costs, unit=unit if executor == "ray" else "cell", gpus=gpus,
                        per_task_s=overheads.per_task_s, serial=executor == "local",
                        slots=_slots(costs, cluster, gpus))
    if executor == "ray":
        _check_fits(costs, cluster, gpus)
    schedule = simulate(tasks, cluster)
    wall = overheads.start_s + read_s + schedule.makespan + overheads.end_s
    chain = schedule.critical_path()
    longest = max(chain, key=lambda p: p.task.seconds)
    return PlanRow(
        workers=workers, gpus=gpus, executor=executor, unit=unit, wall_s=wall,
        work_s=schedule.work, utilisation=schedule.utilisation(wall),
        worker_memory=max(c.memory for c in costs),
        peak_memory=schedule.peak_memory() + overheads.memory, tasks=len(tasks),
        critical_path=tuple(p.task.name for p in chain),
        longest=longest.task.name, longest_s=longest.task.seconds)


def _slots(costs: Sequence[CellCost], cluster: Cluster, gpus: int) -> int:
    """Tasks that fit side by side, as the Ray executor counts them: the fewest of any model."""
    fits = [cluster.cpus / c.cpus for c in costs if c.cpus > 0]
    fits += [gpus / c.gpu for c in costs if gpus and c.gpu > 0]
    return max(1, int(min(fits, default=1) + 1e-9))


def build_tasks(costs: Sequence[CellCost], *, unit: str, gpus: int, per_task_s: float,
                serial: bool, slots: int = 1) -> list[Task]:
    """Tasks in the order an executor submits them: cells in run order, a cell's folds in fold
    order. ``serial`` (the local executor): one task at a time, whatever it reserves. ``slots``
    (tasks that fit side by side) sets how finely the ``chunk`` unit cuts cells."""
    from mer_bench.execute.ray_tune import chunk_sizes

    tasks = []
    for cost in costs:
        cpus, gpu = (1.0, 0.0) if serial else (cost.cpus, cost.gpu if gpus else 0.0)
        name = cost.cell.cell_id.split("/", 1)[1]  # every cell of a run shares its data
        if unit == "cell":
            tasks.append(Task(name, cost.seconds + per_task_s, cpus, gpu, cost.memory))
            continue
        if unit == "fold":
            tasks.extend(Task(f"{name} fold {i}", cost.setup_s + seconds + per_task_s, cpus, gpu,
                              cost.memory)
                         for i, seconds in enumerate(cost.folds))
            continue
        start = 0
        for size in chunk_sizes(len(cost.folds), len(costs), slots):
            label = (name if size == len(cost.folds) else f"{name} fold {start}" if size == 1
                     else f"{name} folds {start}-{start + size - 1}")
            tasks.append(Task(label, cost.setup_s + sum(cost.folds[start:start + size])
                              + per_task_s, cpus, gpu, cost.memory))
            start += size
    return tasks


def _check_fits(costs: Sequence[CellCost], cluster: Cluster, gpus: int) -> None:
    for cost in costs:
        probe = Task(cost.cell.model, 0.0, cost.cpus, cost.gpu if gpus else 0.0)
        if not fits_ever(probe, cluster):
            need = (f"{cost.cpus:g} CPUs" if cost.cpus > cluster.cpus
                    else f"{cost.gpu:g} of a GPU" if cost.gpu <= 1 else f"{cost.gpu:g} GPUs")
            raise ConfigError(f"{cost.cell.model} reserves {need} a job, more than "
                              f"{cluster.cpus:g} workers and {gpus} GPUs give; plan with more")


def describe_path(row: PlanRow) -> str:
    """The critical path in a few words: one task alone, every task in series, or a chain."""
    longest = f"{row.longest} ({format_seconds(row.longest_s)})"
    if len(row.critical_path) == 1:
        return longest
    if len(row.critical_path) == row.tasks:
        return f"all {row.tasks} tasks in series; longest {longest}"
    return (f"{len(row.critical_path)} tasks in series ending {row.critical_path[-1]}; "
            f"longest {longest}")


def format_seconds(seconds: float) -> str:
    """``42 s``, ``14m 05s``, ``2h 03m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_bytes(size: float) -> str:
    return f"{size / GIB:.2f} GiB"

