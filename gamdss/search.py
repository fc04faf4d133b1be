"""The searches of keyframe reselection over clip positions: two-stage grid, tie orders, apex finder.

Everything here works on positions in a clip and a `PairDistance`; which frames are decoded, and
how annotations become windows, is `gamdss.selection`'s job.

Tie orders (a maximum shared by several candidates goes to the first in these orders):

- one-sided (``gamdss``, ``gamdss-legacy``, the reference's insertion order): (o, a); then
  (o + i, a) for i = 1..lambda; then (o + i, a - j) for i = 1..lambda, j = 1..lambda (i outer);
  then (o, a - j) for j = 1..lambda;
- symmetric (``gamdss-symmetric``, no reference exists): the pair with the smallest total move
  i + |j| first, then the smaller onset move, then the earlier apex;
- offset stage: k = 0 (the annotated offset) first, then increasing k;
- apex finder: the candidate closest to the midpoint of onset and offset, the earlier of two.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from gamdss.distances import PairDistance, PixelDistance


@lru_cache(maxsize=64)
def stage1_tie_rank(window: int) -> np.ndarray:
    """(window+1) x (window+1) array: rank[i, j] = position of pair (o + i, a - j) in the tie order.

    Cached per window size (a handful occur) and returned read-only, since callers share it.
    """
    rank = np.empty((window + 1, window + 1), dtype=np.int64)
    rank[0, 0] = 0
    rank[1:, 0] = np.arange(1, window + 1)
    rank[1:, 1:] = window + 1 + np.arange(window * window).reshape(window, window)
    rank[0, 1:] = window + 1 + window * window + np.arange(window)
    rank.setflags(write=False)
    return rank


def symmetric_tie_rank(onset_moves: Sequence[int], apex_moves: Sequence[int]) -> np.ndarray:
    """rank[i, c] of pair (o + onset_moves[i], a + apex_moves[c]) in the symmetric tie order."""
    keys = [(i_move + abs(a_move), i_move, a_move, i, c)
            for i, i_move in enumerate(onset_moves) for c, a_move in enumerate(apex_moves)]
    rank = np.empty((len(onset_moves), len(apex_moves)), dtype=np.int64)
    for order, key in enumerate(sorted(keys)):
        rank[key[3], key[4]] = order
    return rank


def best_pair(distances: np.ndarray, rank: np.ndarray) -> tuple[int, int]:
    """(row, column) of the largest distance; among equal ones, the lowest ``rank``."""
    # Candidates laid out in tie order: np.argmax returns the first maximum, the earliest in it.
    order = np.argsort(rank, axis=None, kind="stable")
    best = order[int(np.argmax(distances.ravel()[order]))]
    row, column = divmod(int(best), distances.shape[1])
    return row, column


def two_stage(
    distance: PairDistance,
    onsets: Sequence[int],
    apexes: Sequence[int],
    rank: np.ndarray,
    offsets: Sequence[int],
) -> tuple[int, int, int]:
    """(o*, a*, f*) positions: stage 1 over ``onsets`` x ``apexes`` (ties by ``rank``), then stage 2.

    Stage 2 takes the offset among ``offsets`` (in tie order, annotated first) farthest from a*,
    skipping any offset not after a*; the first offset is kept when none is.
    """
    row, column = (0, 0) if len(onsets) == len(apexes) == 1 else best_pair(distance(onsets, apexes), rank)
    onset, apex = onsets[row], apexes[column]
    after_apex = [p for p in offsets if p > apex]
    if len(after_apex) <= 1:
        return onset, apex, after_apex[0] if after_apex else offsets[0]
    # np.argmax keeps the first maximum: the tie order of ``offsets``.
    return onset, apex, after_apex[int(np.argmax(distance([apex], after_apex)[0]))]


def find_apex(distance: PairDistance, onset: int, offset: int) -> int:
    """Position strictly between ``onset`` and ``offset`` farthest from both: max d(o, t) + d(t, f).

    Far from the onset alone would favour late frames under slow drift (head motion, lighting);
    adding the distance to the offset penalises drift from both ends. Needs offset - onset >= 2.
    """
    candidates = list(range(onset + 1, offset))
    if not candidates:
        raise ValueError(f"no frame lies strictly between onset {onset} and offset {offset}")
    score = distance([onset], candidates)[0] + distance(candidates, [offset])[:, 0]
    middle = (onset + offset) / 2
    best = [p for p, s in zip(candidates, score, strict=True) if s == score.max()]
    return min(best, key=lambda p: (abs(p - middle), p))


def two_stage_search(
    onset_window: np.ndarray, apex_window: np.ndarray, offset_window: np.ndarray
) -> tuple[int, int, int]:
    """Offsets (i, j, k): new onset o + i, new apex a - j, new offset f - k (the `gamdss` search).

    Each window is an array of frames in chronological order: ``onset_window`` holds frames
    o..o+lambda, ``apex_window`` frames a-lambda..a (same length), ``offset_window`` frames
    f-lambda_f..f. Frames may have any shape and dtype; pixel L2 in floating point.
    """
    if len(onset_window) != len(apex_window) or len(onset_window) == 0:
        raise ValueError(
            f"onset and apex windows must be equally long and non-empty, got {len(onset_window)} "
            f"and {len(apex_window)}"
        )
    if len(offset_window) == 0:
        raise ValueError("the offset window must hold at least the annotated offset frame")
    window, offset_window_size = len(onset_window) - 1, len(offset_window) - 1
    # Positions on a virtual clip: onset window first, then apex window, then offset window.
    frames = np.concatenate([onset_window, apex_window, offset_window])
    onset, apex, offset = 0, 2 * window + 1, len(frames) - 1
    o, a, f = two_stage(
        PixelDistance(dict(enumerate(frames))),
        list(range(onset, onset + window + 1)),
        [apex - j for j in range(window + 1)],
        stage1_tie_rank(window),
        [offset - k for k in range(offset_window_size + 1)],
    )
    return o - onset, apex - a, offset - f
