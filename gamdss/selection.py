"""One sample's reselection: annotation -> windows -> frames decoded once -> search -> a `Reselection`.

Variants (section 1 of the GAMDSS method reference), with o, a, f the annotated onset, apex and
offset as positions in the clip's sorted frame list, lambda = floor(fraction * (a - o)) and
lambda_f = floor(fraction * (f - a)):

- ``gamdss``: onset window o..o+lambda (forward), apex window a-lambda..a (backward), then the
  offset window f-lambda_f..f (backward) against the new apex; pixel differences in floating point.
- ``legacy``: the same windows and tie order on the reference code's uint8 wrap-around difference.
- ``symmetric``: the apex window a-lambda..a+lambda drawn in the paper's figure, cut so that it
  stays before the offset (a+lambda is never past f-1); offsets not after the new apex are skipped.

Positions, not frame numbers: the search runs in index space of the sorted clip, so a clip with
missing frame numbers steps over the gap as the datasets' own file lists do; results are mapped back
to frame numbers. Every window lies inside the clip by construction; an annotated frame that is not
in the clip is a DataError.

Fallbacks (the annotated frames are kept, the reason is recorded in `Reselection.fallback`):

- ``single-frame``: the clip has one frame;
- ``apex-before-onset`` / ``apex-after-offset``: ``gamdss`` and ``symmetric`` keep the whole
  annotation; ``legacy`` keeps onset and apex and still searches the offset, since the reference
  only skips the grid when lambda <= 0 (inferred from the code's description, not observed);
- ``no-window``: lambda = lambda_f = 0, nothing is searched;
- ``no-onset-apex-window`` (lambda = 0: onset and apex kept, offset searched) and
  ``no-offset-window`` (lambda_f = 0: offset kept);
- ``unreadable-frames``: a window frame cannot be decoded and ``unreadable="keep"`` was asked for
  (the default, ``"raise"``, raises the DataError naming the file).

A missing apex (SMIC, CAS(ME)^3 Part C, CASME II's '/') is filled before the search by
``missing_apex``: ``"search"`` (default) runs the whole-clip apex finder (`search.find_apex`) over
the frames strictly between onset and offset; ``"midpoint"`` takes the middle position. The fill is
recorded in `Reselection.apex_filled` and the shifts are measured from the filled apex.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from gamdss.distances import make_distance
from gamdss.search import find_apex, stage1_tie_rank, symmetric_tie_rank, two_stage
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import DataError
from mer_bench.inputs.files import frame_position
from mer_bench.inputs.frames import read_frames

Variant = Literal["gamdss", "legacy", "symmetric"]
VARIANTS: tuple[str, ...] = ("gamdss", "legacy", "symmetric")
MissingApex = Literal["search", "midpoint"]
Unreadable = Literal["raise", "keep"]
DEFAULT_WINDOW_FRACTION = 0.1

FALLBACKS: tuple[str, ...] = (
    "single-frame", "apex-before-onset", "apex-after-offset", "unreadable-frames",
    "no-window", "no-onset-apex-window", "no-offset-window",
)


@dataclass(frozen=True)
class Reselection:
    """What a reselection strategy did with one sample.

    ``start`` is the annotation the search started from (a missing apex filled, see
    ``apex_filled``); ``selected`` is the result; ``fallback`` names why annotated frames were kept
    without a full search (None: the search ran in full); ``windows`` is (lambda, lambda_f).
    """

    sample_id: str
    annotated: KeyFrames
    start: KeyFrames
    selected: KeyFrames
    fallback: str | None = None
    apex_filled: str | None = None
    windows: tuple[int, int] = (0, 0)

    def shift(self, key: str) -> int:
        """selected - start of one key frame, in frame numbers (negative: moved earlier)."""
        return int(getattr(self.selected, key)) - int(getattr(self.start, key))


def reselect_sample(
    sample: Sample,
    *,
    variant: Variant = "gamdss",
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
    distance: str = "pixel",
    missing_apex: MissingApex = "search",
    unreadable: Unreadable = "raise",
) -> Reselection:
    """Reselect ``sample``'s key frames with one variant (see the module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    if len(sample.frame_paths) < 2:
        return _kept(sample, sample.annotated, "single-frame")
    onset = frame_position(sample, sample.annotated.onset, "annotated onset")
    offset = frame_position(sample, sample.annotated.offset, "annotated offset")
    frames = ClipFrames(sample)
    try:
        apex, filled = _start_apex(sample, frames, onset, offset, missing_apex, distance, variant)
        return _search(sample, frames, variant, (onset, apex, offset), filled, window_fraction,
                       distance)
    except DataError:
        if unreadable == "keep" and frames.failed:
            return _kept(sample, _midpoint_start(sample, onset, offset), "unreadable-frames")
        raise


def find_apex_sample(
    sample: Sample, *, distance: str = "pixel", unreadable: Unreadable = "raise"
) -> Reselection:
    """The annotated onset and offset with the apex found by the whole-clip search (`find_apex`).

    Shifts are measured from the annotated apex, or from the middle position where none is
    annotated; a span with no frame strictly inside it keeps that start (fallback ``no-window``).
    """
    if len(sample.frame_paths) < 2:
        return _kept(sample, sample.annotated, "single-frame")
    onset = frame_position(sample, sample.annotated.onset, "annotated onset")
    offset = frame_position(sample, sample.annotated.offset, "annotated offset")
    start = _midpoint_start(sample, onset, offset)
    if offset - onset < 2:
        return _kept(sample, start, "no-window")
    frames = ClipFrames(sample)
    try:
        frames.load(range(onset, offset + 1))
    except DataError:
        if unreadable == "keep":
            return _kept(sample, start, "unreadable-frames")
        raise
    apex = find_apex(make_distance(distance, frames), onset, offset)
    selected = KeyFrames(start.onset, sample.frame_numbers[apex], start.offset)
    return Reselection(sample.sample_id, sample.annotated, start, selected,
                       apex_filled=None if sample.annotated.apex is not None else "midpoint")


class ClipFrames(dict[int, np.ndarray]):
    """A clip's decoded frames by position; `load` decodes each position at most once."""

    def __init__(self, sample: Sample) -> None:
        super().__init__()
        self.sample = sample
        self.failed = False

    def load(self, positions: Sequence[int] | range) -> None:
        missing = sorted(set(positions) - set(self))
        if not missing:
            return
        try:
            decoded = read_frames([self.sample.frame_paths[p] for p in missing])
        except DataError:
            self.failed = True
            raise
        if self and next(iter(self.values())).shape != decoded.shape[1:]:
            self.failed = True
            raise DataError(f"{self.sample.frame_paths[missing[0]]}: frame size differs from the "
                            "clip's other frames; every frame of a clip must share one size, re-crop it")
        self.update(zip(missing, decoded, strict=True))


def _start_apex(sample: Sample, frames: ClipFrames, onset: int, offset: int,
                missing_apex: MissingApex, distance: str, variant: Variant) -> tuple[int, str | None]:
    """The apex position the search starts from, and how it was filled (None: annotated)."""
    if sample.annotated.apex is not None:
        return frame_position(sample, sample.annotated.apex, "annotated apex"), None
    if offset - onset < 2 or missing_apex == "midpoint":
        return (onset + offset) // 2, "midpoint"
    frames.load(range(onset, offset + 1))
    return find_apex(make_distance(distance, frames, wrap_uint8=variant == "legacy"),
                     onset, offset), "search"


def _search(sample: Sample, frames: ClipFrames, variant: Variant, positions: tuple[int, int, int],
            filled: str | None, fraction: float, distance: str) -> Reselection:
    onset, apex, offset = positions
    numbers = sample.frame_numbers
    start = KeyFrames(numbers[onset], numbers[apex], numbers[offset])
    order_problem = ("apex-before-onset" if apex < onset else
                     "apex-after-offset" if apex > offset else None)
    if order_problem and variant != "legacy":
        return Reselection(sample.sample_id, sample.annotated, start, start, order_problem, filled)
    window = max(math.floor(fraction * (apex - onset)), 0)
    offset_window = max(math.floor(fraction * (offset - apex)), 0)
    reason = order_problem or _window_fallback(window, offset_window)
    if window == 0 and offset_window == 0:
        return Reselection(sample.sample_id, sample.annotated, start, start, reason, filled)

    onsets, apexes, rank = _stage1_candidates(variant, onset, apex, offset, window)
    offsets = [offset - k for k in range(offset_window + 1)]
    # lambda = 0 leaves onset and apex as they are: their frames are not needed for stage 1.
    frames.load([*onsets, *apexes, *offsets] if window else [apex, *offsets])
    measure = make_distance(distance, frames, wrap_uint8=variant == "legacy")
    o, a, f = two_stage(measure, onsets, apexes, rank, offsets)
    selected = KeyFrames(numbers[o], numbers[a], numbers[f])
    return Reselection(sample.sample_id, sample.annotated, start, selected, reason, filled,
                       (window, offset_window))


def _stage1_candidates(variant: Variant, onset: int, apex: int, offset: int,
                       window: int) -> tuple[list[int], list[int], np.ndarray]:
    """Onset and apex candidates (positions, in tie order) and their tie rank matrix."""
    onsets = list(range(onset, onset + window + 1))
    if variant != "symmetric":
        return onsets, [apex - j for j in range(window + 1)], stage1_tie_rank(window)
    # Cut at offset - 1 so that an apex never reaches the offset (nor leaves the clip).
    forward = min(window, max(offset - 1 - apex, 0))
    moves = sorted(range(-window, forward + 1), key=lambda m: (abs(m), m))
    return onsets, [apex + m for m in moves], symmetric_tie_rank(list(range(window + 1)), moves)


def _window_fallback(window: int, offset_window: int) -> str | None:
    if window == 0 and offset_window == 0:
        return "no-window"
    if window == 0:
        return "no-onset-apex-window"
    if offset_window == 0:
        return "no-offset-window"
    return None


def _kept(sample: Sample, start: KeyFrames, reason: str) -> Reselection:
    if start.apex is None:
        start = KeyFrames(start.onset, (start.onset + start.offset) // 2, start.offset)
    return Reselection(sample.sample_id, sample.annotated, start, start, reason,
                       "midpoint" if sample.annotated.apex is None else None)


def _midpoint_start(sample: Sample, onset: int, offset: int) -> KeyFrames:
    """The annotation, a missing apex filled with the middle position of onset..offset."""
    annotated = sample.annotated
    if annotated.apex is not None:
        return annotated
    return KeyFrames(annotated.onset, sample.frame_numbers[(onset + offset) // 2], annotated.offset)
