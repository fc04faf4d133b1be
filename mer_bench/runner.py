"""What `mer-bench run` does: plan and check everything up front, load the data, execute, publish.

A run is checked in order of cost, so that a mistake costs seconds, never a half-done run: names
and options, the results folder (writable, records in the current layout), the executor (a Ray
``--address`` is reachable), the data (every dataset folder present and readable). Only then are
datasets read (twins generated), which validates their contents, and only then do jobs start.
A dry run does the same checks, reads real data but generates no twin, and trains nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from filelock import FileLock
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import (DataSource, cache_dir, load_dataset, missing_sample_list,
                                  twin_is_current)
from mer_bench.errors import ConfigError
from mer_bench.execute import Executor, Job, build_executor
from mer_bench.execute.base import TrialsFailed
from mer_bench.keyframes import KEYFRAME_STRATEGIES
from mer_bench.models import MODELS
from mer_bench.protocol_check import check_before_run
from mer_bench.protocols import Protocol, get_protocol
from mer_bench.report.publish import publish
from mer_bench.store import DEFAULT_SELECTION, Cell, JobResult, ResultStore, check_writable
from mer_bench.suites import DEFAULT_TWIN_SCALE, suite_registry

RUNNABLE_SELECTIONS = (DEFAULT_SELECTION, "oracle")

Note = Callable[[str], None]


@dataclass(frozen=True)
class RunPlan:
    """A checked run: the cells to run, the protocols skipped (and why), where it all goes, and
    the executor that will run it."""

    cells: list[Cell]
    skipped: dict[str, str]
    source: DataSource
    results: Path
    runner: Executor
    notes: list[str] = field(default_factory=list)

    @property
    def protocols(self) -> list[str]:
        return list(dict.fromkeys(cell.protocol for cell in self.cells))


def twin_scale_for(suite: str | None, twin_scale: float | None) -> float:
    """The rule for training commands: ``--twin-scale`` if given, else the suite's own scale,
    else DEFAULT_TWIN_SCALE (the oracle and quick suites' scale, so records land beside theirs)."""
    if twin_scale is not None:
        return twin_scale
    return suite_registry().get(suite).twin_scale if suite else DEFAULT_TWIN_SCALE


def unique(flag: str, values: Sequence, notes: list[str],
           canonical: Callable[[str], str] | None = None) -> list:
    """``values`` in their canonical spelling, duplicates dropped with a note."""
    kept: dict = {}
    for value in values:
        key = canonical(value) if canonical else value
        if key in kept:
            same = f" (the same as {kept[key]})" if kept[key] != value else ""
            notes.append(f"note: {flag} {value} given twice{same}; running it once")
            continue
        kept[key] = value
    return list(kept)


def expand_cells(suite: str | None, protocols: Sequence[str] | None, models: Sequence[str] | None,
                 keyframes: Sequence[str] | None, seeds: Sequence[int] | None,
                 selections: Sequence[str] | None = None, *, data: str,
                 notes: list[str] | None = None) -> list[Cell]:
    """The job matrix: a suite's lists, each overridden by the explicit options given.

    Names are checked here (unknown names and options are one-line errors) and written in their
    canonical form (``gamdss[distance=pixel]`` is ``gamdss``), so one configuration has one record.
    """
    notes = [] if notes is None else notes
    base = suite_registry().get(suite) if suite else None
    protocols = protocols or (base.protocol_ids() if base else ())
    models = models or (base.models if base else ("ststnet",))
    keyframes = keyframes or (base.keyframes if base else ("annotated", "gamdss"))
    seeds = seeds or (base.seeds if base else (0,))
    selections = selections or (base.selections if base else (DEFAULT_SELECTION,))
    for name in protocols:
        get_protocol(name)
    for name in selections:
        if name not in RUNNABLE_SELECTIONS:
            hint = ("; tuned cells come from 'mer-bench tune'" if name == "optuna-nested" else "")
            raise ConfigError(f"--selection {name}: use one of {', '.join(RUNNABLE_SELECTIONS)}{hint}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"--seed {seed}: give a whole number, 0 or more")
    for spec in keyframes:
        KEYFRAME_STRATEGIES.create(spec)  # option values checked by the strategy itself
    protocols = unique("--protocol", protocols, notes)
    models = unique("--model", models, notes, MODELS.canonical)
    keyframes = unique("--keyframes", keyframes, notes, KEYFRAME_STRATEGIES.canonical)
    seeds = unique("--seed", seeds, notes)
    selections = unique("--selection", selections, notes)
    return [Cell(p, MODELS.canonical(m), KEYFRAME_STRATEGIES.canonical(k), s, sel, data=data)
            for p in protocols for m in models for k in keyframes for s in seeds
            for sel in selections]


def make_executor(name: str | None, *, options: Mapping[str, Any] | None = None,
                  skip_completed: bool = False, device: str = "auto",
                  cells: Sequence[Cell] = ()) -> Executor:
    """The executor ``name`` (None: ``$MER_BENCH_EXECUTOR``, else auto: Ray where more than one
    fold of these cells' models can train at once), built from the options given; the executor
    checks its own options and refuses those it does not take."""
    models = [MODELS.get(model) for model in dict.fromkeys(cell.model for cell in cells)]
    return build_executor(name, options, skip_completed=skip_completed, device=device,
                          models=models)


def plan_run(cells: Sequence[Cell], *, source: DataSource, results: Path, runner: Executor,
             notes: Sequence[str] = ()) -> RunPlan:
    """Every check that needs no data read: results folder, executor, data present.

    Raises a one-line error when nothing would run (every protocol's data missing).
    """
    check_writable(results, "results folder", create=False)
    ResultStore(results).check_layout()
    preflight = getattr(runner, "preflight", None)
    if preflight is not None:
        preflight()  # e.g. a Ray --address that nothing listens on
    missing = {pid: items for pid in dict.fromkeys(cell.protocol for cell in cells)
               if (items := missing_data(get_protocol(pid), source))}
    where = f"under {source.root}" if source.root else "as synthetic twins"
    skipped = {pid: f"no {', '.join(items)} {where}" for pid, items in missing.items()}
    usable = [cell for cell in cells if cell.protocol not in skipped]
    plan = RunPlan(usable, skipped, source, Path(results), runner, list(notes))
    if not usable:
        raise ConfigError(nothing_to_run(plan, missing))
    return plan


def missing_data(protocol: Protocol, source: DataSource) -> list[str]:
    """What the protocol needs from ``source`` and does not find there (folders, sample lists)."""
    missing = []
    for dataset in (DATASETS.get(name) for name in protocol.datasets):
        if source.is_twin:
            if dataset.write_twin is None:
                missing.append(f"{dataset.folder}/ (it has no synthetic twin; pass --data-root)")
            continue
        folder = source.dataset_dir(dataset)
        if not dataset.present_in(folder):  # SMIC: the camera's own folder, not just SMIC/
            missing.append(dataset.looked_for)
        elif not os.access(folder, os.R_OK | os.X_OK):
            missing.append(f"{dataset.folder}/ (not readable: fix its permissions)")
    absent_list = missing_sample_list(protocol, source)
    if absent_list:
        missing.append(absent_list.relative_to(source.root).as_posix())
    return missing


def nothing_to_run(plan: RunPlan, missing: dict[str, list[str]]) -> str:
    wanted = sorted({item for items in missing.values() for item in items})
    where = f"under {plan.source.root}" if plan.source.root else "as synthetic twins"
    return (f"nothing to run: none of the {len(missing)} requested protocols has its data "
            f"{where} (missing: {', '.join(wanted)}); check --data-root, or leave it out to "
            "run on the synthetic twins")


def load_data(plan: RunPlan, console: Console, *, generate_twins: bool = True) -> None:
    """Read every dataset of the plan once (generating twins first), so that bad data stops the
    run before anything is written. Twins are generated under a lock in the cache: two runs
    never write the same twin at once."""
    datasets = {name: DATASETS.get(name) for pid in plan.protocols
                for name in get_protocol(pid).datasets}
    if plan.source.is_twin:
        if not generate_twins:
            return
        lock = cache_dir() / "twins" / ".generate.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock):
            _read_datasets(datasets.values(), plan.source, console)
    else:
        _read_datasets(datasets.values(), plan.source, console)
    for protocol_id in plan.protocols:
        # counts, errata, exclusions, the sample list used; on real data a count mismatch stops
        # the run here unless --allow-count-mismatch
        check_before_run(get_protocol(protocol_id), plan.source, lambda line: _say(console, line))


def _read_datasets(datasets, source: DataSource, console: Console) -> None:
    for dataset in datasets:
        if source.is_twin and not twin_is_current(dataset, source):
            _say(console, f"generating the {dataset.title} twin at scale {source.twin_scale:g} "
                          f"(once) in {source.dataset_dir(dataset)}")
        load_dataset(dataset, source)  # reads, corrects and validates; --strict stops here


def _say(console: Console, line: str) -> None:
    console.print(line, highlight=False, markup=False, soft_wrap=True)


class ProgressDisplay:
    """One bar over jobs and one over the folds of the job that last reported one (jobs may
    run side by side)."""

    def __init__(self, progress: Progress, n_jobs: int) -> None:
        self.progress = progress
        self.jobs = progress.add_task("jobs", total=n_jobs)
        self.folds = progress.add_task("folds", total=None)

    def job_started(self, job: Job, folds: int | None = None) -> None:
        self.progress.update(self.folds, completed=0, total=folds,
                             description=job.cell.cell_id)

    def fold_done(self, job: Job, done: int, total: int) -> None:
        self.progress.update(self.folds, completed=done, total=total,
                             description=job.cell.cell_id)

    def job_done(self, job: Job, result: JobResult | None) -> None:
        self.progress.advance(self.jobs)
        if result is not None:
            m = result.metrics
            self.progress.console.print(
                f"{job.cell.cell_id}: acc {m.accuracy:.4f}  UF1 {m.uf1:.4f}  UAR {m.uar:.4f}  "
                f"({result.wall_time_s:.1f} s)", highlight=False, markup=False, soft_wrap=True)


def describe_plan(plan: RunPlan) -> str:
    """The job matrix with what each fold reserves and whether a current record exists, the
    executor and device, then the protocols that will be skipped and why."""
    from tabulate import tabulate

    from mer_bench.execute.job import completed_record

    store = ResultStore(plan.results)
    rows = []
    for cell in plan.cells:
        resources = plan.runner.reserves(cell.model)
        job = Job(cell, plan.source)
        status = ("done" if completed_record(job, store) else
                  "stale record" if store.has(cell) else "to run")
        rows.append([cell.protocol, cell.model, cell.keyframes, cell.seed, cell.selection,
                     f"{resources.get('cpu', 1):g}",
                     f"{resources.get('gpu', 0):g}", status])
    table = tabulate(rows, headers=["protocol", "model", "keyframes", "seed", "selection", "cpus",
                                    "gpu share", "status"], disable_numparse=True)
    to_run = sum(row[-1] != "done" for row in rows)
    source = plan.source
    data = (f"real data under {source.root}" if source.root else
            f"synthetic twins at scale {source.twin_scale:g}, seed {source.twin_seed}")
    lines = [table, f"{len(rows)} jobs on {data} (records in {store.records_dir / plan.cells[0].data}); "
                    f"{to_run} to run, {len(rows) - to_run} with a current record (reused with "
                    "--skip-completed).", plan.runner.describe()]
    lines += [f"skipped {pid}: {reason}" for pid, reason in plan.skipped.items()]
    return "\n".join(lines)


def run_plan(plan: RunPlan, *, console: Console) -> list[JobResult]:
    """Load the data, run every job, publish the leaderboards (under the results folder's lock)."""
    for pid, reason in plan.skipped.items():
        _say(console, f"skipping {pid}: {reason}")
    load_data(plan, console)
    results = check_writable(plan.results, "results folder")
    store = ResultStore(results)
    jobs = [Job(cell, plan.source) for cell in plan.cells]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            records = plan.runner.run(jobs, store, ProgressDisplay(progress, len(jobs)))
    except TrialsFailed:
        publish_store(store, allow_empty=True)  # what did finish; the failure is the exit status
        raise
    path = publish_store(store)
    _say(console, f"wrote {len(records)} records and {path}")
    return records


def publish_store(store: ResultStore, *, allow_empty: bool = False) -> Path | None:
    """Regenerate the leaderboards from every record of the store, holding its lock, so that two
    runs publishing at once never leave pages that disagree."""
    if not store.records_dir.is_dir():  # nothing to lock, nothing to publish
        return None if allow_empty else publish([], store.root, records_dir=store.records_dir)
    with store.lock():
        records = store.load_all()
        if not records and allow_empty:
            return None
        return publish(records, store.root, records_dir=store.records_dir)

