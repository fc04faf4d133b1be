"""One sample's reselection: annotation -> windows -> frames decoded once -> search -> a `Reselection`.

Variants (section 1 of the GAMDSS method reference), with o, a, f the annotated onset, apex and
offset as positions in the clip's sorted frame list, lambda = int(fraction * (a - o)) and
lambda_f = int(fraction * (f - a)) (truncated toward zero, as the reference's int()):

- ``gamdss``: onset window o..o+lambda (forward), apex window a-lambda..a (backward), then the
  offset window f-lambda_f..f (backward) against the new apex; pixel differences in floating point;
  the reference's visit order for ties (`gamdss.search`).
- ``legacy``: the same windows and visit order on the reference code's uint8 difference, apex side
  minus the other side, wrap-around included: ``gamdss`` and ``legacy`` differ only in the wrap.
- ``symmetric``: the apex window a-lambda..a+lambda drawn in the paper's figure, cut so that it
  stays before the offset (a+lambda is never past f-1); offsets not after the new apex are skipped.

Positions, not frame numbers: the search runs in index space of the sorted clip, so a clip with
missing frame numbers steps over the gap as the datasets' own file lists do; results are mapped back
to frame numbers. Every window lies inside the clip by construction; an annotated frame that is not
in the clip is a DataError.

Fallbacks (the annotated frames are kept, the reason is recorded in `Reselection.fallback`):

- ``single-frame``: the clip has one frame;
- ``apex-before-onset`` / ``apex-after-offset``: ``symmetric`` keeps the whole annotation;
  ``gamdss`` and ``legacy`` do what the reference does (apex before onset: lambda <= 0 keeps onset
  and apex, and the offset is still searched; apex after offset: lambda_f = 0 keeps the offset);
- ``no-window``: lambda = lambda_f = 0, nothing is searched;
- ``no-onset-apex-window`` (lambda = 0: onset and apex kept, offset searched) and
  ``no-offset-window`` (lambda_f = 0: offset kept);
- ``unreadable-frames``: a window frame cannot be decoded and ``unreadable="keep"`` was asked for
  (the default, ``"raise"``, raises the DataError naming the file).

A missing apex (SMIC, CASME II's '/') is filled before the search by the dataset's rule, the same
apex every other strategy and the test side use (`mer_bench.missing_apex`): the search starts from
it, the rule is recorded in `Reselection.apex_filled` and the shifts are measured from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from gamdss.distances import make_distance
from gamdss.search import stage1_tie_rank, symmetric_tie_rank, two_stage
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import DataError
from mer_bench.inputs.files import frame_position
from mer_bench.inputs.frames import read_frames
from mer_bench.missing_apex import fill_apex, find_apex, found_apex, midpoint_apex

Variant = Literal["gamdss", "legacy", "symmetric"]
VARIANTS: tuple[str, ...] = ("gamdss", "legacy", "symmetric")
Unreadable = Literal["raise", "keep"]
DEFAULT_WINDOW_FRACTION = 0.1

FALLBACKS: tuple[str, ...] = (
    "single-frame", "apex-before-onset", "apex-after-offset", "unreadable-frames",
    "no-window", "no-onset-apex-window", "no-offset-window",
)


@dataclass(frozen=True)
class Reselection:
    """What a reselection strategy did with one sample.

    ``start`` is the annotation the search started from (a missing apex filled, ``apex_filled``
    naming the rule); ``selected`` is the result; ``fallback`` names why annotated frames were kept
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
    unreadable: Unreadable = "raise",
) -> Reselection:
    """Reselect ``sample``'s key frames with one variant (see the module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    onset, offset = _onset_offset(sample)
    start = _start(sample, unreadable)
    if isinstance(start, Reselection):
        return start
    if len(sample.frame_paths) < 2:
        return _kept(sample, start, "single-frame")
    apex = frame_position(sample, start.keyframes.apex, "annotated apex")  # type: ignore[arg-type]
    frames = ClipFrames(sample)
    try:
        return _search(sample, frames, variant, (onset, apex, offset), start, window_fraction,
                       distance)
    except DataError:
        if unreadable == "keep" and frames.failed:
            return _kept(sample, start, "unreadable-frames")
        raise


def find_apex_sample(
    sample: Sample, *, distance: str = "pixel", unreadable: Unreadable = "raise"
) -> Reselection:
    """The annotated onset and offset with the apex the whole-clip search finds (the core's apex
    finder, `mer_bench.missing_apex.find_apex`, on pixel or flow distances).

    Shifts are measured from the annotated apex, or from the one the dataset's rule fills; a span
    with no frame strictly inside it keeps that start (fallback ``no-window``).
    """
    onset, offset = _onset_offset(sample)
    start = _start(sample, unreadable)
    if isinstance(start, Reselection):
        return start
    if len(sample.frame_paths) < 2:
        return _kept(sample, start, "single-frame")
    if offset - onset < 2:
        return _kept(sample, start, "no-window")
    annotated = sample.annotated
    try:
        if distance == "pixel":
            # The very search (and disk cache) that fills a missing apex on SMIC.
            apex = found_apex(sample, annotated.onset, annotated.offset)
        else:
            frames = ClipFrames(sample)
            frames.load(range(onset, offset + 1))
            apex = sample.frame_numbers[find_apex(make_distance(distance, frames), onset, offset)]
    except DataError:
        if unreadable == "keep":
            return _kept(sample, start, "unreadable-frames")
        raise
    selected = KeyFrames(annotated.onset, apex, annotated.offset)
    return Reselection(sample.sample_id, annotated, start.keyframes, selected,
                       apex_filled=start.rule)


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


@dataclass(frozen=True)
class _Start:
    """The annotation with its apex filled by the dataset's rule (None: the apex is annotated)."""

    keyframes: KeyFrames
    rule: str | None


def _onset_offset(sample: Sample) -> tuple[int, int]:
    return (frame_position(sample, sample.annotated.onset, "annotated onset"),
            frame_position(sample, sample.annotated.offset, "annotated offset"))


def _start(sample: Sample, unreadable: Unreadable) -> _Start | Reselection:
    """Where every search starts: the annotation, a missing apex filled (`mer_bench.missing_apex`).

    The rule may decode frames (SMIC's apex finder); if they cannot be decoded and ``unreadable``
    is ``"keep"``, the result is already decided: the annotation kept, a missing apex at the
    midpoint, counted as ``unreadable-frames``.
    """
    annotated = sample.annotated
    try:
        filled = fill_apex(sample)
    except DataError:
        if unreadable != "keep":
            raise
        middle = midpoint_apex(sample, annotated.onset, annotated.offset)
        start = _Start(KeyFrames(annotated.onset, middle, annotated.offset), "midpoint")
        return _kept(sample, start, "unreadable-frames")
    return _Start(KeyFrames(annotated.onset, filled.apex, annotated.offset), filled.rule)


def _search(sample: Sample, frames: ClipFrames, variant: Variant, positions: tuple[int, int, int],
            start: _Start, fraction: float, distance: str) -> Reselection:
    onset, apex, offset = positions
    numbers = sample.frame_numbers
    order_problem = ("apex-before-onset" if apex < onset else
                     "apex-after-offset" if apex > offset else None)
    if order_problem and variant == "symmetric":
        return _kept(sample, start, order_problem)
    # int() truncates toward zero as the reference's does; a negative span searches nothing.
    window = max(int(fraction * (apex - onset)), 0)
    offset_window = max(int(fraction * (offset - apex)), 0)
    reason = order_problem or _window_fallback(window, offset_window)
    if window == 0 and offset_window == 0:
        return _kept(sample, start, reason)

    onsets, apexes, rank = _stage1_candidates(variant, onset, apex, offset, window)
    offsets = [offset - k for k in range(offset_window + 1)]
    # lambda = 0 leaves onset and apex as they are: their frames are not needed for stage 1.
    frames.load([*onsets, *apexes, *offsets] if window else [apex, *offsets])
    measure = make_distance(distance, frames, wrap_uint8=variant == "legacy")
    o, a, f = two_stage(measure, onsets, apexes, rank, offsets)
    selected = KeyFrames(numbers[o], numbers[a], numbers[f])
    return Reselection(sample.sample_id, sample.annotated, start.keyframes, selected, reason,
                       start.rule, (window, offset_window))


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


def _kept(sample: Sample, start: _Start, reason: str | None) -> Reselection:
    return Reselection(sample.sample_id, sample.annotated, start.keyframes, start.keyframes, reason,
                       start.rule)
