"""The mer-bench command line: parses options, calls the library, prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from tabulate import tabulate

from mer_bench.errors import ConfigError, MerBenchError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Benchmark harness for facial micro-expression recognition.")
console = Console(stderr=True)

DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder holding the real datasets (e.g. CASME2/); default: "
    "$MER_BENCH_DATA, else the synthetic twins.")]
ResultsDir = Annotated[Path, typer.Option("--results", help="Where records and leaderboards go.")]
TwinScale = Annotated[float, typer.Option("--twin-scale", help="Size of the synthetic twins, "
                                          "as a fraction of the real dataset (0, 1].")]
TwinSeed = Annotated[int, typer.Option("--twin-seed", help="Seed of the synthetic twins.")]


@app.command()
def run(
    all_: Annotated[bool, typer.Option("--all", help="Run the 'all' suite.")] = False,
    suite: Annotated[Optional[str], typer.Option(help="Run a named suite.")] = None,
    protocol: Annotated[Optional[list[str]], typer.Option(help="Protocol id (repeatable).")] = None,
    model: Annotated[Optional[list[str]], typer.Option(help="Model name (repeatable).")] = None,
    keyframes: Annotated[Optional[list[str]], typer.Option(
        help="Keyframe strategy (repeatable), e.g. annotated, gamdss.")] = None,
    seed: Annotated[Optional[list[int]], typer.Option(help="Seed (repeatable).")] = None,
    data_root: DataRoot = None,
    results: ResultsDir = Path("results"),
    twin_scale: Annotated[Optional[float], typer.Option(
        "--twin-scale", help="Size of the synthetic twins, as a fraction of the real dataset "
        "(0, 1]; default: the suite's setting, else 1.")] = None,
    twin_seed: TwinSeed = 0,
    selection: Annotated[Optional[list[str]], typer.Option(
        help="Model selection mode (repeatable): fixed-epochs (default), or oracle, which picks "
             "the best epoch on the test subject only to measure how much that inflates "
             "numbers.")] = None,
    executor: Annotated[str, typer.Option(help="How jobs run: local (one after another, in "
                                          "this process) or ray (Ray Tune).")] = "local",
    address: Annotated[Optional[str], typer.Option(
        help="Ray: join the cluster at this address (e.g. 127.0.0.1:6379 or auto) instead of "
             "starting Ray embedded.")] = None,
    num_cpus: Annotated[Optional[int], typer.Option(
        help="Ray, embedded: CPUs to use (default: all).")] = None,
    num_gpus: Annotated[Optional[float], typer.Option(
        help="Ray, embedded: GPUs to use (default: those Ray detects).")] = None,
    storage: Annotated[Optional[Path], typer.Option(
        help="Ray: where Tune keeps its experiment state (default: in the cache; on a "
             "multi-node cluster, a folder every node sees).")] = None,
    max_failures: Annotated[int, typer.Option(
        help="Ray: retries of a failed job before it is reported as failed.")] = 2,
    gpu_share: Annotated[Optional[float], typer.Option(
        help="Ray: the share of a GPU each job reserves where there are GPUs (default: the "
             "model's own, 0.25 for small models).")] = None,
    skip_completed: Annotated[bool, typer.Option(
        help="Reuse records already in the results folder made with the same config.")] = False,
    resume: Annotated[bool, typer.Option(
        help="Continue an interrupted run: the same as --skip-completed, after cleaning up "
             "records a killed run left half-written.")] = False,
    dry_run: Annotated[bool, typer.Option(
        help="Print the job matrix with resources and status; run nothing.")] = False,
) -> None:
    """Run benchmark cells (protocol x model x keyframe strategy x seed) and write leaderboards."""
    from mer_bench.runner import describe_jobs, expand_cells, make_executor, run_cells
    from mer_bench.store import ResultStore
    from mer_bench.suites import suite_registry

    if all_ and suite:
        raise ConfigError("give either --all or --suite, not both")
    suite_name = "all" if all_ else suite
    if suite_name is None and not protocol:
        raise ConfigError("nothing to run: give --all, --suite NAME or --protocol ID")
    if max_failures < 0:
        raise ConfigError(f"--max-failures {max_failures}: give 0 or more")
    cells = expand_cells(suite_name, protocol, model, keyframes, seed, selection)
    if twin_scale is None:
        twin_scale = suite_registry().get(suite_name).twin_scale if suite_name else 1.0
    runner = make_executor(executor, skip_completed=skip_completed or resume, address=address,
                           num_cpus=num_cpus, num_gpus=num_gpus, storage=storage,
                           max_failures=max_failures, gpu_share=gpu_share)
    if dry_run:
        typer.echo(describe_jobs(cells, data_root=data_root, results=results,
                                 twin_scale=twin_scale, twin_seed=twin_seed,
                                 gpu_share=gpu_share))
        return
    if resume:
        ResultStore(results).sweep_unfinished()
    run_cells(cells, data_root=data_root, results=results, twin_scale=twin_scale,
              twin_seed=twin_seed, runner=runner, console=console)


@app.command()
def tune(
    protocol: Annotated[str, typer.Option(help="Protocol id, e.g. casme2-5class.")],
    model: Annotated[str, typer.Option(help="Model name, e.g. ststnet.")],
    trials: Annotated[int, typer.Option(
        help="Finished trials per fold's study; a rerun adds only the missing ones.")],
    keyframes: Annotated[str, typer.Option(help="Keyframe strategy.")] = "annotated",
    seed: Annotated[int, typer.Option(help="Seed of the cell, the inner split and TPE.")] = 0,
    data_root: DataRoot = None,
    twin_scale: TwinScale = 1.0,
    twin_seed: TwinSeed = 0,
    results: ResultsDir = Path("results"),
    executor: Annotated[str, typer.Option(
        help="How trials run: local (plain Optuna, in this process) or ray (Ray Tune).")]
        = "local",
    address: Annotated[Optional[str], typer.Option(
        help="Ray: join the cluster at this address instead of starting Ray embedded.")] = None,
    max_epochs: Annotated[Optional[int], typer.Option(
        help="Most epochs a trial may train (default: the model's own budget).")] = None,
    inner_folds: Annotated[int, typer.Option(
        help="Subject-grouped inner folds of each fold's training side.")] = 3,
    asha: Annotated[bool, typer.Option(
        help="Ray: stop weak trials early with ASHA (rungs are inner folds).")] = False,
) -> None:
    """Tune a cell with Optuna, one study per LOSO fold on its training side only; then evaluate
    the cell once with each fold's best budget (selection optuna-nested)."""
    from mer_bench.datasource import resolve_data_source
    from mer_bench.tune.nested import TuneSettings, check_settings, tune_cell

    settings = TuneSettings(protocol=protocol, model=model, trials=trials, keyframes=keyframes,
                            seed=seed, results=results, executor=executor, address=address,
                            max_epochs=max_epochs, inner_folds=inner_folds, asha=asha)
    check_settings(settings)
    source = resolve_data_source(data_root, twin_scale, twin_seed)

    def report(line: str) -> None:
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    result = tune_cell(settings, source, report)
    m = result.metrics
    typer.echo(f"{result.cell.cell_id}: acc {m.accuracy:.4f}  UF1 {m.uf1:.4f}  UAR {m.uar:.4f}  "
               f"({result.wall_time_s:.1f} s to evaluate)")
    typer.echo(f"wrote {results / 'records' / result.cell.relpath} and the leaderboard; "
               f"studies in {results / result.config['tuning']['storage']}")


@app.command()
def synth(
    dataset: Annotated[Optional[str], typer.Argument(help="Dataset name, e.g. casme2.")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write the twins into (created).")] = Path(
        "twins"),
    all_: Annotated[bool, typer.Option("--all", help="Every dataset that has a twin.")] = False,
    scale: Annotated[float, typer.Option(help="Fraction of the real dataset's size.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    """Write synthetic twins in their datasets' native layouts, true key frames beside them."""
    from mer_bench.data.spec import DATASETS

    if all_ == (dataset is not None):
        raise ConfigError("give a dataset name or --all")
    if not 0 < scale <= 1:
        raise ConfigError(f"--scale {scale} is out of range; use a value in (0, 1]")
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
        spec.write_twin(target, scale, seed)
        written.add(target)
        typer.echo(f"wrote {spec.title} twin (scale {scale:g}, seed {seed}) to {target}")


@app.command()
def protocols(
    check: Annotated[bool, typer.Option(
        "--check", help="Check every protocol's published counts on the data present.")] = False,
    data_root: DataRoot = None,
    twin_scale: TwinScale = 1.0,
    twin_seed: TwinSeed = 0,
) -> None:
    """List the registered protocols with their classes and published counts."""
    from mer_bench.protocols import protocol_registry

    if check:
        _check_protocols(data_root, twin_scale, twin_seed)
        return
    registry = protocol_registry()
    rows = []
    for pid in registry.names():
        p = registry.get(pid)
        rows.append([pid, p.dataset, p.evaluation, p.version, len(p.classes),
                     ", ".join(p.classes), sum(p.expected.counts.values()) or "",
                     p.expected.subjects or "", "yes" if p.expected.assumed else "", p.hash])
    typer.echo(tabulate(rows, headers=["protocol", "dataset", "evaluation", "version",
                                       "classes", "labels", "samples", "subjects", "assumed",
                                       "hash"]))


def _check_protocols(data_root: Path | None, twin_scale: float, twin_seed: int) -> None:
    from mer_bench.datasource import resolve_data_source
    from mer_bench.protocol_check import check_protocols

    checks = check_protocols(resolve_data_source(data_root, twin_scale, twin_seed))
    typer.echo(tabulate([[c.protocol.id, c.samples if c.present else "", c.subjects or "",
                          c.status] for c in checks],
                        headers=["protocol", "samples", "subjects", "counts"]))
    for check in checks:
        if check.failed:
            typer.echo("\n".join(f"  {line}" for line in check.problems))
    if any(c.failed for c in checks):
        raise typer.Exit(1)


@app.command()
def doctor(
    data_root: DataRoot = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="List every errata fix, not three examples per rule.")] = False,
) -> None:
    """Find the datasets under a data root, validate each, list errata applied and problems."""
    import os

    from mer_bench.data.doctor import diagnose
    from mer_bench.datasource import DATA_ENV

    root = data_root or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    if root is None or not root.is_dir():
        raise ConfigError(f"data root {root} is not a folder; pass --data-root DIR (or set "
                          f"{DATA_ENV}) to the folder holding the datasets")
    reports = diagnose(root)
    typer.echo(tabulate([[r.name, r.folder.name, r.status, r.samples or "", r.subjects or "",
                          len(r.fixes) or "", len(r.problems) or ""] for r in reports],
                        headers=["dataset", "folder", "status", "samples", "subjects",
                                 "errata fixes", "problems"]))
    for report in (r for r in reports if r.present):
        if report.error:
            typer.echo(f"\n{report.title}: {report.error}")
        if report.fixes:
            typer.echo(f"\n{report.title}: errata applied")
            _print_fixes(report.fixes, verbose)
        if report.problems:
            typer.echo(f"\n{report.title}: problems")
            typer.echo("\n".join(f"  {line}" for line in report.problems))
        if report.faces is not None:
            from mer_bench.inputs.face_report import face_section

            title, lines = face_section(report.faces)
            typer.echo(f"\n{report.title}: {title}\n" + "\n".join(f"  {line}" for line in lines))
    present = [r for r in reports if r.present]
    if not present or any(not r.usable for r in present):
        raise typer.Exit(1)


@app.command()
def models(pattern: Annotated[str, typer.Argument(help="Glob over model names.")] = "*") -> None:
    """List the registered models with their input, parameter count and training budget."""
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
    typer.echo(tabulate(rows, headers=["model", "inputs", "params (3 cls)", "params (5 cls)",
                                       "FLOPs (5 cls)", "budget", "two-branch",
                                       "description"]))


@app.command()
def leaderboard(results: ResultsDir = Path("results")) -> None:
    """Regenerate the leaderboards from the stored records: LEADERBOARD.md and leaderboard.csv (index),
    leaderboards/<family>.md and .csv (one page per protocol family) and plots/confusion/."""
    from mer_bench.report.leaderboard import FAMILY_DIR
    from mer_bench.report.publish import publish
    from mer_bench.store import ResultStore

    store = ResultStore(results)
    path = publish(store.load_all(), results, records_dir=store.records_dir)
    typer.echo(f"wrote {path} and the family pages under {results / FAMILY_DIR}")


@app.command()
def compare(
    with_reselection: Annotated[bool, typer.Option(
        "--with-reselection", help="Compare annotated key frames with GAMDSS reselection.")] = False,
    strategies: Annotated[Optional[str], typer.Option(
        help="Two keyframe strategies to compare, 'baseline,other'.")] = None,
    oracle: Annotated[bool, typer.Option(
        "--oracle", help="Measure how much oracle (test-epoch) selection inflates fixed-epochs results.")]
        = False,
    resamples: Annotated[int, typer.Option(
        min=1, help="Subject-bootstrap resamples for the 95% intervals.")] = 2000,
    results: ResultsDir = Path("results"),
) -> None:
    """Paired comparison per protocol and model: differences with subject-bootstrap CIs, exact McNemar
    tests (Holm-adjusted) and a verdict; writes <results>/compare/<name>.md, .csv and .png."""
    from mer_bench.errors import DataError
    from mer_bench.report.compare import COMPARE_DIR, build_comparison, save_comparison
    from mer_bench.store import DEFAULT_SELECTION, ResultStore

    if sum((with_reselection, strategies is not None, oracle)) != 1:
        raise ConfigError("give exactly one of --with-reselection, --strategies A,B or --oracle")
    if oracle:
        baseline, other, kind = DEFAULT_SELECTION, "oracle", "selection"
    else:
        baseline, other = ("annotated", "gamdss") if with_reselection else _pair(strategies)
        kind = "keyframes"
    store = ResultStore(results)
    records = store.load_all()
    if not records:
        raise DataError(f"no result records under {store.records_dir}; run `mer-bench run` first")
    comparison = build_comparison(records, baseline, other, kind=kind, n_resamples=resamples)
    path = save_comparison(comparison, results / COMPARE_DIR)
    typer.echo(comparison.markdown_table)
    typer.echo(comparison.note + "\n")
    typer.echo(f"wrote {path}")


@app.command()
def reselect(
    protocol: Annotated[str, typer.Option(help="Protocol id, e.g. casme2-5class.")],
    strategy: Annotated[str, typer.Option(
        help="Reselection strategy, options in brackets: gamdss, gamdss-legacy, gamdss-symmetric, "
             "apex-search, 'gamdss\\[distance=flow,window_fraction=0.2]'.")] = "gamdss",
    out: Annotated[Path, typer.Option(help="Folder for the per-sample CSV, summary and plots.")]
        = Path("results/reselect"),
    data_root: DataRoot = None,
    twin_scale: TwinScale = 1.0,
    twin_seed: TwinSeed = 0,
) -> None:
    """Reselect a protocol's key frames: per-sample shifts, a summary per dataset, shift histograms."""
    from gamdss.commands import reselect_protocol
    from mer_bench.datasource import resolve_data_source

    report = reselect_protocol(protocol, strategy,
                               resolve_data_source(data_root, twin_scale, twin_seed), out)
    typer.echo(report.summary.to_markdown(index=False, floatfmt=".2f"))
    kept = ", ".join(f"{reason}: {count}" for reason, count in sorted(report.kept.items()))
    typer.echo(f"fallbacks and filled apexes, of {report.n_samples} samples: {kept or 'none'}")
    for path in (report.samples_csv, report.summary_md, *report.plots):
        typer.echo(f"wrote {path}")


@app.command("reselection-study")
def reselection_study(
    twin_scale: TwinScale = 1.0,
    twin_seed: TwinSeed = 0,
    strategy: Annotated[Optional[list[str]], typer.Option(
        help="Strategy to study (repeatable); default: every registered one, and gamdss on flow.")]
        = None,
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
                        *(f"--strategy '{s}'" for s in strategy or ())])
    path = run_study(scale=twin_scale, seed=twin_seed, strategies=strategy, results=results,
                     command=command, datasets=dataset, twins_root=twins_root,
                     progress=lambda step: console.print(step, highlight=False, markup=False))
    typer.echo(f"wrote {path}")


visualize_app = typer.Typer(no_args_is_help=True, help="Figures of what trained models learned.")
app.add_typer(visualize_app, name="visualize")


@visualize_app.command("tsne")
def visualize_tsne(
    protocol: Annotated[str, typer.Option(help="Protocol id, e.g. casme2-5class.")],
    model: Annotated[str, typer.Option(help="Model name, e.g. ststnet.")],
    keyframes: Annotated[str, typer.Option(help="Keyframe strategy.")] = "annotated",
    seed: Annotated[int, typer.Option(help="Seed of the cell (fold k trains with seed*1000+k).")]
        = 0,
    data_root: DataRoot = None,
    twin_scale: TwinScale = 1.0,
    twin_seed: TwinSeed = 0,
    out: Annotated[Path, typer.Option(help="Folder for the PNG and the coordinates CSV.")]
        = Path("results/plots/tsne"),
    perplexity: Annotated[float, typer.Option(
        help="t-SNE perplexity, capped at (samples - 1) / 3.")] = 30.0,
) -> None:
    """t-SNE of held-out samples' learned features: each LOSO fold's model on its test subject."""
    from mer_bench.datasource import resolve_data_source
    from mer_bench.report.tsne import tsne_features, write_tsne

    if perplexity <= 0:
        raise ConfigError(f"--perplexity {perplexity:g}: give a positive number")
    features, table = tsne_features(
        protocol, model, keyframes, seed, resolve_data_source(data_root, twin_scale, twin_seed),
        on_fold=lambda done, total: console.print(f"fold {done}/{total}", highlight=False))
    path = write_tsne(features, table, out, protocol_id=protocol, model_name=model,
                      keyframes=keyframes, seed=seed, perplexity=perplexity)
    typer.echo(f"wrote {path}")
    typer.echo(f"wrote {path.with_suffix('.csv')}")


def _print_fixes(fixes, verbose: bool) -> None:
    by_rule: dict[str, list] = {}
    for fix in fixes:
        by_rule.setdefault(fix.rule, []).append(fix)
    for rule, applied in by_rule.items():
        typer.echo(f"  {rule}: {len(applied)} samples")
        shown = applied if verbose else applied[:3]
        typer.echo("\n".join(f"    {fix.sample_id}: {fix.what}" for fix in shown))
        if len(shown) < len(applied):
            typer.echo(f"    ... {len(applied) - len(shown)} more (--verbose lists them)")


def _pair(text: str | None) -> tuple[str, str]:
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if len(parts) != 2:
        raise ConfigError(f"--strategies {text!r}: give two names separated by a comma")
    return parts[0], parts[1]


def main() -> None:
    """Entry point: user errors print one line and exit with status 2, never a traceback."""
    try:
        status = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
    except MerBenchError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except Exception as error:  # click usage errors arrive here with standalone_mode=False
        from click import ClickException

        if isinstance(error, ClickException):
            error.show()
            sys.exit(2)
        raise
    if isinstance(status, int) and status:
        sys.exit(status)
