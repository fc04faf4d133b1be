"""Markdown for the report tables: the leaderboard index, the family pages and the comparison pages.

Text only, from the data frames of ``mer_bench.report.tables`` and ``mer_bench.report.pairing``,
with the cell texts of ``mer_bench.report.cells`` and the words of ``mer_bench.report.notes``;
equal tables give equal text (no timestamps). Tables use tabulate's ``pipe`` format, whose alignment
row carries colons (text left, numbers right).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
from tabulate import tabulate

from mer_bench.errors import DataError
from mer_bench.report.cells import (
    INDEX_HEADERS,
    NUMERIC_HEADERS,
    PART_HEADERS,
    RANKED_HEADERS,
    compare_cells,
    compare_left_columns,
    index_cells,
    part_cells,
    ranked_cells,
    sides,
)
from mer_bench.report.notes import (
    COMPARE_GENERATED,
    LEADERBOARD_GENERATED,
    ORACLE_ROWS_NOTE,
    comparison_title,
    family_notes,
    index_note,
    inflation_intro,
    tests_made,
    trace_note,
)
from mer_bench.report.pairing import SHARED, Kind
from mer_bench.report.ranking import ORACLE
from mer_bench.report.sources import data_source_group
from mer_bench.report.tables import index_table

FAMILY_DIR = "leaderboards"


def _cell_text(value: object) -> str:
    return str(value).replace("|", "\\|")


def _markdown(rows: list[list[str]], headers: list[str]) -> str:
    # pipe format: the alignment row carries colons (tabulate's github format has none up to 0.10)
    return tabulate([[_cell_text(v) for v in row] for row in rows], headers=headers, tablefmt="pipe",
                    disable_numparse=True,
                    colalign=["right" if header in NUMERIC_HEADERS else "left" for header in headers])


def by_data_source(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(heading, rows) per data source group of a leaderboard or index table, twins first."""
    groups = {source: data_source_group(source) for source in rows["data_source"].unique()}
    titles = sorted({(group.order, group.title) for group in groups.values()})
    return [(title, rows[rows["data_source"].map(lambda s: groups[s].title == title)]) for _, title in titles]


# ---------------------------------------------------------------------------------------------
# Family pages


def _ranked_table(rows: pd.DataFrame) -> str:
    lines = [[*ranked_cells(row), f"[png](../{row['confusion']})" if row["confusion"] else ""]
             for _, row in rows.iterrows()]
    return _markdown(lines, [*RANKED_HEADERS, "confusion"])


def _part_table(rows: pd.DataFrame) -> str:
    return _markdown([part_cells(row) for _, row in rows.iterrows()], PART_HEADERS)


def protocol_heading(first: pd.Series) -> tuple[str, str]:
    """The two lines under a protocol's heading: what it is, and its test set."""
    classes = first["classes"].split(", ")
    return (f"{first['protocol_title']} · version {first['protocol_version']} · {len(classes)} classes: "
            f"{', '.join(classes)} · data: `{first['data_source']}`",
            f"Test set: {first['test_samples']} samples from {first['test_subjects']} subjects; "
            f"class counts {first['class_counts']}.")


def _protocol_section(rows: pd.DataFrame) -> list[str]:
    first = rows.iloc[0]
    parts = [f"### {first['protocol']}", *protocol_heading(first), _ranked_table(rows[rows["part"] == ""])]
    part_rows = rows[rows["part"] != ""]
    if len(part_rows):
        parts += [f"Per dataset ({first['protocol']}):", _part_table(part_rows)]
    return parts


def family_markdown(table: pd.DataFrame, family: str) -> str:
    """``leaderboards/<family>.md`` for a ``leaderboard_table``: per data source, one table per protocol."""
    rows = table[table["family"] == family]
    if rows.empty:
        raise DataError(f"no leaderboard rows for protocol family {family!r}")
    parts = [f"# mer-bench leaderboard: {family}", "[All protocol families](../LEADERBOARD.md)",
             *family_notes(table, rows), trace_note(f"{family}.csv", f"{family}.csv")]
    for title, source_rows in by_data_source(rows):
        parts.append(f"## {title}")
        for _, protocol_rows in source_rows.groupby(["protocol", "data_source"], sort=False):
            parts += _protocol_section(protocol_rows)
    parts.append(LEADERBOARD_GENERATED)
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Index


def leaderboard_markdown(table: pd.DataFrame, *, sections: Sequence[tuple[str, str]] = ()) -> str:
    """LEADERBOARD.md, the index of the family pages, for a ``leaderboard_table``, by data source.

    ``sections`` are (heading, Markdown) pairs added after the tables (the published comparisons,
    the web site).
    """
    index = index_table(table)
    parts = ["# mer-bench leaderboard", index_note(tests_made(table))]
    for title, rows in by_data_source(index):
        lines = [[f"[{row['family']}]({FAMILY_DIR}/{row['family']}.md)", *index_cells(row)[1:]]
                 for _, row in rows.iterrows()]
        parts += [f"## {title}", _markdown(lines, INDEX_HEADERS)]
    for heading, body in sections:
        parts += [f"## {heading}", body]
    parts.append(LEADERBOARD_GENERATED)
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Comparison pages


def format_compare(table: pd.DataFrame) -> str:
    """Markdown (pipe format, with its alignment row) for a ``compare_table``; differences carry a sign."""
    kind = sides(table)[0]
    shown = compare_cells(table)
    left = compare_left_columns(kind)
    align = tuple("left" if column in left else "right" for column in shown.columns)
    return shown.to_markdown(index=False, tablefmt="pipe", colalign=align, disable_numparse=True) + "\n"


def comparison_page(*, name: str, kind: Kind, baseline: str, other: str, table: pd.DataFrame, markdown_table: str,
                    note: str, measures_inflation: bool) -> str:
    """The whole ``<name>.md``: title, table, note, forest plot link; equal input gives equal text."""
    parts = [f"# {comparison_title(kind, baseline, other, measures_inflation=measures_inflation)}"]
    if measures_inflation:
        parts.append(inflation_intro(baseline, other))
    parts += [markdown_table.rstrip("\n"), note]
    if kind == "keyframes" and (table["selection"] == ORACLE).any():
        parts.append(ORACLE_ROWS_NOTE)
    parts += [f"![ΔUF1 per row with its 95% subject-bootstrap interval]({name}.png)", COMPARE_GENERATED]
    return "\n\n".join(parts) + "\n"


def forest_labels(table: pd.DataFrame, kind: Kind) -> Sequence[str]:
    """One label per comparison row for the forest plot; the data source only when rows differ in it."""
    shared = SHARED[kind]
    several = table["data"].nunique() > 1
    return [f"{row.protocol} · {row.model} · {getattr(row, shared)}" + (f" · {row.data}" if several else "")
            for row in table.itertuples()]


__all__ = [
    "FAMILY_DIR", "by_data_source", "comparison_page", "family_markdown", "forest_labels", "format_compare",
    "leaderboard_markdown", "protocol_heading",
]
