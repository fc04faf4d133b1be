"""A paired comparison, from records to files: ``<name>.md``, ``<name>.csv`` and the forest plot
``<name>.png`` (the CLI writes them under ``<results>/compare``).

The table comes from ``mer_bench.report.pairing`` (what is paired, the statistics of each row), the
text from ``mer_bench.report.markdown``, the plot from ``mer_bench.report.figures``; this module
puts them together and writes them atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from mer_bench.files import atomic_write_bytes, atomic_write_text
from mer_bench.report.figures import forest_plot_png
from mer_bench.report.markdown import comparison_page, forest_labels, format_compare
from mer_bench.report.notes import comparison_note
from mer_bench.report.pairing import Kind, compare_table
from mer_bench.report.stats import BOOTSTRAP_SEED, N_RESAMPLES, TOO_FEW_SUBJECTS
from mer_bench.store import JobResult

COMPARE_DIR = "compare"


@dataclass(frozen=True)
class Comparison:
    """A finished comparison: its numbers, and the texts written for it."""

    name: str
    kind: Kind
    baseline: str
    other: str
    table: pd.DataFrame
    markdown_table: str
    note: str

    @property
    def measures_inflation(self) -> bool:
        return self.kind == "selection" and "oracle" in (self.baseline, self.other)


def comparison_name(baseline: str, other: str) -> str:
    """File stem for a comparison, e.g. 'annotated-vs-gamdss'; characters unsafe in a path become '_'."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", f"{baseline}-vs-{other}")


def build_comparison(
    results: Sequence[JobResult],
    baseline: str,
    other: str,
    *,
    kind: Kind = "keyframes",
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    records_root: str = "records",
) -> Comparison:
    """Compute a comparison (see ``compare_table``) and its Markdown table and note; writes nothing.
    ``records_root`` is the records folder relative to the results folder (the record paths' prefix)."""
    table = compare_table(results, baseline, other, kind=kind, n_resamples=n_resamples, seed=seed,
                          records_root=records_root)
    name = comparison_name(baseline, other)
    tests = int((table["verdict"] != TOO_FEW_SUBJECTS).sum())
    note = comparison_note(kind, baseline, other, len(table), tests, n_resamples, seed, name)
    return Comparison(name, kind, baseline, other, table, format_compare(table), note)


def comparison_markdown(comparison: Comparison) -> str:
    """The whole ``<name>.md``: title, table, note, forest plot link; equal input gives equal text."""
    return comparison_page(name=comparison.name, kind=comparison.kind, baseline=comparison.baseline,
                           other=comparison.other, table=comparison.table, markdown_table=comparison.markdown_table,
                           note=comparison.note, measures_inflation=comparison.measures_inflation)


def forest_plot(comparison: Comparison) -> bytes:
    """The forest plot of ΔUF1 per row, as PNG bytes (no timestamp or version stamped in)."""
    title = "Oracle inflation" if comparison.measures_inflation else "Paired comparison"
    return forest_plot_png(
        comparison.table, labels=forest_labels(comparison.table, comparison.kind),
        title=f"{title}: {comparison.baseline} vs {comparison.other}",
        xlabel=f"ΔUF1 = {comparison.other} − {comparison.baseline}\n(95% subject-bootstrap interval)")


def save_comparison(comparison: Comparison, out_dir: Path) -> Path:
    """Write ``<name>.png``, ``<name>.csv`` and ``<name>.md`` into ``out_dir`` atomically; returns the .md path.

    Everything is rendered before the first file is written, so a failure leaves nothing behind.
    """
    out_dir = Path(out_dir)
    png = forest_plot(comparison)
    csv = comparison.table.to_csv(index=False, lineterminator="\n")
    markdown = comparison_markdown(comparison)
    atomic_write_bytes(out_dir / f"{comparison.name}.png", png)
    atomic_write_text(out_dir / f"{comparison.name}.csv", csv)
    markdown_path = out_dir / f"{comparison.name}.md"
    atomic_write_text(markdown_path, markdown)
    return markdown_path


def write_comparison(
    results: Sequence[JobResult],
    out_dir: Path,
    baseline: str,
    other: str,
    *,
    kind: Kind = "keyframes",
    n_resamples: int = N_RESAMPLES,
) -> Path:
    """Compare ``other`` with ``baseline`` and write the Markdown, CSV and forest plot into ``out_dir``
    (the CLI uses ``<results>/compare``); returns the Markdown path. Raises MerBenchError, writing
    nothing, on bad input (see ``paired_results``)."""
    return save_comparison(build_comparison(results, baseline, other, kind=kind, n_resamples=n_resamples), out_dir)


__all__ = [
    "COMPARE_DIR", "Comparison", "build_comparison", "comparison_markdown", "comparison_name", "forest_plot",
    "save_comparison", "write_comparison",
]
