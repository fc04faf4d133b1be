"""The searches of keyframe reselection over clip positions: the two-stage grid and its tie orders.

Everything here works on positions in a clip and a `PairDistance`; which frames are decoded, and
how annotations become windows, is `gamdss.selection`'s job. (The whole-clip apex finder that fills
a missing apex is the core's: `mer_bench.missing_apex`.)

Tie orders (a maximum shared by several candidates goes to the first in these orders):

- one-sided (``gamdss``, ``gamdss-legacy``): the reference's insertion order (method reference
  section 1.2), exactly: (o, a); then, for i = 1..lambda, (o + i, a), (o + i, a - 1), ...,
  (o + i, a - lambda); then (o, a - 1), ..., (o, a - lambda);
- symmetric (``gamdss-symmetric``, no reference exists): the pair with the smallest total move
  i + |j| first, then the smaller onset move, then the earlier apex;
- offset stage: (a*, f) first, then (a*, f - 1), ..., (a*, f - lambda_f).

Distances are taken apex side minus the other side, as the reference subtracts (it matters only to
the uint8 wrap-around of ``gamdss-legacy``): apex - onset in stage 1, apex - offset in stage 2.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from mer_bench.frame_distance import PairDistance, PixelDistance


@lru_cache(maxsize=64)
def stage1_tie_rank(window: int) -> np.ndarray:
    """(window+1) x (window+1) array: rank[i, j] = position of pair (o + i, a - j) in the tie order.

    Rows i >= 1 come first, each whole row (j = 0..window) in turn; row i = 0 is split, (o, a)
    first of all and (o, a - j), j >= 1, last. Cached per window size (a handful occur) and
    returned read-only, since callers share it.
    """
    rank = np.empty((window + 1, window + 1), dtype=np.int64)
    rank[0, 0] = 0
    rank[1:, :] = 1 + np.arange(window * (window + 1)).reshape(window, window + 1)
    rank[0, 1:] = 1 + window * (window + 1) + np.arange(window)
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

    Stage 1 measures apex - onset, stage 2 a* - offset (the apex is the minuend in both). Stage 2
    takes the offset among ``offsets`` (in tie order, annotated first) farthest from a*, skipping
    any offset not after a*; the first offset is kept when none is.
    """
    row, column = (0, 0) if len(onsets) == len(apexes) == 1 else best_pair(
        distance(onsets, apexes, minuend="columns"), rank)
    onset, apex = onsets[row], apexes[column]
    after_apex = [p for p in offsets if p > apex]
    if len(after_apex) <= 1:
        return onset, apex, after_apex[0] if after_apex else offsets[0]
    # np.argmax keeps the first maximum: the tie order of ``offsets``.
    return onset, apex, after_apex[int(np.argmax(distance([apex], after_apex, minuend="rows")[0]))]


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
