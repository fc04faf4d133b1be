"""Everything published from the records: leaderboards, and the standard paired comparisons
(with vs without reselection; oracle vs honest selection) wherever the records allow them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mer_bench.files import atomic_write_text
from mer_bench.report.compare import COMPARE_DIR, comparison_name, write_comparison
from mer_bench.report.leaderboard import write_leaderboard
from mer_bench.store import JobResult

# (baseline, other, what differs): the comparisons every published run gets when it has both sides
STANDARD_COMPARISONS = (
    ("annotated", "gamdss", "keyframes"),
    ("fixed-epochs", "oracle", "selection"),
)
TITLES = {
    "keyframes": "with vs without GAMDSS reselection",
    "selection": "how much picking the best epoch on the test subject inflates the numbers",
}


def _has_pair(results: Sequence[JobResult], baseline: str, other: str, kind: str) -> bool:
    """Whether some cell was run on both sides, everything else (seed included) equal."""
    def split(result: JobResult) -> tuple[str, tuple]:
        cell = result.cell
        if kind == "keyframes":
            return cell.keyframes, (cell.protocol, cell.model, cell.selection, cell.seed)
        return cell.selection, (cell.protocol, cell.model, cell.keyframes, cell.seed)

    sides: dict[str, set[tuple]] = {baseline: set(), other: set()}
    for result in results:
        side, rest = split(result)
        if side in sides:
            sides[side].add(rest)
    return bool(sides[baseline] & sides[other])


def publish(results: Sequence[JobResult], out_dir: Path, *, records_dir: Path | None = None) -> Path:
    """Write the leaderboards and the standard comparisons; the index links the comparisons."""
    index = write_leaderboard(results, out_dir, records_dir=records_dir)
    links = []
    for baseline, other, kind in STANDARD_COMPARISONS:
        if _has_pair(results, baseline, other, kind):
            page = write_comparison(results, out_dir / COMPARE_DIR, baseline, other, kind=kind)
            links.append(f"- [{comparison_name(baseline, other)}]"
                         f"({page.relative_to(out_dir).as_posix()}): {TITLES[kind]}")
    if links:
        text = index.read_text(encoding="utf-8").rstrip("\n")
        atomic_write_text(index, f"{text}\n\n## Paired comparisons\n\n" + "\n".join(links) + "\n")
    return index
