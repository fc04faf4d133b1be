"""The mer-bench command line: parses options, calls the library (mostly `mer_bench.api`), prints.

One word per idea across commands: ``--keyframes`` names keyframe strategies (options in
brackets), ``--twin-scale`` / ``--twin-seed`` the synthetic twins, ``--results`` the results
folder every output goes under (``--out`` only for `synth`, whose output is data). Usage errors
print one line and exit with status 2 (see `main`).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text
from tabulate import tabulate

from mer_bench.errors import ConfigError, MerBenchError
from mer_bench.suites import DEFAULT_TWIN_SCALE, FULL_TWIN_SCALE

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Benchmark harness for facial micro-expression recognition.",
                  epilog="Exit status: 0 done; 1 a check failed (doctor, protocols --check) or "
                         "jobs failed after their retries; 2 a usage or input error, printed as "
                         "one line saying what to do; 130 interrupted. Start with: mer-bench run "
                         "--all --dry-run")
console = Console(stderr=True)

DEBUG_ENV = "MER_BENCH_DEBUG"


def _twin_scale(value: Optional[float]) -> Optional[float]:
    if value is not None and not 0 < value <= 1:
        raise typer.BadParameter(f"{value:g} is out of range; give a fraction in (0, 1], e.g. 0.15")
    return value


def _positive(value: Optional[float]) -> Optional[float]:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"{value:g}: give a positive number")
    return value


def _listed(what: str, names) -> str:
    """Choices for a help text, read without importing the heavy modules."""
    try:
        return f"{what}: {', '.join(names())}"
    except Exception:  # a broken plugin or suites file is reported when it is used, not here
        return what


def _keyframe_names() -> list[str]:
    from importlib.metadata import entry_points

    return ["annotated", *sorted(e.name for e in entry_points(group="mer_bench.keyframe_strategies"))]


def _suite_names() -> list[str]:
    import yaml

    from mer_bench import protocol_files

    return list(yaml.safe_load((protocol_files.folder() / "suites.yaml").read_text()) or {})


KEYFRAMES = _listed("keyframe strategies", _keyframe_names)
SUITES = _listed("suites (mer-bench suites lists them)", _suite_names)


class Selection(str, Enum):
    """Model selection modes a run can produce (optuna-nested comes from `mer-bench tune`)."""

    fixed_epochs = "fixed-epochs"
    oracle = "oracle"


DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", metavar="DIR", help="Folder holding the real datasets (e.g. CASME2/); default: "
    "$MER_BENCH_DATA, else the synthetic twins.")]
ResultsDir = Annotated[Path, typer.Option(
    "--results", metavar="DIR", help="The results folder: records, leaderboards and every other output go "
    "under it.")]
TrainingTwinScale = Annotated[Optional[float], typer.Option(
    "--twin-scale", metavar="S", callback=_twin_scale,
    help=f"Size of the synthetic twins as a fraction of the real dataset, in (0, 1]; default: "
         f"{DEFAULT_TWIN_SCALE:g}, the scale of the oracle and quick suites (run: a suite's own scale).")]
DataTwinScale = Annotated[float, typer.Option(
    "--twin-scale", metavar="S", callback=_twin_scale,
    help="Size of the synthetic twins as a fraction of the real dataset, in (0, 1]; default: "
         "full size, which reproduces the published counts.")]
TwinSeed = Annotated[int, typer.Option("--twin-seed", metavar="N", min=0, help="Seed of the synthetic twins.")]
KeyframesOne = Annotated[str, typer.Option(
    "--keyframes", metavar="NAME[OPTIONS]", help=f"Keyframe strategy, options in brackets, e.g. "
    f"'gamdss[distance=flow]' ({KEYFRAMES}).")]


ExecutorName = Annotated[Optional[str], typer.Option(
    "--executor", metavar="NAME", help="How folds run: ray (Ray Tune: spread over every core and "
    "GPU), local (one at a time, in this process; for debugging) or auto; default: "
    "$MER_BENCH_EXECUTOR, else auto = ray wherever more than one fold can train at once.")]
DeviceOption = Annotated[str, typer.Option(
    "--device", metavar="DEVICE", help="Where folds train: auto (CUDA where present), cpu, cuda "
    "or cuda:N.")]
WorkersOption = Annotated[Optional[int], typer.Option(
    "--workers", min=1, help="Ray: at most this many folds training at once (default: as many "
                             "as the CPUs and GPUs allow).")]
AddressOption = Annotated[Optional[str], typer.Option(
    "--address", help="Ray: join the cluster at this address (e.g. 127.0.0.1:6379 or auto) "
                      "instead of starting Ray embedded.")]


def _example(*lines: str) -> str:
    # \b keeps click from re-wrapping the example lines
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


@app.command(epilog=_example(
    "mer-bench run --all",
    "mer-bench run --protocol casme2-5class --model ststnet --keyframes annotated "
    "--keyframes 'gamdss[distance=flow]'",
    "mer-bench run --all --dry-run --data-root /data/mer"))
def run(
    all_: Annotated[bool, typer.Option("--all", help="Run the 'all' suite.")] = False,
    suite: Annotated[Optional[str], typer.Option(metavar="NAME", help=f"Run a named suite; {SUITES}.")] = None,
    protocol: Annotated[Optional[list[str]], typer.Option(
        metavar="ID", help="Protocol id (repeatable); mer-bench protocols lists them.")] = None,
    model: Annotated[Optional[list[str]], typer.Option(
        metavar="NAME[OPTIONS]", help="Model (repeatable), options in brackets, e.g. 'ststnet[epochs=5]'; mer-bench "
             "models lists them.")] = None,
    keyframes: Annotated[Optional[list[str]], typer.Option(
        metavar="NAME[OPTIONS]", help=f"Keyframe strategy (repeatable), options in brackets; {KEYFRAMES}.")] = None,
    seed: Annotated[Optional[list[int]], typer.Option(metavar="N", min=0, help="Seed (repeatable).")] = None,
    data_root: DataRoot = None,
    results: ResultsDir = Path("results"),
    twin_scale: TrainingTwinScale = None,
    twin_seed: TwinSeed = 0,
    selection: Annotated[Optional[list[Selection]], typer.Option(
        metavar="MODE", help="Model selection mode (repeatable): fixed-epochs (default), or oracle, which picks "
             "the best epoch on the test subject only to measure how much that inflates "
             "numbers.")] = None,
    executor: ExecutorName = None,
    device: DeviceOption = "auto",
    workers: WorkersOption = None,
    address: AddressOption = None,
    num_cpus: Annotated[Optional[int], typer.Option(
        min=1, help="Ray, embedded: CPUs to use (default: all).")] = None,
    num_gpus: Annotated[Optional[float], typer.Option(
        min=0, help="Ray, embedded: GPUs to use (default: those Ray detects).")] = None,
    storage: Annotated[Optional[Path], typer.Option(
        help="Ray: where Tune keeps its experiment state (default: in the cache; on a "
             "multi-node cluster, a folder every node sees).")] = None,
    max_failures: Annotated[Optional[int], typer.Option(
        min=0, help="Ray: retries of a failed fold task before its job is reported as failed "
                    "(default: 2).")] = None,
    gpu_share: Annotated[Optional[float], typer.Option(
        help="Ray: the share of one GPU each fold reserves where folds train on GPUs, in (0, 1] "
             "(default: the model's own, 0.25 for small models).")] = None,
    skip_completed: Annotated[bool, typer.Option(
        "--skip-completed", help="Reuse records already in the results folder made with the same config.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted run: the same as --skip-completed, after cleaning up "
             "records a killed run left half-written.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check everything (results folder, --address, data present and readable), print "
             "the job matrix with resources and status and the protocols skipped; train "
             "nothing. Exit 2 when nothing would run.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Stop (exit 2) if any annotation row is excluded on loading.")] = False,
    allow_count_mismatch: Annotated[bool, typer.Option(
        "--allow-count-mismatch", help="Run on real data even where a protocol's published "
        "counts do not match (by default the run stops).")] = False,
) -> None:
    """Run benchmark cells (protocol x model x keyframe strategy x seed) and write leaderboards.

    Records go to <results>/records/<data source>/...: runs on different data (twin scales and
    seeds, real data roots) never overwrite each other.
    """
    from mer_bench import api
    from mer_bench.runner import describe_plan, load_data, run_plan

    if all_ and suite:
        raise ConfigError("give either --all or --suite, not both")
    options = {"address": address, "num_cpus": num_cpus, "num_gpus": num_gpus,
               "storage": storage, "max_failures": max_failures, "gpu_share": gpu_share,
               "workers": workers}
    plan = api.plan(protocol, suite="all" if all_ else suite, models=model, keyframes=keyframes,
                    seeds=seed, selections=[s.value for s in selection or ()],
                    data_root=data_root, twin_scale=twin_scale, twin_seed=twin_seed,
                    results=results, executor=executor, executor_options=options,
                    device=device, skip_completed=skip_completed or resume, strict=strict,
                    allow_count_mismatch=allow_count_mismatch)
    for note in plan.notes:
        _say(note)
    if dry_run:
        load_data(plan, console, generate_twins=False)  # real data: read and validated
        typer.echo(describe_plan(plan))
        return
    if resume:
        from mer_bench.store import ResultStore

        ResultStore(results).sweep_unfinished()
    run_plan(plan, console=console)


@app.command(epilog=_example(
    "mer-bench tune --protocol casme2-5class --model ststnet --trials 20",
    "mer-bench tune --protocol samm-5class --model ststnet --trials 10 --asha"))
def tune(
    protocol: Annotated[str, typer.Option(help="Protocol id, e.g. casme2-5class.")],
    model: Annotated[str, typer.Option(help="Model name, e.g. ststnet.")],
    trials: Annotated[int, typer.Option(
        min=1, help="Finished trials per fold's study; a rerun adds only the missing ones.")],
    keyframes: KeyframesOne = "annotated",
    seed: Annotated[int, typer.Option(
        min=0, help="Seed of the cell, the inner split and TPE.")] = 0,
    data_root: DataRoot = None,
    twin_scale: TrainingTwinScale = None,
    twin_seed: TwinSeed = 0,
    results: ResultsDir = Path("results"),
    executor: ExecutorName = None,
    device: DeviceOption = "auto",
    workers: WorkersOption = None,
    address: AddressOption = None,
    max_epochs: Annotated[Optional[int], typer.Option(
        min=1, help="Most epochs a trial may train (default: the model's own budget).")] = None,
    inner_folds: Annotated[int, typer.Option(
        min=2, help="Subject-grouped inner folds of each fold's training side.")] = 3,
    asha: Annotated[bool, typer.Option(
        "--asha", help="Ray: stop weak trials early with ASHA (rungs are inner folds).")] = False,
) -> None:
    """Tune a cell with Optuna, one study per LOSO fold on its training side only; then evaluate
    the cell once with each fold's best budget (selection optuna-nested)."""
    from mer_bench.datasource import resolve_data_source
    from mer_bench.tune.nested import TuneSettings, check_settings, tune_cell

    settings = TuneSettings(protocol=protocol, model=model, trials=trials, keyframes=keyframes,
                            seed=seed, results=results, executor=executor, device=device,
                            workers=workers, address=address, max_epochs=max_epochs,
                            inner_folds=inner_folds, asha=asha)
    check_settings(settings)
    source = resolve_data_source(data_root, DEFAULT_TWIN_SCALE if twin_scale is None else twin_scale,
                                 twin_seed)
    result = tune_cell(settings, source, _say)
    m = result.metrics
    typer.echo(f"{result.cell.cell_id}: acc {m.accuracy:.4f}  UF1 {m.uf1:.4f}  UAR {m.uar:.4f}  "
               f"({result.wall_time_s:.1f} s to evaluate)")
    typer.echo(f"wrote {results / 'records' / result.cell.relpath} and the leaderboard; "
               f"studies in {results / result.config['tuning']['storage']}")


@app.command(epilog=_example("mer-bench synth casme2 --out twins --twin-scale 0.2",
                             "mer-bench synth --all --out twins"))
def synth(
    dataset: Annotated[Optional[str], typer.Argument(help="Dataset name, e.g. casme2.")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write the twins into (created).")] = Path(
        "twins"),
    all_: Annotated[bool, typer.Option("--all", help="Every dataset that has a twin.")] = False,
    twin_scale: DataTwinScale = FULL_TWIN_SCALE,
    twin_seed: TwinSeed = 0,
) -> None:
    """Write synthetic twins in their datasets' native layouts, true key frames beside them."""
    from mer_bench.data.spec import DATASETS

    if all_ == (dataset is not None):
        raise ConfigError("give a dataset name or --all")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder (it is created if absent)")
    specs = ([DATASETS.get(name) for name in DATASETS.names()] if all_
             else [DATASETS.get(dataset)])
    if not all_ and specs[0].write_twin is None:
        raise ConfigError(f"dataset {dataset!r} has no synthetic twin yet")
    written: set[Path] = set()
    for spec in specs:
        target = out / spec.folder
        if spec.write_twin is None or target in written:
            continue  # datasets sharing a folder (SMIC's cameras) come from one twin
        if target.exists():
            raise ConfigError(f"{target} already exists; remove it or choose another --out")
        spec.write_twin(target, twin_scale, twin_seed)
        written.add(target)
        typer.echo(f"wrote {spec.title} twin (scale {twin_scale:g}, seed {twin_seed}) to {target}")


@app.command(epilog=_example("mer-bench protocols",
                             "mer-bench protocols --check --data-root /data/mer"))
def protocols(
    check: Annotated[bool, typer.Option(
        "--check", help="Check every protocol's published counts on the data present.")] = False,
    data_root: DataRoot = None,
    twin_scale: DataTwinScale = FULL_TWIN_SCALE,
    twin_seed: TwinSeed = 0,
    strict: Annotated[bool, typer.Option(
        "--strict", help="With --check: a row excluded on loading is an error.")] = False,
) -> None:
    """List the registered protocols with their classes and published counts."""
    from mer_bench.protocols import protocol_registry

    if check:
        _check_protocols(data_root, twin_scale, twin_seed, strict)
        return
    registry = protocol_registry()
    if not registry.names():
        raise ConfigError("no protocol is registered: this installation lacks its protocol "
                          "files; reinstall mer-bench")
    rows = []
    for pid in registry.names():
        p = registry.get(pid)
        rows.append([pid, p.dataset, p.evaluation, p.version, len(p.classes),
                     ", ".join(p.classes), sum(p.expected.counts.values()) or "",
                     p.expected.subjects or "", "yes" if p.expected.assumed else "", p.hash])
    typer.echo(tabulate(rows, headers=["protocol", "dataset", "evaluation", "version",
                                       "classes", "labels", "samples", "subjects", "assumed",
                                       "hash"], disable_numparse=True))


def _check_protocols(data_root: Path | None, twin_scale: float, twin_seed: int,
                     strict: bool) -> None:
    from mer_bench.datasource import resolve_data_source
    from mer_bench.protocol_check import check_protocols

    checks = check_protocols(resolve_data_source(data_root, twin_scale, twin_seed, strict=strict))
    typer.echo(tabulate([[c.protocol.id, c.samples if c.present else "", c.subjects or "",
                          c.n_excluded or "", c.status if c.present else f"{c.status}: {c.absent}"]
                         for c in checks],
                        headers=["protocol", "samples", "subjects", "rows excluded", "counts"]))
    # what matters to a protocol's counts: its sample list, rows excluded, mismatches
    for check in (c for c in checks if c.present and (c.sample_list or c.n_excluded
                                                         or c.failed)):
        lines = [*check.notes, *(check.problems if not check.scaled_twin else [])]
        typer.echo(f"\n{check.protocol.id}:\n" + "\n".join(f"  {line}" for line in lines))
    if any(c.failed for c in checks):
        raise typer.Exit(1)


@app.command(epilog=_example("mer-bench suites"))
def suites() -> None:
    """List the named suites: what `mer-bench run --suite NAME` runs, and at which twin scale."""
    from mer_bench.suites import suite_registry

    registry = suite_registry()
    rows = []
    for name in registry.names():
        s = registry.get(name)
        rows.append([name, ", ".join(s.protocols), ", ".join(s.models), ", ".join(s.keyframes),
                     " ".join(map(str, s.seeds)), ", ".join(s.selections), f"{s.twin_scale:g}",
                     s.description])
    typer.echo(tabulate(rows, headers=["suite", "protocols", "models", "keyframes", "seeds",
                                       "selections", "twin scale", "description"],
                        disable_numparse=True))


def _workers(values: Optional[list[int]]) -> Optional[list[int]]:
    for value in values or ():
        if value < 1:
            raise typer.BadParameter(f"{value}: give a whole number, 1 or more")
    return values


class Unit(str, Enum):
    """Units of scheduling the planner simulates."""

    chunk = "chunk"
    cell = "cell"
    fold = "fold"


@app.command("plan", epilog=_example(
    "mer-bench plan --suite megc2019 --workers 1 --workers 2 --workers 64",
    "mer-bench plan --suite quick --workers 8 --gpus 1 --unit fold",
    "mer-bench plan --protocol casme2-5class --model ststnet --seed 0 --workers 2"))
def plan_command(
    all_: Annotated[bool, typer.Option("--all", help="Plan the 'all' suite.")] = False,
    suite: Annotated[Optional[str], typer.Option(metavar="NAME", help=f"Plan a named suite; {SUITES}.")] = None,
    protocol: Annotated[Optional[list[str]], typer.Option(
        metavar="ID", help="Protocol id (repeatable), as for run.")] = None,
    model: Annotated[Optional[list[str]], typer.Option(
        metavar="NAME[OPTIONS]", help="Model (repeatable), options in brackets.")] = None,
    keyframes: Annotated[Optional[list[str]], typer.Option(
        metavar="NAME[OPTIONS]", help="Keyframe strategy (repeatable).")] = None,
    seed: Annotated[Optional[list[int]], typer.Option(metavar="N", min=0, help="Seed (repeatable).")] = None,
    selection: Annotated[Optional[list[Selection]], typer.Option(
        metavar="MODE", help="Model selection mode (repeatable): fixed-epochs (default) or oracle.")] = None,
    workers: Annotated[Optional[list[int]], typer.Option(
        metavar="N", callback=_workers,
        help="Workers to plan for (repeatable): CPUs the executor may reserve, over all nodes; "
             "1 is the local executor, more are Ray. Default: 1 and this machine's CPUs.")] = None,
    gpus: Annotated[int, typer.Option(
        metavar="G", min=0, help="GPUs beside the workers; each job then reserves its model's "
                                 "GPU share.")] = 0,
    unit: Annotated[Optional[list[Unit]], typer.Option(
        metavar="UNIT", help="Unit of scheduling (repeatable): chunk (what the Ray executor does: "
                             "cells cut into runs of folds to fill every worker), cell (a task "
                             "runs a cell's folds in series) or fold (each fold a task). "
                             "Default: chunk.")] = None,
    data_root: DataRoot = None,
    results: Annotated[Path, typer.Option(
        "--results", metavar="DIR", help="The results folder whose records give measured fold "
                                         "times.")] = Path("results"),
    twin_scale: TrainingTwinScale = None,
    twin_seed: TwinSeed = 0,
) -> None:
    """Estimate a run's wall time and peak memory before it runs, on each number of workers.

    Fold times come from earlier records of the same model, protocol and data, or from a few
    timed training steps; the executor's schedule is simulated over its fold tasks, and the
    chain of tasks that bounds the wall time is named. Absent twins are generated first, as a run
    would.
    """
    from mer_bench import api

    if all_ and suite:
        raise ConfigError("give either --all or --suite, not both")
    estimate = api.estimate(
        protocol, suite="all" if all_ else suite, models=model, keyframes=keyframes, seeds=seed,
        selections=[s.value for s in selection or ()], data_root=data_root,
        twin_scale=twin_scale, twin_seed=twin_seed, results=results,
        workers=workers or sorted({1, os.cpu_count() or 1}), gpus=gpus,
        units=[u.value for u in unit] if unit else ("chunk",), console=console)
    typer.echo(estimate.render())


@app.command(epilog=_example("mer-bench doctor --data-root /data/mer"))
def doctor(
    data_root: DataRoot = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="List the samples of every label normalisation too.")]
        = False,
    deep: Annotated[bool, typer.Option(
        "--deep", help="Decode every frame, not only the key frames, and name corrupt, empty or "
        "unreadable files.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="A dataset with a row excluded is unusable.")] = False,
) -> None:
    """Find the datasets under a data root, validate each, list every row excluded, errata fix,
    label normalisation and problem, and check the sample lists (MEGC2019).

    Exit status:
    0 every dataset found is usable, every sample list found names its clips;
    1 a dataset found is unusable (--strict: has a row excluded), a sample list
    is broken, or no dataset was found (the folders looked for are listed);
    2 bad usage (e.g. --data-root is not a folder).
    """
    from mer_bench.data.doctor import diagnose
    from mer_bench.datasource import DATA_ENV, check_data_root

    root = data_root or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    if root is None:
        raise ConfigError(f"no data root; pass --data-root DIR (or set {DATA_ENV}) to the folder "
                          "holding the datasets")
    check_data_root(root)
    diagnosis = diagnose(root, deep=deep, strict=strict)
    typer.echo(diagnosis.render(verbose=verbose))
    if not diagnosis.ok:
        raise typer.Exit(1)


@app.command(epilog=_example("mer-bench models", "mer-bench models 'gamdss*'",
                             "mer-bench models 'timm:resnet*'"))
def models(pattern: Annotated[str, typer.Argument(help="Glob over model names.")] = "*") -> None:
    """List the registered models with their input, parameter count and training budget.

    A model's budget can be changed where it is named: 'ststnet[epochs=5,lr=0.001]' (options
    epochs, batch_size, lr, weight_decay).
    """
    from mer_bench.inputs.representations import INPUTS
    from mer_bench.models import MODELS, count_flops, spec_parameters

    if pattern.startswith("timm:"):
        import timm

        names = timm.list_models(pattern.removeprefix("timm:") or "*")
        typer.echo("\n".join(f"timm:{name}" for name in names))
        typer.echo(f"{len(names)} timm models (built on demand with pretrained=False)")
        return
    rows = []
    for name in MODELS.names(pattern):
        spec = MODELS.get(name)
        budget = spec.budget
        channels = [INPUTS.get(kind).channels for kind in spec.inputs]
        rows.append([name, f"{' + '.join(spec.inputs)} {spec.input_size}x{spec.input_size}",
                     spec_parameters(spec, 3), spec_parameters(spec, 5),
                     f"{count_flops(spec, 5, channels):,}",
                     f"{budget.epochs} ep, bs {budget.batch_size}, lr {budget.lr:g}",
                     "yes" if spec.two_branch else "", spec.description])
    if not rows:
        raise ConfigError(f"no model matches {pattern!r}; mer-bench models lists them all")
    typer.echo(tabulate(rows, headers=["model", "inputs", "params (3 cls)", "params (5 cls)",
                                       "FLOPs (5 cls)", "budget", "two-branch",
                                       "description"]))


@app.command(epilog=_example("mer-bench leaderboard", "mer-bench leaderboard --results /tmp/r"))
def leaderboard(results: ResultsDir = Path("results")) -> None:
    """Regenerate the leaderboards from the stored records: LEADERBOARD.md and leaderboard.csv (index),
    leaderboards/<family>.md and .csv (one page per protocol family), plots/confusion/, the standard
    comparisons under compare/, and the web pages under site/ (open site/index.html in a browser)."""
    from mer_bench import api
    from mer_bench.report.leaderboard import FAMILY_DIR
    from mer_bench.report.site import SITE_DIR

    api.leaderboard(results)
    typer.echo(f"wrote {results / 'LEADERBOARD.md'} and the family pages under "
               f"{results / FAMILY_DIR}")
    typer.echo(f"wrote the web pages under {results / SITE_DIR}: open {results / SITE_DIR / 'index.html'}")


@app.command(epilog=_example(
    "mer-bench compare --with-reselection",
    "mer-bench compare --keyframes gamdss --keyframes 'gamdss[distance=flow]'",
    "mer-bench compare --oracle --data twin-scale0.15-seed0"))
def compare(
    with_reselection: Annotated[bool, typer.Option(
        "--with-reselection", help="Compare annotated key frames with GAMDSS reselection.")] = False,
    keyframes: Annotated[Optional[list[str]], typer.Option(
        help="Two keyframe strategies to compare, baseline first: --keyframes A --keyframes B "
             "(options in brackets).")] = None,
    oracle: Annotated[bool, typer.Option(
        "--oracle", help="Measure how much oracle (test-epoch) selection inflates fixed-epochs results.")]
        = False,
    resamples: Annotated[int, typer.Option(
        min=1, help="Subject-bootstrap resamples for the 95% intervals.")] = 2000,
    data: Annotated[Optional[str], typer.Option(
        help="The data source to compare on (a folder under <results>/records/), when the "
             "results hold several.")] = None,
    results: ResultsDir = Path("results"),
) -> None:
    """Paired comparison per protocol and model: differences with subject-bootstrap CIs, exact McNemar
    tests (Holm-adjusted) and a verdict; writes <results>/compare/<name>.md, .csv and .png."""
    from mer_bench import api
    from mer_bench.report.compare import COMPARE_DIR, comparison_name
    from mer_bench.store import DEFAULT_SELECTION

    if sum((with_reselection, keyframes is not None, oracle)) != 1:
        raise ConfigError("give exactly one of --with-reselection, --keyframes A --keyframes B "
                          "or --oracle")
    if oracle:
        baseline, other, kind = DEFAULT_SELECTION, "oracle", "selection"
    elif with_reselection:
        baseline, other, kind = "annotated", "gamdss", "keyframes"
    elif len(keyframes) != 2:
        raise ConfigError(f"compare takes two strategies, got {len(keyframes)}: "
                          "--keyframes BASELINE --keyframes OTHER")
    else:
        (baseline, other), kind = keyframes, "keyframes"
    comparison = api.compare(results, baseline=baseline, other=other, kind=kind, data=data,
                             resamples=resamples)
    typer.echo(comparison.markdown_table)
    typer.echo(comparison.note + "\n")
    name = comparison_name(comparison.baseline, comparison.other)
    typer.echo(f"wrote {results / COMPARE_DIR / name}.md")


@app.command(epilog=_example(
    "mer-bench reselect --protocol samm-5class",
    "mer-bench reselect --protocol casme2-5class --keyframes 'gamdss[distance=flow]'"))
def reselect(
    protocol: Annotated[str, typer.Option(help="Protocol id, e.g. casme2-5class.")],
    keyframes: Annotated[str, typer.Option(
        help="Reselection strategy, options in brackets, e.g. 'gamdss[window_fraction=0.2]'; "
             "one of gamdss, gamdss-legacy, gamdss-symmetric, apex-search.")] = "gamdss",
    results: Annotated[Path, typer.Option(
        "--results", help="The results folder; writes the per-sample CSV, summary and plots "
                          "under <results>/reselect/.")] = Path("results"),
    data_root: DataRoot = None,
    twin_scale: DataTwinScale = FULL_TWIN_SCALE,
    twin_seed: TwinSeed = 0,
) -> None:
    """Reselect a protocol's key frames: per-sample shifts, a summary per dataset, shift histograms."""
    from gamdss.commands import reselect_protocol
    from mer_bench.datasource import resolve_data_source

    report = reselect_protocol(protocol, keyframes,
                               resolve_data_source(data_root, twin_scale, twin_seed),
                               results / "reselect")
    typer.echo(report.summary.to_markdown(index=False, floatfmt=".2f"))
    kept = ", ".join(f"{reason}: {count}" for reason, count in sorted(report.kept.items()))
    typer.echo(f"fallbacks and filled apexes, of {report.n_samples} samples: {kept or 'none'}")
    for path in (report.samples_csv, report.summary_md, *report.plots):
        typer.echo(f"wrote {path}")


@app.command("reselection-study", epilog=_example(
    "mer-bench reselection-study --twin-scale 0.3",
    "mer-bench reselection-study --dataset casme2 --keyframes gamdss --keyframes apex-search"))
def reselection_study(
    twin_scale: DataTwinScale = FULL_TWIN_SCALE,
    twin_seed: TwinSeed = 0,
    keyframes: Annotated[Optional[list[str]], typer.Option(
        help="Strategy to study (repeatable), options in brackets; default: every registered "
             "one, and gamdss on flow.")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option(
        help="Dataset to study (repeatable); default: every dataset that has a twin.")] = None,
    results: ResultsDir = Path("results"),
    twins_root: Annotated[Optional[Path], typer.Option(
        help="Study the twins already written under this folder (mer-bench synth) instead.")] = None,
) -> None:
    """Measure annotated vs reselected key frames against every twin's truth; write reselection.md."""
    from gamdss.commands import reselection_study as run_study

    source = (f"--twins-root {twins_root}" if twins_root else
              f"--twin-scale {twin_scale:g} --twin-seed {twin_seed}")
    command = " ".join(["mer-bench reselection-study", source,
                        *(f"--dataset {d}" for d in dataset or ()),
                        *(f"--keyframes '{s}'" for s in keyframes or ())])
    path = run_study(scale=twin_scale, seed=twin_seed, strategies=keyframes, results=results,
                     command=command, datasets=dataset, twins_root=twins_root, progress=_say)
    typer.echo(f"wrote {path}")


visualize_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                            help="Figures of what trained models learned.")
app.add_typer(visualize_app, name="visualize")


@visualize_app.command("tsne", epilog=_example(
    "mer-bench visualize tsne --protocol casme2-5class --model ststnet",
    "mer-bench visualize tsne --protocol samm-5class --model ststnet --keyframes gamdss"))
def visualize_tsne(
    protocol: Annotated[str, typer.Option(help="Protocol id, e.g. casme2-5class.")],
    model: Annotated[str, typer.Option(help="Model, options in brackets, e.g. ststnet.")],
    keyframes: KeyframesOne = "annotated",
    seed: Annotated[int, typer.Option(
        min=0, help="Seed of the cell (fold k trains with seed*1000+k).")] = 0,
    data_root: DataRoot = None,
    twin_scale: TrainingTwinScale = None,
    twin_seed: TwinSeed = 0,
    results: Annotated[Path, typer.Option(
        "--results", help="The results folder; writes the PNG and the coordinates CSV under "
                          "<results>/plots/tsne/.")] = Path("results"),
    perplexity: Annotated[float, typer.Option(
        callback=_positive, help="t-SNE perplexity, capped at (samples - 1) / 3.")] = 30.0,
    executor: ExecutorName = None,
    device: DeviceOption = "auto",
    workers: WorkersOption = None,
    address: AddressOption = None,
) -> None:
    """t-SNE of held-out samples' learned features: each LOSO fold's model on its test subject."""
    from mer_bench.datasource import resolve_data_source
    from mer_bench.execute import build_executor
    from mer_bench.models import MODELS
    from mer_bench.report.tsne import tsne_features, write_tsne

    runner = build_executor(executor, {"workers": workers, "address": address}, device=device,
                            models=[MODELS.get(model)])
    runner.preflight()
    source = resolve_data_source(data_root, DEFAULT_TWIN_SCALE if twin_scale is None else twin_scale,
                                 twin_seed)
    features, table = tsne_features(
        protocol, model, keyframes, seed, source, executor=runner, work=results,
        on_fold=lambda done, total: _say(f"fold {done}/{total}"))
    path = write_tsne(features, table, results / "plots" / "tsne", protocol_id=protocol,
                      model_name=model, keyframes=keyframes, seed=seed, perplexity=perplexity)
    typer.echo(f"wrote {path}")
    typer.echo(f"wrote {path.with_suffix('.csv')}")


def _say(line: str) -> None:
    """A progress line on stderr; never read as markup ('gamdss[distance=flow]' stays whole)."""
    console.print(line, highlight=False, markup=False, soft_wrap=True)


def _click_types(name: str) -> tuple[type, ...]:
    """``name`` from every copy of click that may raise it: click itself, and the copy a typer
    release vendors (typer._click), whose classes the other's ``except`` would not catch."""
    found = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


CLICK_ERRORS = _click_types("ClickException")
ABORTS = (typer.Abort, KeyboardInterrupt, *_click_types("Abort"))
INTERRUPTED = 130  # the exit status of a run stopped by Ctrl+C (128 + SIGINT)


def _fail(message: str, status: int) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message), highlight=False,
                  soft_wrap=True)
    sys.exit(status)


def usage_line(error: Exception, argv: list[str]) -> str:
    """A click usage error as one line: the message, a hint, and where help is."""
    message = " ".join(error.format_message().split())
    ctx = getattr(error, "ctx", None)
    command = (ctx.command_path if ctx is not None else
               " ".join(["mer-bench", *argv[:1]]) if argv and not argv[0].startswith("-")
               else "mer-bench")
    if message.startswith("No such command") and "Did you mean" not in message:
        names = sorted(ctx.command.list_commands(ctx)) if ctx is not None else []
        wanted = message.split("'")[1] if message.count("'") >= 2 else ""
        close = difflib.get_close_matches(wanted, names, n=2, cutoff=0.5)
        message += (f" Did you mean {' or '.join(close)}?" if close else
                    f" Commands: {', '.join(names)}.")
    return f"{message} (see '{command} --help')"


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit with status 2, never a traceback.

    Exit status: 0 done; 1 a check failed (doctor, protocols --check) or jobs failed after their
    retries; 2 a usage or input error, with one line saying what to do; 130 interrupted. Set
    MER_BENCH_DEBUG=1 to see the traceback of an OS error.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        status = app(args=argv, standalone_mode=False, prog_name="mer-bench")
    except MerBenchError as error:
        _fail(str(error), error.exit_code)
    except ABORTS:
        console.print("aborted", highlight=False)
        sys.exit(INTERRUPTED)
    except CLICK_ERRORS as error:
        if type(error).__name__ == "NoArgsIsHelpError" and getattr(error, "ctx", None):
            typer.echo(error.ctx.get_help())  # the bare command: its help, then status 2
            sys.exit(2)
        _fail(usage_line(error, argv), getattr(error, "exit_code", 2) or 2)
    except OSError as error:
        if os.environ.get(DEBUG_ENV):
            raise
        where = f"{error.filename}: " if error.filename else ""
        _fail(f"{where}{error.strerror or error}; check the path and its permissions", 2)
    if status == INTERRUPTED:  # typer turns Ctrl+C into this status itself, before main sees it
        console.print("aborted", highlight=False)
    if isinstance(status, int) and status:
        sys.exit(status)
