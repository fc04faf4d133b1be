"""Everything published from the records: the Markdown leaderboards, the standard paired comparisons
(with vs without reselection; oracle vs honest selection) wherever the records allow them, and the
web site (``site/``) that shows both.

The leaderboard table and the comparisons are computed once, and every page (Markdown and HTML) is
rendered from them before the first file is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mer_bench.report.calibration import CALIBRATION_PAGE, calibration_rows, write_calibration
from mer_bench.report.compare import COMPARE_DIR, Comparison, build_comparison, save_comparison
from mer_bench.report.html import INDEX_PAGE
from mer_bench.report.leaderboard import check_some_records, records_root, write_leaderboard
from mer_bench.report.notes import COMPARISON_TITLES
from mer_bench.report.reselection_summary import SUMMARY_PAGE, write_reselection_summary
from mer_bench.report.site import SITE_DIR, site_pages, write_site_pages
from mer_bench.report.tables import leaderboard_table
from mer_bench.store import JobResult

# (baseline, other, what differs): the comparisons every published run gets when it has both sides
STANDARD_COMPARISONS = (
    ("annotated", "gamdss", "keyframes"),
    ("fixed-epochs", "oracle", "selection"),
)
SITE_NOTE = (
    f"[{SITE_DIR}/{INDEX_PAGE}]({SITE_DIR}/{INDEX_PAGE}): these tables as web pages, sortable and "
    "filterable by model, keyframes, data source and selection, with the confusion matrices and the "
    "comparisons' forest plots, every row linked to its records. Open it in a browser straight from "
    "the folder: no server and no network are needed."
)

RESELECTION_NOTE = (
    f"[{SUMMARY_PAGE}]({SUMMARY_PAGE}): per protocol and model, where GAMDSS reselection helped, "
    "hurt or could not be told, beside the truth study of the twins' key frames."
)
CALIBRATION_NOTE = (
    f"[{CALIBRATION_PAGE}]({CALIBRATION_PAGE}): STSTNet and Off-ApexNet on the full-size twins of "
    "the MEGC2019 composite beside their published figures on the real data."
)


def _has_pair(results: Sequence[JobResult], baseline: str, other: str, kind: str) -> bool:
    """Whether some cell was run on both sides, everything else (seed and the data source's full
    description, twin generator versions included) equal: what ``paired_results`` pairs."""
    def split(result: JobResult) -> tuple[str, tuple]:
        cell = result.cell
        if kind == "keyframes":
            return cell.keyframes, (cell.protocol, result.data_source, cell.model, cell.selection,
                                    cell.seed)
        return cell.selection, (cell.protocol, result.data_source, cell.model, cell.keyframes,
                                cell.seed)

    sides: dict[str, set[tuple]] = {baseline: set(), other: set()}
    for result in results:
        side, rest = split(result)
        if side in sides:
            sides[side].add(rest)
    return bool(sides[baseline] & sides[other])


def standard_comparisons(results: Sequence[JobResult], *, records_root: str = "records") -> list[Comparison]:
    """The ``STANDARD_COMPARISONS`` the records hold both sides of."""
    return [build_comparison(results, baseline, other, kind=kind, records_root=records_root)
            for baseline, other, kind in STANDARD_COMPARISONS if _has_pair(results, baseline, other, kind)]


def publish(results: Sequence[JobResult], out_dir: Path, *, records_dir: Path | None = None) -> Path:
    """Write the leaderboards, the standard comparisons, the web site, and where the records allow
    them the reselection summary and the calibration page under ``out_dir``; the index (returned)
    links them all."""
    out_dir = Path(out_dir)
    records_dir = Path(records_dir) if records_dir is not None else out_dir / "records"
    check_some_records(results, records_dir)
    root = records_root(out_dir, records_dir)
    table = leaderboard_table(results, records_root=root)
    comparisons = standard_comparisons(results, records_root=root)
    pages = site_pages(table, comparisons)
    sections = []
    if comparisons:
        sections.append(("Paired comparisons", "\n".join(
            f"- [{c.name}]({COMPARE_DIR}/{c.name}.md): {COMPARISON_TITLES[c.kind]}" for c in comparisons)))
    reselection = next((c for c in comparisons if c.kind == "keyframes"
                        and (c.baseline, c.other) == ("annotated", "gamdss")), None)
    if reselection is not None:
        sections.append(("Does reselection help?", RESELECTION_NOTE))
    calibration = calibration_rows(results)
    if calibration:
        sections.append(("How hard the twins are", CALIBRATION_NOTE))
    sections.append(("Web pages", SITE_NOTE))
    index = write_leaderboard(results, out_dir, records_dir=records_dir, table=table, sections=sections)
    for comparison in comparisons:
        save_comparison(comparison, out_dir / COMPARE_DIR)
    write_site_pages(pages, out_dir / SITE_DIR)
    if reselection is not None:
        write_reselection_summary(reselection.table, out_dir)
    write_calibration(calibration, out_dir)
    return index


__all__ = ["SITE_NOTE", "STANDARD_COMPARISONS", "publish", "standard_comparisons"]
