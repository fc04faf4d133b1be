"""GAMDSS keyframe reselection: move onset / apex / offset to the frames of largest pixel difference.

Clean-room re-implementation of the main two-stage variant described in the GAMDSS method reference
(section 1.2), with one deliberate correction: frame differences are taken in floating point, not on
uint8 arrays, so a small darkening is a small change rather than a wrap-around to ~255.

With o, a, f the annotated onset, apex and offset as positions in the clip's sorted frame list:

- lambda = floor(fraction * (a - o)), lambda_f = floor(fraction * (f - a)); fraction defaults to 0.1.
- Stage 1: (o + i, a - j) maximising ||I(o + i) - I(a - j)||_2 over i, j in 0..lambda (the onset only
  moves later, the apex only earlier).
- Stage 2: f - k maximising ||I(a*) - I(f - k)||_2 over k in 0..lambda_f, given the new apex a*.

Fallbacks: lambda <= 0 keeps the annotated onset and apex (stage 2 still runs); lambda_f <= 0 keeps
the annotated offset; an annotation with apex < onset is kept whole. A missing apex is first filled
with the onset..offset midpoint (`with_apex`). Windows never leave the clip: they lie inside
[o, f] by construction.

Positions, not frame numbers: the search runs in index space of the sorted clip, so a clip with
missing frame numbers steps over the gap as the datasets' own file lists do; results are mapped back
to frame numbers.

Ties: the reference keeps the first maximum in the order candidates were inserted, (o, a) first.
Here that order is, stage 1: (o, a); then (o + i, a) for i = 1..lambda; then (o + i, a - j) for
i = 1..lambda, j = 1..lambda (i outer); then (o, a - j) for j = 1..lambda. Stage 2: k = 0 first,
then increasing k. On integer (uint8) frames the float64 Gram-trick distances below are exact
integers, so ties are exact and never decided by rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import ConfigError, DataError
from mer_bench.inputs.frames import read_frames
from mer_bench.keyframes import AppliesTo, with_apex

DEFAULT_WINDOW_FRACTION = 0.1


def frame_gram(frames: np.ndarray) -> np.ndarray:
    """n x n float64 matrix of dot products between the n frames, each flattened to one vector.

    One matrix product gives every pairwise distance the search needs (see `sq_distances`); on
    uint8 frames every entry is an integer below 2^53, so float64 holds it exactly.
    """
    frames = np.asarray(frames)
    vectors = np.ascontiguousarray(frames.reshape(len(frames), -1), dtype=np.float64)
    return vectors @ vectors.T


def sq_distances(gram: np.ndarray, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
    """Squared L2 distances ||x_r - x_c||^2 for r in rows, c in columns, from a `frame_gram` matrix.

    Gram trick ||x||^2 + ||y||^2 - 2 x.y, clamped at 0 because cancellation can leave tiny
    negatives for near-identical non-integer frames.
    """
    norms = np.diagonal(gram)
    rows_index, columns_index = np.asarray(rows), np.asarray(columns)
    distances = (
        norms[rows_index][:, None]
        + norms[columns_index][None, :]
        - 2.0 * gram[np.ix_(rows_index, columns_index)]
    )
    return np.maximum(distances, 0.0)


def stage1_tie_rank(window: int) -> np.ndarray:
    """(window+1) x (window+1) array: rank[i, j] = position of pair (o + i, a - j) in the tie order."""
    rank = np.empty((window + 1, window + 1), dtype=np.int64)
    rank[0, 0] = 0
    rank[1:, 0] = np.arange(1, window + 1)
    rank[1:, 1:] = window + 1 + np.arange(window * window).reshape(window, window)
    rank[0, 1:] = window + 1 + window * window + np.arange(window)
    return rank


def two_stage_search(
    onset_window: np.ndarray, apex_window: np.ndarray, offset_window: np.ndarray
) -> tuple[int, int, int]:
    """Offsets (i, j, k): new onset o + i, new apex a - j, new offset f - k.

    Each window is an array of frames in chronological order: ``onset_window`` holds frames
    o..o+lambda, ``apex_window`` frames a-lambda..a (same length), ``offset_window`` frames
    f-lambda_f..f. Frames may have any shape and dtype; they are compared as float64 vectors.
    """
    sizes = (len(onset_window), len(apex_window), len(offset_window))
    gram = frame_gram(np.concatenate([onset_window, apex_window, offset_window]))
    starts = (0, sizes[0], sizes[0] + sizes[1])
    onset_rows, apex_rows, offset_rows = (
        list(range(start, start + size)) for start, size in zip(starts, sizes)
    )
    return search_gram(gram, onset_rows, apex_rows, offset_rows)


def search_gram(
    gram: np.ndarray, onset_rows: Sequence[int], apex_rows: Sequence[int], offset_rows: Sequence[int]
) -> tuple[int, int, int]:
    """`two_stage_search` on a `frame_gram` matrix; each ``*_rows`` lists a window's rows chronologically."""
    if len(onset_rows) != len(apex_rows) or len(onset_rows) == 0:
        raise ValueError(
            f"onset and apex windows must be equally long and non-empty, got {len(onset_rows)} "
            f"and {len(apex_rows)}"
        )
    if len(offset_rows) == 0:
        raise ValueError("the offset window must hold at least the annotated offset frame")
    # Reversed so that entry j is frame a - j (or f - j), the order in which the search steps back.
    apex_steps = list(reversed(apex_rows))
    offset_steps = list(reversed(offset_rows))
    onset_step, apex_step = _argmax_stage1(sq_distances(gram, onset_rows, apex_steps))
    to_offsets = sq_distances(gram, [apex_steps[apex_step]], offset_steps)[0]
    # np.argmax returns the first maximum, i.e. the smallest k: the k = 0 first tie order.
    offset_step = int(np.argmax(to_offsets))
    return onset_step, apex_step, offset_step


def reselect_gamdss(sample: Sample, *, window_fraction: float = DEFAULT_WINDOW_FRACTION) -> KeyFrames:
    """The GAMDSS key frames of ``sample`` as frame numbers of the clip (see the module docstring)."""
    annotated = with_apex(sample.annotated)
    assert annotated.apex is not None
    onset = _position(sample, annotated.onset, "onset")
    apex = _position(sample, annotated.apex, "apex")
    offset = _position(sample, annotated.offset, "offset")
    if apex < onset:
        return annotated
    window = max(math.floor(window_fraction * (apex - onset)), 0)
    offset_window = max(math.floor(window_fraction * (offset - apex)), 0)
    if window == 0 and offset_window == 0:
        return annotated

    onset_positions = range(onset, onset + window + 1)
    apex_positions = range(apex - window, apex + 1)
    offset_positions = range(offset - offset_window, offset + 1)
    # Decode each needed frame once, even where windows share a frame (e.g. lambda = 0, o = a).
    needed = sorted(set(onset_positions) | set(apex_positions) | set(offset_positions))
    gram = frame_gram(read_frames([sample.frame_paths[p] for p in needed]))
    row_of = {position: row for row, position in enumerate(needed)}
    i, j, k = search_gram(
        gram,
        [row_of[p] for p in onset_positions],
        [row_of[p] for p in apex_positions],
        [row_of[p] for p in offset_positions],
    )
    numbers = sample.frame_numbers
    return KeyFrames(numbers[onset + i], numbers[apex - j], numbers[offset - k])


@dataclass(frozen=True, kw_only=True)
class GamdssStrategy:
    """Keyframe strategy wrapping `reselect_gamdss`; each sample is searched once per process."""

    name: str = field(default="gamdss", init=False)
    window_fraction: float = DEFAULT_WINDOW_FRACTION
    applies_to: AppliesTo = "train"
    _selected: dict[tuple[str, KeyFrames], KeyFrames] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.window_fraction <= 0.5:
            # Above 0.5 the onset window could pass the apex window and "onset" follow "apex".
            raise ConfigError(f"gamdss window_fraction {self.window_fraction} is out of range; use 0 to 0.5")
        if self.applies_to not in ("train", "all"):
            raise ConfigError(f"gamdss applies_to {self.applies_to!r} is unknown; use 'train' or 'all'")

    def select(self, sample: Sample) -> KeyFrames:
        # Keyed on the annotation too, so a corrected annotation (errata) is never served stale.
        key = (sample.sample_id, sample.annotated)
        selected = self._selected.get(key)
        if selected is None:
            selected = reselect_gamdss(sample, window_fraction=self.window_fraction)
            self._selected[key] = selected
        return selected

    def params(self) -> Mapping[str, object]:
        return {"window_fraction": self.window_fraction, "applies_to": self.applies_to}


def _argmax_stage1(distances: np.ndarray) -> tuple[int, int]:
    rank = stage1_tie_rank(distances.shape[0] - 1)
    best = np.where(distances == distances.max(), rank, np.iinfo(np.int64).max)
    i, j = np.unravel_index(int(np.argmin(best)), best.shape)
    return int(i), int(j)


def _position(sample: Sample, frame_number: int, role: str) -> int:
    try:
        return sample.index_of(frame_number)
    except ValueError:
        folder = sample.frame_paths[0].parent if sample.frame_paths else sample.clip
        raise DataError(
            f"{folder}: {sample.sample_id} has no frame {frame_number} (its annotated {role}); "
            "fix the annotation or restore the missing frame file"
        ) from None
