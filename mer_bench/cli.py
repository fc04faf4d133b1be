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
    twin_scale: TwinScale = 1.0,
    twin_seed: TwinSeed = 0,
    executor: Annotated[str, typer.Option(help="How jobs run: local.")] = "local",
    skip_completed: Annotated[bool, typer.Option(
        help="Reuse records already in the results folder.")] = False,
) -> None:
    """Run benchmark cells (protocol x model x keyframe strategy x seed) and write leaderboards."""
    from mer_bench.runner import expand_cells, run_cells

    if all_ and suite:
        raise ConfigError("give either --all or --suite, not both")
    suite_name = "all" if all_ else suite
    if suite_name is None and not protocol:
        raise ConfigError("nothing to run: give --all, --suite NAME or --protocol ID")
    cells = expand_cells(suite_name, protocol, model, keyframes, seed)
    run_cells(cells, data_root=data_root, results=results, twin_scale=twin_scale,
              twin_seed=twin_seed, executor=executor, skip_completed=skip_completed,
              console=console)


@app.command()
def synth(
    dataset: Annotated[str, typer.Argument(help="Dataset name, e.g. casme2.")],
    out: Annotated[Path, typer.Option(help="Folder to write the twin into (created).")],
    scale: Annotated[float, typer.Option(help="Fraction of the real dataset's size.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    """Write a synthetic twin of DATASET in its native layout, with true key frames beside it."""
    from mer_bench.data.spec import DATASETS

    spec = DATASETS.get(dataset)
    if spec.write_twin is None:
        raise ConfigError(f"dataset {dataset!r} has no synthetic twin yet")
    if not 0 < scale <= 1:
        raise ConfigError(f"--scale {scale} is out of range; use a value in (0, 1]")
    target = out / spec.folder
    if target.exists():
        raise ConfigError(f"{target} already exists; remove it or choose another --out")
    spec.write_twin(target, scale, seed)
    typer.echo(f"wrote {spec.title} twin (scale {scale:g}, seed {seed}) to {target}")


@app.command()
def protocols() -> None:
    """List the registered protocols with their classes and published counts."""
    from mer_bench.protocols import protocol_registry

    registry = protocol_registry()
    rows = []
    for pid in registry.names():
        p = registry.get(pid)
        rows.append([pid, p.dataset, p.evaluation, p.version, len(p.classes),
                     ", ".join(p.classes), sum(p.expected.counts.values()) or "",
                     p.expected.subjects or "", p.hash])
    typer.echo(tabulate(rows, headers=["protocol", "dataset", "evaluation", "version",
                                       "classes", "labels", "samples", "subjects", "hash"]))


@app.command()
def models(pattern: Annotated[str, typer.Argument(help="Glob over model names.")] = "*") -> None:
    """List the registered models with their input, parameter count and training budget."""
    from mer_bench.inputs.representations import INPUTS
    from mer_bench.models import MODELS, count_flops, count_parameters

    rows = []
    for name in MODELS.names(pattern):
        spec = MODELS.get(name)
        budget = spec.budget
        channels = [INPUTS.get(kind).channels for kind in spec.inputs]
        rows.append([name, f"{' + '.join(spec.inputs)} {spec.input_size}x{spec.input_size}",
                     count_parameters(spec.build(3)), count_parameters(spec.build(5)),
                     f"{count_flops(spec, 5, channels):,}",
                     f"{budget.epochs} ep, bs {budget.batch_size}, lr {budget.lr:g}",
                     "yes" if spec.two_branch else "", spec.description])
    typer.echo(tabulate(rows, headers=["model", "inputs", "params (3 cls)", "params (5 cls)",
                                       "FLOPs (5 cls)", "budget", "two-branch",
                                       "description"]))


@app.command()
def leaderboard(results: ResultsDir = Path("results")) -> None:
    """Regenerate LEADERBOARD.md and leaderboard.csv from the stored records."""
    from mer_bench.report.leaderboard import write_leaderboard
    from mer_bench.store import ResultStore

    store = ResultStore(results)
    path = write_leaderboard(store.load_all(), results, records_dir=store.records_dir)
    typer.echo(f"wrote {path}")


@app.command()
def compare(
    with_reselection: Annotated[bool, typer.Option(
        "--with-reselection", help="Compare annotated key frames with GAMDSS reselection.")] = False,
    strategies: Annotated[Optional[str], typer.Option(
        help="Two keyframe strategies to compare, 'baseline,other'.")] = None,
    results: ResultsDir = Path("results"),
) -> None:
    """Print two keyframe strategies side by side per protocol and model, with the difference."""
    from mer_bench.report.compare import compare_table, format_compare
    from mer_bench.store import ResultStore

    if with_reselection == bool(strategies):
        raise ConfigError("give either --with-reselection or --strategies A,B")
    baseline, other = ("annotated", "gamdss") if with_reselection else _pair(strategies)
    table = compare_table(ResultStore(results).load_all(), baseline=baseline, other=other)
    typer.echo(format_compare(table))


def _pair(text: str | None) -> tuple[str, str]:
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if len(parts) != 2:
        raise ConfigError(f"--strategies {text!r}: give two names separated by a comma")
    return parts[0], parts[1]


def main() -> None:
    """Entry point: user errors print one line and exit with status 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except MerBenchError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except typer.Exit as stop:
        sys.exit(stop.exit_code)
    except Exception as error:  # click usage errors arrive here with standalone_mode=False
        from click import ClickException

        if isinstance(error, ClickException):
            error.show()
            sys.exit(2)
        raise
