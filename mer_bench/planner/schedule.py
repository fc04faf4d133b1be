"""List scheduling of benchmark tasks (cells or folds) on a pool of CPUs and GPUs, simulated.

Each task reserves its CPUs and its share of one GPU for as long as it runs, as the Ray executor
reserves a model's resources per trial. Tasks are tried in submission order whenever resources
free up, and any task that fits starts (a later, smaller task may pass a blocked larger one, as
Ray does with pending placement groups). A fractional GPU share must fit on a single GPU; a
whole number of GPUs takes that many free GPUs.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Sequence

EPSILON = 1e-9


@dataclass(frozen=True)
class Task:
    """One unit of scheduling: a cell (all its folds in series) or one fold."""

    name: str
    seconds: float
    cpus: float = 1.0
    gpu: float = 0.0  # a share of one GPU (0, 1], or a whole number of GPUs
    memory: float = 0.0  # bytes held while it runs


@dataclass(frozen=True)
class Cluster:
    cpus: float
    gpus: int = 0


@dataclass(frozen=True)
class Placement:
    task: Task
    start: float
    end: float
    # the placement whose end freed what this one needed (None: it started at time 0)
    after: int | None


@dataclass(frozen=True)
class Schedule:
    cluster: Cluster
    placements: tuple[Placement, ...]

    @property
    def makespan(self) -> float:
        return max((p.end for p in self.placements), default=0.0)

    @property
    def work(self) -> float:
        """CPU-seconds reserved by all tasks."""
        return sum(p.task.seconds * p.task.cpus for p in self.placements)

    def utilisation(self, wall: float | None = None) -> float:
        """Reserved CPU-seconds over the CPU-seconds available during ``wall`` (default: the
        makespan)."""
        wall = self.makespan if wall is None else wall
        return self.work / (self.cluster.cpus * wall) if wall > 0 else 0.0

    def peak_memory(self) -> float:
        """The most memory held at once by running tasks."""
        events = sorted([(p.start, p.task.memory) for p in self.placements]
                        + [(p.end, -p.task.memory) for p in self.placements])
        held = peak = 0.0
        for _, change in events:  # at equal times releases (negative) sort first
            held += change
            peak = max(peak, held)
        return peak

    def critical_path(self) -> list[Placement]:
        """The chain of tasks that ends last: each started when the one before it ended."""
        if not self.placements:
            return []
        index: int | None = max(range(len(self.placements)),
                                key=lambda i: (self.placements[i].end, -i))
        chain = []
        while index is not None:
            chain.append(self.placements[index])
            index = self.placements[index].after
        return chain[::-1]


def simulate(tasks: Sequence[Task], cluster: Cluster) -> Schedule:
    """Schedule ``tasks`` (in submission order) on ``cluster``; raises ValueError if a task can
    never fit."""
    for task in tasks:
        if not fits_ever(task, cluster):
            raise ValueError(f"{task.name} needs {task.cpus:g} CPUs and {task.gpu:g} GPU; the "
                             f"cluster has {cluster.cpus:g} CPUs and {cluster.gpus} GPUs")
    free_cpus = float(cluster.cpus)
    free_gpu = [1.0] * cluster.gpus
    pending = list(range(len(tasks)))
    placed: list[Placement | None] = [None] * len(tasks)
    held: dict[int, list[tuple[int, float]]] = {}  # task -> [(gpu, share)]
    running: list[tuple[float, int]] = []  # (end, task)
    now, freed_by = 0.0, None
    while pending:
        waiting = []
        for i in pending:
            task = tasks[i]
            gpus = _take_gpus(task.gpu, free_gpu) if task.cpus <= free_cpus + EPSILON else None
            if gpus is None:
                waiting.append(i)
                continue
            free_cpus -= task.cpus
            held[i] = gpus
            placed[i] = Placement(task, now, now + task.seconds, freed_by)
            heapq.heappush(running, (now + task.seconds, i))
        pending = waiting
        if not pending:
            break
        now, freed_by = heapq.heappop(running)
        free_cpus += tasks[freed_by].cpus
        for gpu, share in held.pop(freed_by):
            free_gpu[gpu] += share
    return Schedule(cluster, tuple(placed))  # type: ignore[arg-type]


def fits_ever(task: Task, cluster: Cluster) -> bool:
    """Whether ``task`` fits on ``cluster`` when nothing else runs."""
    return (task.cpus <= cluster.cpus + EPSILON
            and _take_gpus(task.gpu, [1.0] * cluster.gpus) is not None)


def _take_gpus(share: float, free: list[float]) -> list[tuple[int, float]] | None:
    """Reserve ``share`` in ``free`` (first fit) and say where; None if it does not fit now."""
    if share <= EPSILON:
        return []
    if share <= 1 + EPSILON:
        for gpu, left in enumerate(free):
            if left >= share - EPSILON:
                free[gpu] -= share
                return [(gpu, share)]
        return None
    whole = [gpu for gpu, left in enumerate(free) if left >= 1 - EPSILON][:round(share)]
    if len(whole) < round(share):
        return None
    for gpu in whole:
        free[gpu] -= 1.0
    return [(gpu, 1.0) for gpu in whole]
