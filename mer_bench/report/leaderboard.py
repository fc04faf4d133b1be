"""Leaderboards from result records, from records to files: an index, one Markdown page and CSV per
protocol family, and a confusion-matrix plot per row.

Layout below the results folder, regenerated from the records alone (same records, same bytes):

    LEADERBOARD.md, leaderboard.csv             index by data source; CSV of every row
    leaderboards/<family>.md, <family>.csv      per data source, one table per protocol of the family
    plots/confusion/<data source>/<protocol>/<model>__<keyframes>__<selection>.png

The rows come from ``mer_bench.report.tables`` (scores, data behind them, references, honest
ranks), the text from ``mer_bench.report.markdown``, the plots from ``mer_bench.report.figures``.
Everything is computed and validated before the first file is written; files are replaced
atomically, and generated files of families or rows without records any more are removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from mer_bench.errors import DataError
from mer_bench.files import atomic_write_bytes, write_if_changed
from mer_bench.report.figures import confusion_key, confusion_png, generated_png_key
from mer_bench.report.markdown import FAMILY_DIR, family_markdown, leaderboard_markdown
from mer_bench.report.notes import LEADERBOARD_GENERATED
from mer_bench.report.sources import data_source_group
from mer_bench.report.tables import (
    CONFUSION_DIR,
    TABLE_COLUMNS,
    confusion_paths,
    leaderboard_table,
    plot_key,
    table_csv,
)
from mer_bench.store import JobResult

LEADERBOARD_MD = "LEADERBOARD.md"
LEADERBOARD_CSV = "leaderboard.csv"


@dataclass(frozen=True)
class ConfusionPlot:
    """What one row's plot shows: its confusion matrix summed over seeds (rows = true class)."""

    confusion: list[list[int]]
    classes: list[str]
    title: str

    @property
    def key(self) -> str:
        return confusion_key(self.confusion, self.classes, self.title)


def confusion_plots(results: Sequence[JobResult]) -> dict[str, ConfusionPlot]:
    """Summed confusion matrix of each row, by plot path relative to the results folder."""
    rows: dict[tuple, list[JobResult]] = {}
    for result in results:
        rows.setdefault(plot_key(result), []).append(result)
    paths = confusion_paths(sorted(rows))
    plots = {}
    for key, runs in sorted(rows.items()):
        runs = sorted(runs, key=lambda run: run.cell.seed)
        classes = list(runs[0].metrics.classes)
        summed = [[sum(run.metrics.confusion[i][j] for run in runs) for j in range(len(classes))]
                  for i in range(len(classes))]
        data_source, protocol, model, keyframes, selection = key
        seeds = " ".join(str(run.cell.seed) for run in runs)
        title = (f"{protocol} · {model} · {keyframes} · {selection}"
                 + (" (best test-subject epoch: inflated)" if selection == "oracle" else "")
                 + f"\n{data_source_group(data_source).label}; summed over "
                 f"{'seed' if len(runs) == 1 else 'seeds'} {seeds} ({sum(run.metrics.n for run in runs)} predictions)")
        plots[paths[key]] = ConfusionPlot(summed, classes, title)
    return plots


def _png_key(path: Path) -> str | None:
    return generated_png_key(path.read_bytes()) if path.is_file() else None


def _is_generated_text(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix == ".md":
        return LEADERBOARD_GENERATED in text
    return path.suffix == ".csv" and text.startswith(",".join(TABLE_COLUMNS[:3]) + ",")


def _remove_stale(out_dir: Path, keep: set[Path]) -> None:
    """Delete generated pages and plots not regenerated this time; files a person put there stay."""
    pages = out_dir / FAMILY_DIR
    if pages.is_dir():
        for path in sorted(pages.iterdir()):
            if path not in keep and path.is_file() and _is_generated_text(path):
                path.unlink()
    plots = out_dir / CONFUSION_DIR
    if plots.is_dir():
        for path in sorted(plots.rglob("*.png")):
            if path not in keep and _png_key(path) is not None:
                path.unlink()
        for directory in sorted((p for p in plots.rglob("*") if p.is_dir()), reverse=True):
            if not any(directory.iterdir()):
                directory.rmdir()


def records_root(out_dir: Path, records_dir: Path | None) -> str:
    """The records folder relative to the results folder ``out_dir`` (default ``records``), as record
    paths in the tables name it."""
    records_dir = Path(records_dir) if records_dir is not None else Path(out_dir) / "records"
    return Path(os.path.relpath(records_dir.absolute(), Path(out_dir).absolute())).as_posix()


def check_some_records(results: Sequence[JobResult], records_dir: Path) -> None:
    if not results:
        raise DataError(f"no result records under {records_dir}; run `mer-bench run --all` first")


def write_leaderboard(results: Sequence[JobResult], out_dir: Path, *, records_dir: Path | None = None,
                      table: pd.DataFrame | None = None, sections: Sequence[tuple[str, str]] = ()) -> Path:
    """Write the index, the family pages and CSVs and the confusion plots under ``out_dir``.

    Returns the index path (``out_dir/LEADERBOARD.md``). ``records_dir`` (default
    ``out_dir/records``) is where the records were read from: record paths in the CSVs are written
    relative to ``out_dir``, and it is named in the error raised when there are no records.
    ``table`` is the ``leaderboard_table`` of ``results`` when the caller has made it already;
    ``sections`` ((heading, Markdown) pairs) end the index.
    """
    out_dir = Path(out_dir)
    records_dir = Path(records_dir) if records_dir is not None else out_dir / "records"
    check_some_records(results, records_dir)
    if table is None:
        table = leaderboard_table(results, records_root=records_root(out_dir, records_dir))
    texts = {out_dir / LEADERBOARD_MD: leaderboard_markdown(table, sections=sections),
             out_dir / LEADERBOARD_CSV: table_csv(table)}
    for family in table["family"].drop_duplicates():
        texts[out_dir / FAMILY_DIR / f"{family}.md"] = family_markdown(table, family)
        texts[out_dir / FAMILY_DIR / f"{family}.csv"] = table_csv(table[table["family"] == family])
    plots = {out_dir / path: plot for path, plot in confusion_plots(results).items()}
    # Draw every plot that changed before writing anything, so a failure leaves the old files whole.
    images = {path: confusion_png(plot.confusion, plot.classes, plot.title)
              for path, plot in plots.items() if _png_key(path) != plot.key}
    for path, text in texts.items():
        write_if_changed(path, text)
    for path, data in images.items():
        atomic_write_bytes(path, data)
    _remove_stale(out_dir, set(texts) | set(plots))
    return out_dir / LEADERBOARD_MD


__all__ = ["ConfusionPlot", "FAMILY_DIR", "LEADERBOARD_CSV", "LEADERBOARD_MD", "check_some_records",
           "confusion_plots", "leaderboard_table", "records_root", "write_leaderboard"]
