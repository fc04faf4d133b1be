"""Tables built from result records: leaderboards and paired comparisons, as data, Markdown, web pages
and figures.

Modules by job: ``sources`` (which data a record was scored on), ``checks`` (what may be averaged,
ranked or paired), ``chance`` (majority-class and uniform-guessing references), ``stats`` (paired
bootstrap, McNemar, Holm, minimum detectable difference), ``ranking`` (comparable groups, eligibility,
top-vs-rest tests), ``tables`` and ``pairing`` (the leaderboard and comparison tables as data frames),
``cells`` and ``notes`` (the text of each cell and the words of the pages, shared by both renderers),
``markdown``, ``html`` and ``figures`` (rendering), ``leaderboard``, ``compare``, ``site`` and
``publish`` (writing files, through ``mer_bench.files``).
"""

from mer_bench.report.leaderboard import write_leaderboard
from mer_bench.report.markdown import format_compare, leaderboard_markdown
from mer_bench.report.pairing import CellPair, compare_table, paired_results
from mer_bench.report.tables import index_table, leaderboard_table

__all__ = [
    "CellPair",
    "compare_table",
    "format_compare",
    "index_table",
    "leaderboard_markdown",
    "leaderboard_table",
    "paired_results",
    "write_leaderboard",
]
