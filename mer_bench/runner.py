"""What `mer-bench run` does: expand cells, check data and names up front, execute, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import (DataSource, cache_dir, load_dataset, missing_sample_list,
                                  protocol_samples, resolve_data_source, twin_is_current,
                                  twin_scale_of)
from mer_bench.errors import ConfigError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import resolve_face_crops
from mer_bench.execute import EXECUTORS, Executor, Job
from mer_bench.execute.base import TrialsFailed
from mer_bench.keyframes import KEYFRAME_STRATEGIES
from mer_bench.models import MODELS
from mer_bench.protocols import LabelledSample, Protocol, get_protocol
from mer_bench.report.publish import publish
from mer_bench.store import DEFAULT_SELECTION, Cell, JobResult, ResultStore, check_writable
from mer_bench.suites import suite_registry

RUNNABLE_SELECTIONS = (DEFAULT_SELECTION, "oracle")


def expand_cells(suite: str | None, protocols: Sequence[str] | None, models: Sequence[str] | None,
                 keyframes: Sequence[str] | None, seeds: Sequence[int] | None,
                 selections: Sequence[str] | None = None) -> list[Cell]:
    """The job matrix: a suite's lists, each overridden by the explicit options given."""
    base = suite_registry().get(suite) if suite else None
    protocols = protocols or (base.protocol_ids() if base else ())
    models = models or (base.models if base else ("ststnet",))
    keyframes = keyframes or (base.keyframes if base else ("annotated", "gamdss"))
    seeds = seeds or (base.seeds if base else (0,))
    selections = selections or (base.selections if base else (DEFAULT_SELECTION,))
    for name in protocols:
        get_protocol(name)
    for name in models:
        MODELS.get(name)
    for name in keyframes:
        KEYFRAME_STRATEGIES.get(name)
    for name in selections:
        if name not in RUNNABLE_SELECTIONS:
            hint = ("; tuned cells come from 'mer-bench tune'" if name == "optuna-nested" else "")
            raise ConfigError(f"--selection {name}: use one of {', '.join(RUNNABLE_SELECTIONS)}{hint}")
    return [Cell(p, m, k, s, sel) for p in protocols for m in models for k in keyframes
            for s in seeds for sel in selections]


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
        samples, fixes = load_dataset(dataset, source)
        if fixes:
            console.print(f"{dataset.title}: {len(fixes)} errata fixes applied "
                          "(see mer-bench doctor)", highlight=False, soft_wrap=True)
        faceless = resolve_face_crops(samples, InputCache(cache_dir() / "inputs")).excluded
        if faceless:
            console.print(f"{dataset.title}: {len(faceless)} clips excluded, no face found "
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


def make_executor(name: str, *, skip_completed: bool, address: str | None = None,
                  num_cpus: int | None = None, num_gpus: float | None = None,
                  storage: Path | None = None, max_failures: int = 2,
                  gpu_share: float | None = None) -> Executor:
    """Build an executor from the run options, refusing options that do not apply to it."""
    factory = EXECUTORS.get(name)
    if name != "ray":
        given = [flag for flag, value in (("--address", address), ("--num-cpus", num_cpus),
                                          ("--num-gpus", num_gpus), ("--storage", storage),
                                          ("--gpu-share", gpu_share))
                 if value is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply to --executor ray")
        return factory(skip_completed=skip_completed)
    if num_gpus and not address and not _machine_has_gpu():
        raise ConfigError(f"--num-gpus {num_gpus:g}: this machine has no CUDA GPU; leave "
                          "--num-gpus out to train on the CPU")
    if gpu_share is not None and (gpu_share <= 0 or
                                  (gpu_share > 1 and not float(gpu_share).is_integer())):
        raise ConfigError(f"--gpu-share {gpu_share:g}: give a fraction in (0, 1] (e.g. 0.25 packs "
                          "four jobs per GPU) or a whole number of GPUs")
    if address and (num_cpus is not None or num_gpus is not None):
        raise ConfigError("--num-cpus / --num-gpus size an embedded Ray; a cluster joined with "
                          "--address brings its own resources")
    if storage is not None:
        storage = check_writable(storage, "Ray storage path")
    return factory(skip_completed=skip_completed, address=address, num_cpus=num_cpus,
                   num_gpus=num_gpus, storage=storage, max_failures=max_failures,
                   gpu_share=gpu_share)


def _machine_has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def describe_jobs(cells: Sequence[Cell], *, data_root: Path | None, results: Path,
                  twin_scale: float, twin_seed: int, gpu_share: float | None = None) -> str:
    """The expanded job matrix with each job's resources and whether a current record exists."""
    from tabulate import tabulate

    from mer_bench.execute.job import completed_record

    source = resolve_data_source(data_root, twin_scale, twin_seed)
    store = ResultStore(results)
    rows = []
    for cell in cells:
        resources = MODELS.get(cell.model).resources
        job = Job(cell, source)
        status = ("done" if completed_record(job, store) else
                  "stale record" if store.has(cell) else "to run")
        rows.append([cell.protocol, cell.model, cell.keyframes, cell.seed, cell.selection,
                     f"{resources.get('cpu', 1):g}",
                     f"{resources.get('gpu', 0) if gpu_share is None else gpu_share:g}", status])
    table = tabulate(rows, headers=["protocol", "model", "keyframes", "seed", "selection", "cpus",
                                    "gpu share", "status"])
    to_run = sum(row[-1] != "done" for row in rows)
    data = "real data under " + str(source.root) if source.root else f"twins x{twin_scale:g}"
    return (f"{table}\n{len(rows)} jobs on {data}; {to_run} to run, {len(rows) - to_run} with a "
            "current record (reused with --skip-completed). A GPU share applies only where the "
            "cluster has GPUs.")


def run_cells(cells: Sequence[Cell], *, data_root: Path | None, results: Path,
              twin_scale: float, twin_seed: int, runner: Executor,
              console: Console) -> list[JobResult]:
    source = resolve_data_source(data_root, twin_scale, twin_seed)
    cells = _usable_cells(cells, source, console)
    check_writable(results, "results folder")
    jobs = [Job(cell, source) for cell in cells]
    store = ResultStore(results)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            records = runner.run(jobs, store, ProgressDisplay(progress, len(jobs)))
    except TrialsFailed:
        finished = store.load_all()
        if finished:  # publish what did finish; the failure is still the exit status
            publish(finished, results, records_dir=store.records_dir)
        raise
    path = publish(store.load_all(), results, records_dir=store.records_dir)
    console.print(f"wrote {len(records)} records and {path}")
    return records
