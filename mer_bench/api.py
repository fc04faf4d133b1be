"""The Python API: what the command line does, as functions that return data frames.

The ``mer-bench`` commands are a thin layer over these functions (they parse options and print);
everything here is also importable from the top-level package::

    import mer_bench

    scores = mer_bench.run(["casme2-5class"], models=["ststnet"], keyframes=["annotated", "gamdss"])
    records = mer_bench.load_records("results")
    table = mer_bench.compare("results", baseline="annotated", other="gamdss")

Names follow the command line: protocols, models and keyframe strategies are registry names, with
options in brackets (``gamdss[distance=flow]``, ``ststnet[epochs=5]``); a data source is a real
``data_root`` or synthetic twins at ``twin_scale`` / ``twin_seed``. User errors raise
`mer_bench.errors.MerBenchError` subclasses whose message is one line saying what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from mer_bench.errors import ConfigError, DataError
from mer_bench.store import JobResult, ResultStore, data_key

if TYPE_CHECKING:
    from rich.console import Console

    from mer_bench.planner import RunEstimate
    from mer_bench.report.compare import Comparison
    from mer_bench.runner import RunPlan

__all__ = ["compare", "estimate", "leaderboard", "load_predictions", "load_records", "plan", "run"]

RECORD_COLUMNS = ("data", "protocol", "model", "keyframes", "seed", "selection", "accuracy", "uf1",
                  "uar", "n_samples", "n_folds", "param_count", "flops", "protocol_version",
                  "protocol_hash", "config_hash", "data_source", "git_commit", "wall_time_s",
                  "device", "started_at", "path")
CELL_COLUMNS = ("data", "protocol", "model", "keyframes", "seed", "selection")


def plan(protocols: Sequence[str] | None = None, *, suite: str | None = None,
         models: Sequence[str] | None = None, keyframes: Sequence[str] | None = None,
         seeds: Sequence[int] | None = None, selections: Sequence[str] | None = None,
         data_root: str | Path | None = None, twin_scale: float | None = None,
         twin_seed: int = 0, results: str | Path = "results", executor: str | None = None,
         executor_options: dict[str, Any] | None = None, device: str = "auto",
         skip_completed: bool = False, strict: bool = False,
         allow_count_mismatch: bool = False) -> "RunPlan":
    """Check a run without reading any dataset or training: names, options, the results folder,
    the executor (a Ray ``address`` is reachable) and which protocols have their data.

    Parameters
    ----------
    protocols : protocol ids; default: the suite's, else none (give a suite or protocols).
    suite : a named suite (``mer_bench.suites``), e.g. ``"all"``, ``"quick"``.
    models, keyframes, seeds, selections : override the suite's lists (defaults without a suite:
        ``ststnet``; ``annotated`` and ``gamdss``; seed 0; ``fixed-epochs``).
    data_root : a folder holding real datasets; default ``$MER_BENCH_DATA``, else twins.
    twin_scale : twin size as a fraction of the real dataset; default: the suite's, else 0.15.
    twin_seed : the twins' generator seed.
    results : where records and leaderboards go.
    executor : ``"ray"`` (folds spread over every core and GPU, through Ray Tune), ``"local"``
        (one fold at a time, in this process) or ``"auto"``; default: ``$MER_BENCH_EXECUTOR``,
        else auto, which is ray wherever more than one fold of the run's models can train at
        once. ``executor_options`` are the chosen executor's own (ray: ``address``,
        ``num_cpus``, ``num_gpus``, ``storage``, ``max_failures``, ``gpu_share``, ``workers``);
        an option it does not take is refused.
    device : ``"auto"`` (CUDA where present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    skip_completed : reuse records already made with the same config.
    strict : an annotation row excluded on loading is an error (default: excluded, counted, said).
    allow_count_mismatch : on real data, run even where a protocol's published counts do not
        match (default: the run stops before training).

    Returns
    -------
    RunPlan : ``cells`` to run, ``skipped`` protocols with the reason, ``notes`` (e.g. duplicate
    names dropped), the data ``source``, the ``results`` folder and the ``runner``.

    Examples
    --------
    >>> p = plan(["casme2-5class"], models=["ststnet", "ststnet"])  # doctest: +SKIP
    >>> p.notes  # doctest: +SKIP
    ['note: --model ststnet given twice; running it once']
    """
    from mer_bench.datasource import resolve_data_source
    from mer_bench.runner import expand_cells, make_executor, plan_run, twin_scale_for

    if suite is None and not protocols:
        raise ConfigError("nothing to run: give a suite (--all, --suite NAME) or protocols "
                          "(--protocol ID)")
    source = resolve_data_source(_path(data_root), twin_scale_for(suite, twin_scale), twin_seed,
                                 strict=strict, allow_count_mismatch=allow_count_mismatch)
    notes: list[str] = []
    cells = expand_cells(suite, protocols, models, keyframes, seeds, selections,
                         data=data_key(source), notes=notes)
    runner = make_executor(executor, options=executor_options, skip_completed=skip_completed,
                           device=device, cells=cells)
    return plan_run(cells, source=source, results=Path(results), runner=runner, notes=notes)


def run(protocols: Sequence[str] | None = None, *, suite: str | None = None,
        models: Sequence[str] | None = None, keyframes: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None, selections: Sequence[str] | None = None,
        data_root: str | Path | None = None, twin_scale: float | None = None,
        twin_seed: int = 0, results: str | Path = "results", executor: str | None = None,
        executor_options: dict[str, Any] | None = None, device: str = "auto",
        skip_completed: bool = False,
        strict: bool = False, allow_count_mismatch: bool = False, resume: bool = False,
        console: "Console | None" = None) -> pd.DataFrame:
    """Run benchmark cells (protocol x model x keyframe strategy x seed) and publish leaderboards.

    Checks everything `plan` checks first, then reads every dataset once (generating twins),
    runs the jobs, writes one record per cell under ``results/records/<data>/`` and regenerates
    the leaderboards.

    Parameters
    ----------
    The parameters of `plan`, and:
    resume : continue an interrupted run: clean up records a killed run left half-written, then
        reuse the completed ones (implies ``skip_completed``).
    console : a rich Console for progress and notes; default: stderr. ``Console(quiet=True)``
        silences it.

    Returns
    -------
    pandas.DataFrame : one row per cell run, as `load_records` returns them.

    Examples
    --------
    >>> scores = run(["casme2-5class"], keyframes=["annotated"], twin_scale=0.05)  # doctest: +SKIP
    >>> scores[["protocol", "keyframes", "uf1"]]  # doctest: +SKIP
    """
    from rich.console import Console

    from mer_bench.runner import run_plan

    checked = plan(protocols, suite=suite, models=models, keyframes=keyframes, seeds=seeds,
                   selections=selections, data_root=data_root, twin_scale=twin_scale,
                   twin_seed=twin_seed, results=results, executor=executor,
                   executor_options=executor_options, device=device,
                   skip_completed=skip_completed or resume,
                   strict=strict, allow_count_mismatch=allow_count_mismatch)
    console = console or Console(stderr=True)
    for note in checked.notes:
        console.print(note, markup=False, highlight=False)
    if resume:
        ResultStore(results).sweep_unfinished()
    records = run_plan(checked, console=console)
    return records_frame(records, ResultStore(results))


def estimate(protocols: Sequence[str] | None = None, *, suite: str | None = None,
             models: Sequence[str] | None = None, keyframes: Sequence[str] | None = None,
             seeds: Sequence[int] | None = None, selections: Sequence[str] | None = None,
             data_root: str | Path | None = None, twin_scale: float | None = None,
             twin_seed: int = 0, results: str | Path = "results",
             workers: Sequence[int] = (1,), gpus: int = 0,
             units: Sequence[str] = ("chunk",),
             console: "Console | None" = None) -> "RunEstimate":
    """Estimate a run's wall time and peak memory on each number of ``workers`` before it runs
    (what `mer-bench plan` prints).

    Reads the data to count every protocol's folds (generating absent twins, as a run would),
    prices each cell's folds from the records under ``results`` (same model, protocol, data
    source, selection and device) or from a few timed training steps, and simulates the
    executor's schedule: one worker is the local executor, more are Ray, each task reserving its
    model's CPUs and, with ``gpus``, its GPU share.

    Parameters
    ----------
    The run's selection, as in `plan` (protocols, suite, models, keyframes, seeds, selections,
    data_root, twin_scale, twin_seed, results), and:
    workers : worker counts to plan for (CPUs an executor may reserve; each at least 1).
    gpus : GPUs beside them (0: train on CPUs).
    units : units of scheduling to simulate: ``"chunk"`` (default: the Ray executor's cut of
        cells into runs of folds that fill every worker), ``"cell"`` (a task is a cell, its folds
        in series) and ``"fold"`` (each fold a task of its own).
    console : where progress lines go (twin generation, timing); default: stderr.

    Returns
    -------
    RunEstimate : ``rows`` (one per worker count and unit), ``table()`` as a DataFrame (wall
    time, CPU time, utilisation, memory, critical path), ``cost_table()`` (per cell: fold
    seconds, setup, memory, where the times came from), ``notes`` and ``render()``.

    Examples
    --------
    >>> e = estimate(suite="megc2019", seeds=[0], workers=[1, 2, 64])  # doctest: +SKIP
    >>> e.table()[["workers", "unit", "wall_s", "critical_path"]]  # doctest: +SKIP
    """
    from rich.console import Console

    from mer_bench.planner import estimate_plan
    from mer_bench.planner.estimate import UNITS

    workers, units = list(workers), list(dict.fromkeys(units))
    for count in workers:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"--workers {count}: give a whole number, 1 or more")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise ConfigError(f"--gpus {gpus}: give a whole number, 0 or more")
    for unit in units:
        if unit not in UNITS:
            raise ConfigError(f"--unit {unit}: use one of {', '.join(UNITS)}")
    if not workers or not units:
        raise ConfigError("give at least one --workers count and one --unit")
    checked = plan(protocols, suite=suite, models=models, keyframes=keyframes, seeds=seeds,
                   selections=selections, data_root=data_root, twin_scale=twin_scale,
                   twin_seed=twin_seed, results=results, allow_count_mismatch=True)
    console = console or Console(stderr=True)

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    for note in checked.notes:
        say(note)
    return estimate_plan(checked, workers=list(dict.fromkeys(workers)), gpus=gpus, units=units,
                         say=say)


def load_records(results: str | Path = "results", *, data: str | None = None,
                 protocol: str | None = None, model: str | None = None,
                 keyframes: str | None = None, selection: str | None = None) -> pd.DataFrame:
    """Per-record metrics of a results folder, one row per record (cell).

    Parameters
    ----------
    results : the results folder (``results/records/`` below it).
    data, protocol, model, keyframes, selection : keep only records with this value (``data`` is
        a data-source folder name such as ``twin-scale0.15-seed0``).

    Returns
    -------
    pandas.DataFrame : columns ``RECORD_COLUMNS``: the cell (data, protocol, model, keyframes,
    seed, selection), pooled accuracy / UF1 / UAR, sample and fold counts, parameters, FLOPs,
    the trace (protocol version and hash, config hash, data source, git commit), the cost (wall
    time, the device trained on) and the record's folder (``path``). Empty, with those columns, when nothing matches.

    Examples
    --------
    >>> records = load_records("results", protocol="casme2-5class")  # doctest: +SKIP
    >>> records.groupby("keyframes")["uf1"].mean()  # doctest: +SKIP
    """
    store = ResultStore(Path(results))
    return records_frame(_select(store, data, protocol, model, keyframes, selection), store)


def load_predictions(results: str | Path = "results", *, data: str | None = None,
                     protocol: str | None = None, model: str | None = None,
                     keyframes: str | None = None, selection: str | None = None) -> pd.DataFrame:
    """Every test sample's prediction of the selected records, one row per sample and record.

    Parameters
    ----------
    The filters of `load_records`.

    Returns
    -------
    pandas.DataFrame : the cell columns (data, protocol, model, keyframes, seed, selection), then
    the record's predictions: sample_id, subject, fold, y_true, y_pred (class indices),
    true_label, pred_label.

    Examples
    --------
    >>> p = load_predictions("results", protocol="casme2-5class", keyframes="gamdss")  # doctest: +SKIP
    >>> (p["y_true"] == p["y_pred"]).groupby(p["subject"]).mean()  # doctest: +SKIP
    """
    from mer_bench.store import PREDICTION_COLUMNS

    store = ResultStore(Path(results))
    frames = []
    for record in _select(store, data, protocol, model, keyframes, selection):
        frame = record.predictions.copy()
        for column, value in reversed(list(_cell_values(record).items())):
            frame.insert(0, column, value)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*CELL_COLUMNS, *PREDICTION_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def compare(results: str | Path = "results", *, baseline: str = "annotated",
            other: str = "gamdss", kind: str = "keyframes", data: str | None = None,
            resamples: int = 2000, write: bool = True) -> "Comparison":
    """Paired comparison of two keyframe strategies (``kind="keyframes"``) or two selection modes
    (``kind="selection"``), per protocol and model, seed by seed on the same samples.

    Parameters
    ----------
    results : the results folder.
    baseline, other : the two sides (keyframe strategies with options, or selection modes).
    kind : ``"keyframes"`` or ``"selection"``.
    data : the data source to compare on (a folder under ``records/``); needed only when the
        folder holds records of several.
    resamples : subject-bootstrap resamples for the 95% intervals (at least 1).
    write : also write ``<results>/compare/<baseline>-vs-<other>.md``, ``.csv`` and ``.png``.

    Returns
    -------
    Comparison : ``table`` (a DataFrame: differences, intervals, McNemar p-values, verdicts),
    ``markdown_table`` and ``note``.

    Examples
    --------
    >>> result = compare("results", baseline="annotated", other="gamdss")  # doctest: +SKIP
    >>> result.table[["protocol", "model", "verdict"]]  # doctest: +SKIP
    """
    from mer_bench.keyframes import KEYFRAME_STRATEGIES
    from mer_bench.report.compare import COMPARE_DIR, build_comparison, save_comparison

    if resamples < 1:
        raise ConfigError(f"resamples {resamples}: give at least 1")
    if kind == "keyframes":  # options in their record spelling; plain names as the records have them
        baseline, other = (KEYFRAME_STRATEGIES.canonical(side) if "[" in side else side
                           for side in (baseline, other))
    if baseline == other:
        raise ConfigError(f"compare {baseline} with something else: both sides are the same")
    store = ResultStore(Path(results))
    records = store.load_all(data=_one_data_source(store, data))
    if not records:
        raise DataError(f"no result records under {store.records_dir}; run `mer-bench run` first")
    comparison = build_comparison(records, baseline, other, kind=kind, n_resamples=resamples)
    if write:
        save_comparison(comparison, Path(results) / COMPARE_DIR)
    return comparison


def leaderboard(results: str | Path = "results", *, write: bool = True) -> pd.DataFrame:
    """The leaderboard rows of every record in a results folder.

    Parameters
    ----------
    results : the results folder.
    write : also regenerate the pages (``LEADERBOARD.md``, ``leaderboard.csv``,
        ``leaderboards/<family>.md``, the standard comparisons, the web pages under ``site/``),
        under the folder's lock.

    Returns
    -------
    pandas.DataFrame : every row, unrounded, in page order, with the record folders and config
    hashes behind it; chance references (majority class, uniform guessing) are the rows whose
    ``kind`` is ``"reference"``.

    Examples
    --------
    >>> rows = leaderboard("results", write=False)  # doctest: +SKIP
    >>> rows[rows["protocol"] == "casme2-5class"][["model", "keyframes", "uf1"]]  # doctest: +SKIP
    """
    from mer_bench.report.leaderboard import leaderboard_table
    from mer_bench.runner import publish_store

    store = ResultStore(Path(results))
    if write:
        publish_store(store)
    return leaderboard_table(store.load_all())


def records_frame(records: Sequence[JobResult], store: ResultStore) -> pd.DataFrame:
    """One row per record: the columns of `load_records`."""
    rows = [{**_cell_values(r), "accuracy": r.metrics.accuracy, "uf1": r.metrics.uf1,
             "uar": r.metrics.uar, "n_samples": r.n_samples, "n_folds": r.n_folds,
             "param_count": r.param_count, "flops": r.flops,
             "protocol_version": r.protocol_version, "protocol_hash": r.protocol_hash,
             "config_hash": r.config_hash, "data_source": r.data_source,
             "git_commit": r.git_commit, "wall_time_s": r.wall_time_s,
             "device": r.device, "started_at": r.started_at, "path": str(store.path_of(r.cell))}
            for r in records]
    return pd.DataFrame(rows, columns=list(RECORD_COLUMNS))


def _cell_values(record: JobResult) -> dict[str, Any]:
    cell = record.cell
    return {"data": cell.data, "protocol": cell.protocol, "model": cell.model,
            "keyframes": cell.keyframes, "seed": cell.seed, "selection": cell.selection}


def _select(store: ResultStore, data: str | None, protocol: str | None, model: str | None,
            keyframes: str | None, selection: str | None) -> list[JobResult]:
    wanted = {"protocol": protocol, "model": model, "keyframes": keyframes,
              "selection": selection}
    return [r for r in store.load_all(data=data)
            if all(value is None or getattr(r.cell, key) == value
                   for key, value in wanted.items())]


def _one_data_source(store: ResultStore, data: str | None) -> str | None:
    sources = store.data_sources()
    if data is not None:
        if data not in sources:
            raise DataError(f"no records of data source {data!r} under {store.records_dir} "
                            f"(there are: {', '.join(sources) or 'none'})")
        return data
    if len(sources) > 1:
        raise ConfigError(f"{store.records_dir} holds records of {len(sources)} data sources "
                          f"({', '.join(sources)}); choose one with --data")
    return None


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)

