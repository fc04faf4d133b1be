"""The planner: a run's wall time and peak memory on 1 to hundreds of workers, before it runs.

`mer-bench plan` (and `mer_bench.api.estimate`) reads the data to count every protocol's folds,
prices each cell's folds from earlier records or timed training steps (`costs`), simulates the
executor's schedule over cells or folds (`schedule`, `estimate`) and names the critical path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import pandas as pd
from filelock import FileLock
from rich.console import Console

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import cache_dir, ensure_twin, twin_is_current
from mer_bench.models import MODELS
from mer_bench.planner.costs import (FROM_STEPS, CellCost, cell_costs, cell_shape, read_timings,
                                     time_setup)
from mer_bench.planner.estimate import (UNITS, PlanRow, describe_path, format_bytes,
                                        format_seconds, simulate_run)
from mer_bench.planner.steps import StepTiming, measure_steps
from mer_bench.protocols import get_protocol
from mer_bench.runner import RunPlan, load_data
from mer_bench.store import Cell

Say = Callable[[str], None]


@dataclass(frozen=True)
class RunEstimate:
    """A plan's rows (one per worker count and unit), the cells' costs and how they were found."""

    rows: list[PlanRow]
    costs: list[CellCost]
    timings: dict[tuple[str, str, int], StepTiming]  # (model, device, copies at once)
    read_s: float
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per worker count and unit of scheduling."""
        return pd.DataFrame([{
            "workers": r.workers, "gpus": r.gpus, "executor": r.executor, "unit": r.unit,
            "wall_s": r.wall_s, "work_s": r.work_s, "utilisation": r.utilisation,
            "worker_memory_bytes": r.worker_memory, "peak_memory_bytes": r.peak_memory,
            "critical_path": " -> ".join(r.critical_path), "critical_tasks": len(r.critical_path),
            "longest_task": r.longest, "longest_task_s": r.longest_s} for r in self.rows])

    def cost_table(self) -> pd.DataFrame:
        """One row per cell: its folds' seconds, setup, memory and where the times came from."""
        return pd.DataFrame([{
            "cell": c.cell.cell_id, "folds": len(c.folds), "fold_s_total": sum(c.folds),
            "fold_s_max": max(c.folds), "setup_s": c.setup_s, "memory_bytes": c.memory,
            "cpus": c.cpus, "gpu": c.gpu, "source": c.source} for c in self.costs])

    def render(self) -> str:
        """The table as `mer-bench plan` prints it, then the notes."""
        from tabulate import tabulate

        rows = [[r.workers, r.gpus, r.executor, r.unit, format_seconds(r.wall_s),
                 format_seconds(r.work_s), f"{r.utilisation:.0%}", format_bytes(r.worker_memory),
                 format_bytes(r.peak_memory), describe_path(r)] for r in self.rows]
        table = tabulate(rows, headers=["workers", "gpus", "executor", "unit", "wall",
                                        "cpu time", "util", "mem/worker", "peak mem",
                                        "critical path"], disable_numparse=True)
        return "\n".join([table, "", *self.notes])


def estimate_plan(plan: RunPlan, *, workers: Sequence[int], gpus: int = 0,
                  units: Sequence[str] = UNITS, say: Say = lambda line: None) -> RunEstimate:
    """Estimate ``plan``'s run on each of ``workers`` (with ``gpus``), per unit of scheduling.

    Reads the data (generating twins that are absent, said through ``say``), reads the records
    under the plan's results folder, times training steps of every model: alone, and as many
    copies at once as workers share this machine's cores (``slowdown``).
    """
    read_s = _read_data(plan, say)
    shapes = {pid: cell_shape(pid, plan.source) for pid in plan.protocols}
    cores = os.cpu_count() or 1
    cuda_here = _cuda_available() if gpus else False
    timings: dict[tuple[str, str, int], StepTiming] = {}
    classes: dict[str, int] = {}

    def device_of(cell: Cell) -> str:
        return "cuda" if gpus and MODELS.get(cell.model).resources.get("gpu", 0) else "cpu"

    def step_timing(model: str, n_classes: int, device: str, copies: int = 1) -> StepTiming:
        classes.setdefault(model, n_classes)
        where = device if device == "cpu" or cuda_here else "cpu"
        if (model, device, copies) not in timings:
            say(f"timing {model}'s training steps on the {where.upper()}"
                + (f", {copies} copies at once" if copies > 1 else ""))
            timings[(model, device, copies)] = measure_steps(
                model, num_classes=classes[model], device=where, copies=copies)
        return timings[(model, device, copies)]

    def slowdown(cost: CellCost, workers: int) -> float:
        """How much slower a job trains beside the others that ``workers`` run at once on
        these cores, for costs from timed steps; records' times are used as they were
        measured."""
        device = device_of(cost.cell)
        side_by_side = max(1, min(workers, cores) // max(1, int(cost.cpus)))
        if side_by_side == 1 or device != "cpu" or cost.source != FROM_STEPS:
            return 1.0
        alone = step_timing(cost.cell.model, classes[cost.cell.model], device)
        together = step_timing(cost.cell.model, classes[cost.cell.model], device, side_by_side)
        return together.step_s / alone.step_s

    costs = cell_costs(plan.cells, shapes, read_timings(plan.results), device_of=device_of,
                       step_timing=step_timing,
                       setup_time=lambda cell: time_setup(cell, plan.source))
    rows = []
    for count in workers:
        slowed = [slowed_by(cost, slowdown(cost, count)) for cost in costs]
        rows += [simulate_run(slowed, workers=count, gpus=gpus, unit=unit, read_s=read_s)
                 for unit in units]
    notes = _notes(plan, costs, timings, read_s, bool(gpus) and not cuda_here, cores)
    return RunEstimate(rows, costs, timings, read_s, notes)


def slowed_by(cost: CellCost, factor: float) -> CellCost:
    """``cost`` with everything its worker does taking ``factor`` times as long."""
    return replace(cost, folds=tuple(seconds * factor for seconds in cost.folds),
                   setup_s=cost.setup_s * factor)


def _read_data(plan: RunPlan, say: Say) -> float:
    """Generate absent twins (not timed: a run finds them made), then time reading the data as
    the run's driver does before its first job."""
    datasets = {name: DATASETS.get(name) for pid in plan.protocols
                for name in get_protocol(pid).datasets}
    if plan.source.is_twin:
        lock = cache_dir() / "twins" / ".generate.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock):
            for dataset in datasets.values():
                if dataset.write_twin is not None and not twin_is_current(dataset, plan.source):
                    say(f"generating the {dataset.title} twin at scale "
                        f"{plan.source.twin_scale:g} (once) in "
                        f"{plan.source.dataset_dir(dataset)}")
                    ensure_twin(dataset, plan.source)
    started = time.perf_counter()
    load_data(plan, Console(quiet=True))
    return time.perf_counter() - started


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _notes(plan: RunPlan, costs: Sequence[CellCost],
           timings: dict[tuple[str, str, int], StepTiming], read_s: float, cpu_for_gpu: bool,
           cores: int) -> list[str]:
    source = plan.source
    data = (f"real data under {source.root}" if source.root else
            f"twins at scale {source.twin_scale:g}, seed {source.twin_seed}")
    folds = sum(len(c.folds) for c in costs)
    by_source: dict[str, int] = {}
    for cost in costs:
        by_source[cost.source] = by_source.get(cost.source, 0) + 1
    notes = [f"{len(costs)} cells, {folds} folds, on {data}; fold counts and training-set sizes "
             "from the protocols' folds on that data",
             "fold times: " + ", ".join(f"{n} cells from {where}" for where, n in
                                        sorted(by_source.items()))
             + f" (records read from {plan.results})"]
    for (model, device, copies), t in sorted(timings.items()):
        if copies > 1:
            alone = timings[(model, device, 1)]
            notes.append(f"{model} with {copies} copies training at once on this machine's "
                         f"{cores} cores: {t.step_s / alone.step_s:.2f}x the time a step "
                         "(applied to folds priced from timed steps when that many workers share "
                         "these cores, and beyond them, as if on machines like this one; times "
                         "from records are used as measured)")
            continue
        used = any(c.cell.model == model and c.source == FROM_STEPS for c in costs)
        notes.append(f"{model} on the {t.device.upper()} ({t.threads} thread"
                     f"{'s' if t.threads > 1 else ''}): "
                     f"{t.step_s * 1000:.1f} ms a training step at batch {t.batch_size}"
                     + (f" (extrapolated from batches {t.timed_batches[0]} and "
                        f"{t.timed_batches[1]})" if t.extrapolated else "") + ", "
                     f"{t.predict_s_per_sample * 1000:.2f} ms a sample to predict; peak RSS of "
                     f"the timing process {format_bytes(t.peak_rss)}"
                     + ("" if used else " (memory only: fold times from records)"))
    setups = [c.setup_s for c in costs]
    notes.append(f"setup a cell (samples, key frames, inputs): {min(setups):.1f}-"
                 f"{max(setups):.1f} s; reading the data before the first job: {read_s:.1f} s; "
                 "executor start-up and leaderboards: constants measured on 2 cores "
                 "(mer_bench/planner/estimate.py)")
    notes.append("memory: a worker is the timing process's peak RSS plus its cell's inputs "
                 "held 6 times over; peak adds Ray's own processes (1 GiB) under Ray")
    if cpu_for_gpu:
        notes.append("no GPU here and no record made on one: CPU times stand in for GPU times")
    notes += [f"skipped {pid}: {reason}" for pid, reason in plan.skipped.items()]
    return notes


__all__ = ["RunEstimate", "estimate_plan"]
