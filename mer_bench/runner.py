"""What `mer-bench run` does: expand cells, check data and names up front, execute, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import (DataSource, load_dataset, missing_sample_list, protocol_samples,
                                  resolve_data_source, twin_is_current, twin_scale_of)
from mer_bench.errors import ConfigError
from mer_bench.execute import EXECUTORS, Job
from mer_bench.keyframes import KEYFRAME_STRATEGIES
from mer_bench.models import MODELS
from mer_bench.protocols import LabelledSample, Protocol, get_protocol
from mer_bench.report.leaderboard import write_leaderboard
from mer_bench.store import Cell, JobResult, ResultStore
from mer_bench.suites import suite_registry


def expand_cells(suite: str | None, protocols: Sequence[str] | None, models: Sequence[str] | None,
                 keyframes: Sequence[str] | None, seeds: Sequence[int] | None) -> list[Cell]:
    """The job matrix: a suite's lists, each overridden by the explicit options given."""
    base = suite_registry().get(suite) if suite else None
    protocols = protocols or (base.protocol_ids() if base else ())
    models = models or (base.models if base else ("ststnet",))
    keyframes = keyframes or (base.keyframes if base else ("annotated", "gamdss"))
    seeds = seeds or (base.seeds if base else (0,))
    for name in protocols:
        get_protocol(name)
    for name in models:
        MODELS.get(name)
    for name in keyframes:
        KEYFRAME_STRATEGIES.get(name)
    return [Cell(p, m, k, s) for p in protocols for m in models for k in keyframes for s in seeds]


def _usable_cells(cells: Sequence[Cell], source: DataSource, console: Console) -> list[Cell]:
    """Read every dataset once before any job runs, so bad data fails before anything is written.

    With a real data root, protocols with a dataset absent are skipped with a note.
    """
    usable, verdicts = [], {}
    for cell in cells:
        if cell.protocol not in verdicts:
            verdicts[cell.protocol] = _check_protocol(get_protocol(cell.protocol), source, console)
        if verdicts[cell.protocol]:
            usable.append(cell)
    if not usable:
        raise ConfigError("none of the requested protocols has its data under "
                          f"{source.root}; check --data-root or run without it to use twins")
    return usable


def _check_protocol(protocol: Protocol, source: DataSource, console: Console) -> bool:
    datasets = [DATASETS.get(name) for name in protocol.datasets]
    missing = [d.folder for d in datasets if not source.has(d)]
    absent_list = missing_sample_list(protocol, source)
    if absent_list:
        missing.append(str(absent_list.relative_to(source.root)))
    if missing:
        console.print(f"skipping {protocol.id}: no {', '.join(missing)} under {source.root}",
                      highlight=False, soft_wrap=True)
        return False
    for dataset in datasets:
        if source.is_twin and not twin_is_current(dataset, source):
            console.print(f"generating the {dataset.title} twin at scale "
                          f"{source.twin_scale:g} (once) in {source.dataset_dir(dataset)}",
                          highlight=False, soft_wrap=True)
        fixes = load_dataset(dataset, source)[1]
        if fixes:
            console.print(f"{dataset.title}: {len(fixes)} errata fixes applied "
                          "(see mer-bench doctor)", highlight=False, soft_wrap=True)
    labelled = protocol.label_samples(protocol_samples(protocol, source))
    _report_counts(protocol, labelled, source, console)
    return True


def _report_counts(protocol: Protocol, labelled: Sequence[LabelledSample], source: DataSource,
                   console: Console) -> None:
    scales = {twin_scale_of(source.dataset_dir(DATASETS.get(d))) for d in protocol.datasets}
    n_subjects = len({item.sample.subject_key for item in labelled})
    kind = ("real data" if scales == {None}
            else "synthetic twin, scale " + ", ".join(f"{s:g}" for s in scales if s is not None))
    console.print(f"{protocol.id}: {len(labelled)} samples, {n_subjects} subjects ({kind})",
                  highlight=False, soft_wrap=True)
    problems = protocol.check_counts(labelled)
    if problems and scales - {None, 1.0}:
        console.print("  counts differ from the published ones, as expected for a scaled twin")
        return
    for line in problems:
        console.print(f"  [yellow]count check:[/] {line}", highlight=False, soft_wrap=True)


class ProgressDisplay:
    """One bar over jobs and one over the folds of the current job."""

    def __init__(self, progress: Progress, n_jobs: int) -> None:
        self.progress = progress
        self.jobs = progress.add_task("jobs", total=n_jobs)
        self.folds = progress.add_task("folds", total=None)

    def job_started(self, job: Job, folds: int | None = None) -> None:
        self.progress.update(self.folds, completed=0, total=folds,
                             description=job.cell.cell_id)

    def fold_done(self, done: int, total: int) -> None:
        self.progress.update(self.folds, completed=done, total=total)

    def job_done(self, job: Job, result: JobResult | None) -> None:
        self.progress.advance(self.jobs)
        if result is not None:
            m = result.metrics
            self.progress.console.print(
                f"{job.cell.cell_id}: acc {m.accuracy:.4f}  UF1 {m.uf1:.4f}  UAR {m.uar:.4f}  "
                f"({result.wall_time_s:.1f} s)", highlight=False, soft_wrap=True)


def run_cells(cells: Sequence[Cell], *, data_root: Path | None, results: Path,
              twin_scale: float, twin_seed: int, executor: str, skip_completed: bool,
              console: Console) -> list[JobResult]:
    source = resolve_data_source(data_root, twin_scale, twin_seed)
    runner = EXECUTORS.get(executor)(skip_completed=skip_completed)
    cells = _usable_cells(cells, source, console)
    jobs = [Job(cell, source) for cell in cells]
    store = ResultStore(results)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        records = runner.run(jobs, store, ProgressDisplay(progress, len(jobs)))
    path = write_leaderboard(store.load_all(), results, records_dir=store.records_dir)
    console.print(f"wrote {len(records)} records and {path}")
    return records
