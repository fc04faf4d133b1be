"""The web leaderboard, from tables to files: a static site beside the Markdown pages.

Layout below the results folder (links are relative, into the results folder):

    site/index.html                 the index: best / tied rows per protocol, data source and group;
                                    the paired comparisons with their forest plots
    site/<family>.html              one page per protocol family (as leaderboards/<family>.md)
    site/compare-<name>.html        one page per published comparison (as compare/<name>.md)
    site/assets/site.css, site.js   the look, and sorting and filtering (plain JavaScript)

The pages render the leaderboard table and the comparisons the Markdown pages are made from
(``mer_bench.report.html``); the confusion matrices and forest plots are the PNGs the Markdown pages
link. Every page is rendered before the first file is written; unchanged files are not rewritten,
and generated pages and assets that are not generated any more are removed (files a person put
there stay). Open ``site/index.html`` in a browser: no server and no network are needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Sequence

import pandas as pd

from mer_bench.files import write_if_changed
from mer_bench.report.compare import COMPARE_DIR, Comparison
from mer_bench.report.html import (
    ASSETS_DIR,
    GENERATOR,
    INDEX_PAGE,
    comparison_html,
    comparison_page_name,
    comparison_summary,
    family_html,
    family_page,
    index_html,
    nav_links,
)

SITE_DIR = "site"
ASSET_FILES = ("site.css", "site.js")
ASSET_MARK = b"/* mer-bench site asset"  # the first bytes of every generated asset
_PAGE_MARK = f'<meta name="generator" content="{GENERATOR}">'.encode("utf-8")


@dataclass(frozen=True)
class SitePage:
    path: str  # relative to the site folder
    content: bytes


def _asset(name: str) -> bytes:
    return files("mer_bench.report").joinpath("site_assets", name).read_bytes()


def site_pages(table: pd.DataFrame, comparisons: Sequence[Comparison] = ()) -> list[SitePage]:
    """Every file of the site for a ``leaderboard_table`` and the published comparisons (each one's
    files under ``compare/`` of the results folder), rendered in memory."""
    families = list(dict.fromkeys(table["family"]))
    nav = nav_links(families, [(c.name, c.baseline, c.other) for c in comparisons])
    pages = []
    summaries = []
    for comparison in comparisons:
        plot = f"{COMPARE_DIR}/{comparison.name}.png"
        fields = dict(name=comparison.name, kind=comparison.kind, baseline=comparison.baseline,
                      other=comparison.other, table=comparison.table)
        pages.append(SitePage(comparison_page_name(comparison.name), comparison_html(
            **fields, note=comparison.note, measures_inflation=comparison.measures_inflation, plot=plot,
            nav=nav).encode("utf-8")))
        summaries.append(comparison_summary(**fields, plot=plot))
    pages.append(SitePage(INDEX_PAGE, index_html(table, summaries, nav=nav).encode("utf-8")))
    pages += [SitePage(family_page(family), family_html(table, family, nav=nav).encode("utf-8"))
              for family in families]
    pages += [SitePage(f"{ASSETS_DIR}/{name}", _asset(name)) for name in ASSET_FILES]
    return pages


def _is_generated(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(ASSET_MARK) if path.parent.name == ASSETS_DIR else _PAGE_MARK in head


def _remove_stale(site_dir: Path, keep: set[Path]) -> None:
    """Delete generated pages and assets not written this time; files a person put there stay."""
    for folder in (site_dir, site_dir / ASSETS_DIR):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and path not in keep and _is_generated(path):
                    path.unlink()


def write_site_pages(pages: Sequence[SitePage], site_dir: Path) -> Path:
    """Write ``pages`` (from ``site_pages``) into ``site_dir`` and remove stale generated ones;
    returns the index path."""
    site_dir = Path(site_dir)
    for page in pages:
        write_if_changed(site_dir / page.path, page.content)
    _remove_stale(site_dir, {site_dir / page.path for page in pages})
    return site_dir / INDEX_PAGE


def write_site(table: pd.DataFrame, comparisons: Sequence[Comparison], site_dir: Path) -> Path:
    """Render and write the whole site for a ``leaderboard_table`` into ``site_dir`` (normally
    ``<results>/site``); returns the index path."""
    return write_site_pages(site_pages(table, comparisons), site_dir)


__all__ = ["ASSET_FILES", "SITE_DIR", "SitePage", "site_pages", "write_site", "write_site_pages"]
