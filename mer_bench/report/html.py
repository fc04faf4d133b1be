"""HTML for the web leaderboard: an index, one page per protocol family and one per paired comparison.

Pages are rendered with Jinja2 (templates in ``site_templates/``) from the same data frames as the
Markdown pages: the rows of ``mer_bench.report.tables`` and ``mer_bench.report.pairing``, their cell
texts from ``mer_bench.report.cells``, their words from ``mer_bench.report.notes``. Nothing is
recomputed here: a page adds only links, sort keys and filter values to what the Markdown shows.

The site lives in ``<results>/site/``; every link is relative and points into the results folder
(record files, confusion matrices, forest plots, the Markdown and CSV), so the pages work from a
``file://`` URL or any static server, with no network. Sorting and filtering are done by
``site_assets/site.js`` in the page. Text only, no timestamps: equal tables give equal bytes;
``mer_bench.report.site`` writes the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Mapping, Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup

from mer_bench.report.cells import (
    INDEX_HEADERS,
    NUMERIC_HEADERS,
    PART_HEADERS,
    RANKED_HEADERS,
    SCORE_LABELS,
    compare_cells,
    compare_left_columns,
    index_cells,
    part_cells,
    ranked_cells,
)
from mer_bench.report.markdown import FAMILY_DIR, by_data_source, protocol_heading
from mer_bench.report.notes import (
    COMPARISON_TITLES,
    ORACLE_ROWS_NOTE,
    comparison_title,
    family_notes,
    index_note,
    inflation_intro,
    tests_made,
    trace_note,
)
from mer_bench.report.pairing import DELTA_ORDER, SHARED
from mer_bench.report.ranking import ORACLE, TOP
from mer_bench.report.sources import data_source_group
from mer_bench.report.stats import TOO_FEW_SUBJECTS
from mer_bench.report.tables import (
    BEST,
    KIND_REFERENCE,
    NO_ROW,
    ONLY_ROW,
    ORACLE_ONLY,
    TIED_RESULT,
    index_table,
    protocol_info,
)

GENERATOR = "mer-bench leaderboard"  # <meta name="generator">: a page carrying it was generated
ASSETS_DIR = "assets"
INDEX_PAGE = "index.html"
RESULTS = ".."  # the results folder, seen from the site folder
RECORD_FILE = "record.json"

# The row filters a page offers: name in the row's data, label shown above the tables.
FILTERS = {"model": "model", "keyframes": "keyframes", "data": "data source", "selection": "selection"}

# Columns whose cells sort by a number: column label -> leaderboard / index column holding it
_LEADERBOARD_SORT = {"rank": "rank", "seeds": "seeds", "samples": "test_samples", "subjects": "test_subjects",
                     "acc": "acc_mean", "UF1": "uf1_mean", "UAR": "uar_mean", "params": "params", "FLOPs": "flops"}
_INDEX_SORT = {"records": "records", "samples": "test_samples", "subjects": "test_subjects", "UF1": "uf1_mean",
               "UAR": "uar_mean", "majority UF1": "majority_uf1", "chance UF1": "uniform_uf1"}
_WRAPPED = {"group", "rows", "result", "flags"}  # long text: the index's group, result and top rows, flags
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")  # an id usable as a CSS selector as it is


# ---------------------------------------------------------------------------------------------
# What a template renders


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Cell:
    """A table cell: its text (the Markdown page's), a numeric sort key where it has one, and links
    (shown instead of the text when there are several, around it when there is one)."""

    text: str
    sort: str | None = None
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool
    wrap: bool = False  # long text: its cells wrap; every other cell keeps to one line


@dataclass(frozen=True)
class Row:
    """A table row; ``filters`` (filter name -> the row's values) is None for a row no filter hides
    (the chance references)."""

    cells: tuple[Cell, ...]
    classes: str = ""
    filters: Mapping[str, Sequence[str]] | None = None


@dataclass(frozen=True)
class Table:
    """Rows that sort and filter, then ``references`` that stay last and always shown."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    references: tuple[Row, ...] = ()
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    caption: str
    src: str


@dataclass(frozen=True)
class Nav:
    """Links every page shows at its top: the index, the family pages and the comparison pages."""

    families: tuple[Link, ...]
    comparisons: tuple[Link, ...]


@dataclass
class Filters:
    """The values each filter offers on a page, gathered from the rows it holds."""

    values: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in FILTERS})

    def add(self, row_values: Mapping[str, Sequence[str]]) -> Mapping[str, Sequence[str]]:
        for name, values in row_values.items():
            self.values[name].update(values)
        return row_values

    def offered(self) -> list[tuple[str, str, list[str]]]:
        """(name, label, sorted values) of each filter the page's rows have values for."""
        return [(name, label, sorted(self.values[name])) for name, label in FILTERS.items() if self.values[name]]


# ---------------------------------------------------------------------------------------------
# Small helpers


def href(path: str) -> str:
    """A URL for ``path`` (relative to the site folder): every character a file name may hold is
    quoted, so a record folder named ``timm%3Aresnet18`` is asked for by that name."""
    return quote(path, safe="/")


def results_href(path: str) -> str:
    """A URL for ``path`` relative to the results folder."""
    return href(f"{RESULTS}/{path}")


def family_page(family: str) -> str:
    return f"{_UNSAFE.sub('_', family)}.html"


def comparison_page_name(name: str) -> str:
    return f"compare-{_UNSAFE.sub('_', name)}.html"


def section_id(protocol: str, data_source: str) -> str:
    """The anchor of a protocol's table on one data source, on its family page."""
    return _UNSAFE_ID.sub("_", f"{protocol}--{data_source_group(data_source).slug}")


def section_href(protocol: str, data_source: str, family: str) -> str:
    """A link to a protocol's table on one data source (``section_id`` needs no quoting)."""
    return f"{href(family_page(family))}#{section_id(protocol, data_source)}"


def _sort_key(value: object) -> str:
    """A number as JavaScript's parseFloat reads it; '' (sorted last) where there is none."""
    if value is None or pd.isna(value):
        return ""
    return str(int(value)) if isinstance(value, (int, np.integer)) else repr(float(value))


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def inline_html(text: str) -> Markup:
    """A note in Markdown inline syntax (code spans, emphasis, links) as HTML."""
    return Markup(_markdown().renderInline(text))


def _record_links(records: str, seeds: str, prefix: str = "") -> tuple[Link, ...]:
    """One link per seed to its record.json; ``records`` and ``seeds`` are aligned space-separated lists."""
    paths, seed_list = records.split(), seeds.split()
    return tuple(Link(f"{prefix}seed {seed}", results_href(f"{path}/{RECORD_FILE}"))
                 for path, seed in zip(paths, seed_list))


def _columns(headers: Sequence[str]) -> tuple[Column, ...]:
    return tuple(Column(header, header in NUMERIC_HEADERS, header in _WRAPPED) for header in headers)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("mer_bench.report", "site_templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(generator=GENERATOR, assets=ASSETS_DIR, index=INDEX_PAGE,
                                                        **context)


# ---------------------------------------------------------------------------------------------
# Family pages


def _row_classes(row: pd.Series) -> str:
    if row["kind"] == KIND_REFERENCE:
        return "reference"
    classes = []
    if row["flags"]:
        classes.append("flagged")
    if row["selection"] == ORACLE:
        classes.append("oracle")
    if row["vs_top"] == TOP:
        classes.append("top")
    return " ".join(classes)


def _run_filters(row: pd.Series) -> dict[str, list[str]]:
    return {"model": [row["model"]], "keyframes": [row["keyframes"]], "data": [row["data"]],
            "selection": [row["selection"]]}


def _leaderboard_row(row: pd.Series, texts: Sequence[str], headers: Sequence[str], filters: Filters,
                     with_links: bool) -> Row:
    cells = [Cell(text, _sort_key(row[_LEADERBOARD_SORT[header]]) if header in _LEADERBOARD_SORT else None)
             for header, text in zip(headers, texts)]
    reference = row["kind"] == KIND_REFERENCE
    if with_links:
        confusion = (Link("png", results_href(row["confusion"])),) if row["confusion"] else ()
        cells += [Cell("png" if confusion else "", links=confusion),
                  Cell("", links=_record_links(row["records"], row["seed_list"]))]
    return Row(tuple(cells), _row_classes(row), None if reference else filters.add(_run_filters(row)))


def _leaderboard_table(rows: pd.DataFrame, headers: Sequence[str], texts: Callable[[pd.Series], list[str]],
                       filters: Filters, *, with_links: bool, caption: str) -> Table:
    """Rows of a leaderboard table with the cell texts ``texts`` gives; run rows first, then the references."""
    built = [_leaderboard_row(row, texts(row), headers, filters, with_links) for _, row in rows.iterrows()]
    columns = _columns([*headers, "confusion", "records"] if with_links else headers)
    return Table(columns, tuple(row for row in built if row.filters is not None),
                 tuple(row for row in built if row.filters is None), caption)


def _protocol_section(rows: pd.DataFrame, filters: Filters) -> dict[str, object]:
    first = rows.iloc[0]
    main, part_rows = rows[rows["part"] == ""], rows[rows["part"] != ""]
    runs = main[main["kind"] != KIND_REFERENCE]
    return {
        "id": section_id(first["protocol"], first["data_source"]),
        "protocol": first["protocol"],
        "lines": [inline_html(line) for line in protocol_heading(first)],
        "table": _leaderboard_table(main, RANKED_HEADERS, ranked_cells, filters, with_links=True,
                                    caption=f"{first['protocol']} on {first['data']}"),
        "parts": _leaderboard_table(part_rows, PART_HEADERS, part_cells, filters, with_links=False,
                                    caption=f"{first['protocol']} per dataset") if len(part_rows) else None,
        "figures": [Figure(f"{row['model']} · {row['keyframes']} · {row['selection']}", results_href(row["confusion"]))
                    for _, row in runs.iterrows() if row["confusion"]],
    }


def family_html(table: pd.DataFrame, family: str, *, nav: Nav) -> str:
    """``site/<family>.html`` for a ``leaderboard_table``: per data source, one section per protocol."""
    rows = table[table["family"] == family]
    filters = Filters()
    sources = [{"title": title,
                "protocols": [_protocol_section(protocol_rows, filters) for _, protocol_rows in
                              source_rows.groupby(["protocol", "data_source"], sort=False)]}
               for title, source_rows in by_data_source(rows)]
    csv = f"{FAMILY_DIR}/{family}.csv"
    notes = [*family_notes(table, rows),
             trace_note(f"{family}.csv", results_href(csv), " (in the results folder's `leaderboards/`)")]
    return _render("family.html.j2", title=f"mer-bench leaderboard: {family}", nav=nav, sources=sources,
                   filters=filters.offered(), notes=[inline_html(note) for note in notes],
                   downloads=[Link(f"{family}.md", results_href(f"{FAMILY_DIR}/{family}.md")),
                              Link(f"{family}.csv", results_href(csv))])


# ---------------------------------------------------------------------------------------------
# Index


_RESULT_CLASSES = {BEST: "best", ONLY_ROW: "only", NO_ROW: "none", ORACLE_ONLY: "none"}


def _index_row(row: pd.Series, filters: Filters) -> Row:
    texts = index_cells(row)
    anchor = section_href(row["protocol"], row["data_source"], row["family"])
    cells = []
    for header, text in zip(INDEX_HEADERS, texts):
        sort = _sort_key(row[_INDEX_SORT[header]]) if header in _INDEX_SORT else None
        if header == "family":
            cells.append(Cell(text, links=(Link(text, href(family_page(row["family"]))),)))
        elif header == "protocol":
            cells.append(Cell(text, links=(Link(text, anchor),)))
        else:
            cells.append(Cell(text, sort))
    top = row["top_rows"]
    values = {"model": sorted({model for model, _, _ in top}), "keyframes": sorted({kf for _, kf, _ in top}),
              "data": [row["data"]], "selection": [row["selection"]]}
    result = _RESULT_CLASSES.get(row["result"], "tied" if row["result"].startswith(TIED_RESULT) else "")
    return Row(tuple(cells), f"result-{result}" if result else "", filters.add(values))


def index_html(table: pd.DataFrame, comparisons: Sequence[dict[str, object]], *, nav: Nav) -> str:
    """``site/index.html``: one line per protocol, data source and comparable group (as LEADERBOARD.md),
    then the paired comparisons with their forest plots. ``comparisons`` come from ``comparison_summary``."""
    index = index_table(table)
    filters = Filters()
    sources = [{"title": title,
                "table": Table(_columns(INDEX_HEADERS), tuple(_index_row(row, filters) for _, row in rows.iterrows()),
                               caption=title)}
               for title, rows in by_data_source(index)]
    return _render("index.html.j2", title="mer-bench leaderboard", nav=nav, sources=sources,
                   filters=filters.offered(), notes=[inline_html(index_note(tests_made(table)))],
                   comparisons=comparisons,
                   downloads=[Link("LEADERBOARD.md", results_href("LEADERBOARD.md")),
                              Link("leaderboard.csv", results_href("leaderboard.csv"))])


# ---------------------------------------------------------------------------------------------
# Comparison pages


def _compare_sort_columns(kind: str, baseline: str, other: str) -> dict[str, str]:
    """Shown comparison column -> the ``compare_table`` column that sorts it."""
    columns = {"seeds": "seeds", "samples": "test_samples", "subjects": "test_subjects",
               "differing": "subjects_differing", "MDE ΔUF1": "uf1_mde", "n01": "n01", "n10": "n10",
               "p (McNemar)": "p_mcnemar", "p (Holm)": "p_holm"}
    for score, label in SCORE_LABELS.items():
        for side in (baseline, other):
            columns[f"{label} {side}"] = f"{score}_{side}"
    for score in DELTA_ORDER:
        columns[f"Δ{SCORE_LABELS[score]} [95% CI]"] = f"{score}_diff"
    return columns


def _verdict_class(verdict: str) -> str:
    return {"better": "verdict-better", "worse": "verdict-worse"}.get(verdict, "")


def comparison_table_html(table: pd.DataFrame, *, kind: str, baseline: str, other: str,
                          filters: Filters) -> Table:
    """A ``compare_table`` as a site table: the Markdown's cells, sort keys, links to the protocol's
    family page section and to both sides' records."""
    shown = compare_cells(table)
    left = compare_left_columns(kind)
    sort_columns = _compare_sort_columns(kind, baseline, other)
    rows = []
    for (_, raw), (_, texts) in zip(table.iterrows(), shown.iterrows()):
        too_few = raw["verdict"] == TOO_FEW_SUBJECTS
        cells = []
        for column, text in texts.items():
            if column == "protocol":
                anchor = section_href(raw["protocol"], raw["data_source"], protocol_info(raw["protocol"]).family)
                cells.append(Cell(text, links=(Link(text, anchor),)))
            elif column in sort_columns:
                value = raw[sort_columns[column]]
                cells.append(Cell(text, "" if too_few and column == "p (McNemar)" else _sort_key(value)))
            else:
                cells.append(Cell(text))
        records = (_record_links(raw[f"records_{baseline}"], raw["seed_list"], f"{baseline} ")
                   + _record_links(raw[f"records_{other}"], raw["seed_list"], f"{other} "))
        cells.append(Cell("", links=records))
        values = {"model": [raw["model"]], "data": [raw["data"]], SHARED[kind]: [raw[SHARED[kind]]]}
        rows.append(Row(tuple(cells), _verdict_class(raw["verdict"]), filters.add(values)))
    columns = tuple(Column(column, column not in left) for column in shown.columns) + (Column("records", False),)
    return Table(columns, tuple(rows), caption=f"{baseline} vs {other}")


def comparison_html(*, name: str, kind: str, baseline: str, other: str, table: pd.DataFrame, note: str,
                    measures_inflation: bool, plot: str, nav: Nav) -> str:
    """``site/compare-<name>.html``: the comparison's table, note and forest plot (``plot``: its path
    relative to the results folder)."""
    filters = Filters()
    shown = comparison_table_html(table, kind=kind, baseline=baseline, other=other, filters=filters)
    notes = [inflation_intro(baseline, other)] if measures_inflation else []
    after = note.split("\n\n")
    if kind == "keyframes" and (table["selection"] == ORACLE).any():
        after.append(ORACLE_ROWS_NOTE)
    stem = plot.rsplit(".", 1)[0]
    return _render("comparison.html.j2",
                   title=comparison_title(kind, baseline, other, measures_inflation=measures_inflation),
                   nav=nav, table=shown, filters=filters.offered(), intro=[inline_html(text) for text in notes],
                   notes=[inline_html(text) for text in after],
                   figure=Figure("ΔUF1 per row with its 95% subject-bootstrap interval", results_href(plot)),
                   downloads=[Link(f"{name}.md", results_href(f"{stem}.md")),
                              Link(f"{name}.csv", results_href(f"{stem}.csv"))])


def comparison_summary(*, name: str, kind: str, baseline: str, other: str, table: pd.DataFrame, plot: str
                       ) -> dict[str, object]:
    """What the index says about a comparison: its page, what it asks, its verdicts, its forest plot."""
    counts = table["verdict"].value_counts()
    verdicts = ", ".join(f"{verdict}: {counts[verdict]}" for verdict in sorted(counts.index))
    return {"link": Link(f"{baseline} vs {other}", href(comparison_page_name(name))),
            "question": COMPARISON_TITLES[kind], "rows": len(table), "verdicts": verdicts,
            "figure": Figure(f"ΔUF1, {other} − {baseline}", results_href(plot))}


def nav_links(families: Sequence[str], comparisons: Sequence[tuple[str, str, str]]) -> Nav:
    """The navigation of every page: family pages, and comparison pages from (name, baseline, other)."""
    return Nav(tuple(Link(family, href(family_page(family))) for family in families),
               tuple(Link(f"{baseline} vs {other}", href(comparison_page_name(name)))
                     for name, baseline, other in comparisons))


__all__ = [
    "ASSETS_DIR", "Cell", "Column", "FILTERS", "Figure", "Filters", "GENERATOR", "INDEX_PAGE", "Link", "Nav", "Row",
    "Table", "comparison_html", "comparison_page_name", "comparison_summary", "comparison_table_html",
    "family_html", "family_page", "href", "index_html", "inline_html", "nav_links", "results_href", "section_id",
]
