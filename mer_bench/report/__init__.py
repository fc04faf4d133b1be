"""Tables built from result records: leaderboards and with/without-strategy comparisons."""

from mer_bench.report.compare import CellPair, compare_table, format_compare, paired_results
from mer_bench.report.leaderboard import leaderboard_markdown, leaderboard_table, write_leaderboard

__all__ = [
    "CellPair",
    "compare_table",
    "format_compare",
    "leaderboard_markdown",
    "leaderboard_table",
    "paired_results",
    "write_leaderboard",
]
