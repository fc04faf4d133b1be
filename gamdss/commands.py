"""What `mer-bench reselect` and `mer-bench reselection-study` do, so that the CLI stays thin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gamdss.plots import plot_shift_histograms
from gamdss.reselect import make_strategy
from gamdss.shifts import fallback_counts, shift_summary, shift_table, summary_markdown
from gamdss.study import Progress, run_study
from gamdss.study_report import write_study
from mer_bench.datasource import DataSource, protocol_samples
from mer_bench.errors import ConfigError
from mer_bench.protocols import get_protocol


@dataclass(frozen=True)
class ReselectionReport:
    """Where `reselect_protocol` wrote its files, and what it found."""

    samples_csv: Path
    summary_md: Path
    plots: tuple[Path, ...]
    summary: pd.DataFrame
    kept: dict[str, int]
    n_samples: int


def reselect_protocol(protocol_id: str, strategy_spec: str, source: DataSource,
                      out_dir: Path) -> ReselectionReport:
    """Reselect every labelled sample of a protocol; write per-sample CSV, summary and plots.

    Every sample is reselected whatever the strategy's ``applies_to`` (that only decides whether
    a test fold uses the result); the summary says which side the strategy applies to.
    """
    protocol = get_protocol(protocol_id)
    strategy = make_strategy(strategy_spec)
    select = getattr(strategy, "reselect", None)
    if select is None:
        raise ConfigError(f"keyframe strategy {strategy_spec!r} does not report reselections; use "
                          "one of gamdss, gamdss-legacy, gamdss-symmetric, apex-search")
    # Composite protocols pool several datasets; the summary keeps them apart.
    samples = [item.sample for item in protocol.label_samples(protocol_samples(protocol, source))]
    if not samples:
        raise ConfigError(f"protocol {protocol_id}: no sample carries one of its labels")
    table = shift_table(samples, [select(sample) for sample in samples])
    summary = shift_summary(table)
    stem = _slug(f"{protocol_id}-{strategy_spec}")
    target = Path(out_dir) / stem
    target.mkdir(parents=True, exist_ok=True)
    samples_csv = target / "samples.csv"
    table.to_csv(samples_csv, index=False)
    plots = tuple(
        plot_shift_histograms(table, dataset, target / f"shifts-{_slug(dataset)}.png",
                              title=f"{dataset}: {strategy_spec} shifts ({protocol_id})")
        for dataset in sorted(table["dataset"].unique()))
    title = (f"Reselection shifts: {strategy_spec} on {protocol_id} "
             f"(applies to {'train only' if strategy.applies_to == 'train' else 'train and test'})")
    summary_md = target / "summary.md"
    summary_md.write_text(summary_markdown(summary, table, title=title,
                                           plots=[p.name for p in plots]), encoding="utf-8")
    return ReselectionReport(samples_csv, summary_md, plots, summary,
                             dict(fallback_counts(table)), len(table))


def reselection_study(*, scale: float, seed: int, strategies: list[str] | None, results: Path,
                      command: str, datasets: list[str] | None = None,
                      twins_root: Path | None = None, progress: Progress | None = None) -> Path:
    """Run the truth study on every twin and publish ``<results>/reselection.md``."""
    if twins_root is not None and not Path(twins_root).is_dir():
        raise ConfigError(f"--twins-root {twins_root} is not a folder; write twins there with "
                          "mer-bench synth, or omit it")
    result = run_study(scale=scale, seed=seed, strategies=strategies, datasets=datasets,
                       progress=progress, twins_root=twins_root)
    if result.table.empty:
        where = f"under {twins_root}" if twins_root else "registered"
        raise ConfigError(f"no synthetic twin found {where}; nothing to study")
    return write_study(result, results, command=command)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
