"""`gamdss-legacy` chooses the frames the reference code chooses (method reference, section 1.2).

Hand-made clips where the subtraction order of each stage, and the visit order of each stage, pick
different frames (each test names the frames the other order would pick), then a property test:
hundreds of random uint8 clips, ties forced by quantised pixel values, against a plain loop written
from the section's description. `gamdss` runs the same search on float differences, so it is held
to the same loop with the wrap-around taken out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gamdss_clips import grey_clip, make_sample, write_frames

from gamdss.reselect import GamdssLegacyStrategy, GamdssStrategy
from mer_bench.data.sample import KeyFrames

FIRST = 101  # frame number of position 0 in every clip here


def numbers(*positions: int) -> KeyFrames:
    return KeyFrames(*(FIRST + p for p in positions))


# Clips are flat grey frames, so a distance is |difference| (float) or difference mod 256 (legacy)
# of two grey values, times sqrt(pixels): comparing the grey values is enough to work them out.

def test_stage1_subtracts_the_onset_side_from_the_apex_side(tmp_path: Path) -> None:
    # o = 0, a = 10, f = 20: lambda = lambda_f = 1. Onsets (o, o+1) = 11, 10; apexes (a-1, a) = 60, 9.
    #   legacy, (apex - onset) mod 256: (o,a) 254, (o+1,a) 255, (o+1,a-1) 50, (o,a-1) 49 -> (o+1, a)
    #   (onset - apex would give 2, 1, 206, 207 -> (o, a-1));
    #   gamdss, |apex - onset|: 2, 1, 50, 49 -> (o+1, a-1).
    # Offsets (f-1, f) = 9, 9 tie against either apex: f is visited first and kept.
    values = {0: 11, 1: 10, 9: 60, 10: 9, 19: 9, 20: 9}
    sample = grey_clip(tmp_path / "stage1", values, 21, numbers(0, 10, 20), first=FIRST)
    assert GamdssLegacyStrategy().select(sample) == numbers(1, 10, 20)
    assert GamdssStrategy().select(sample) == numbers(1, 9, 20)


def test_stage2_subtracts_the_offset_from_the_apex(tmp_path: Path) -> None:
    # o = 0, a = 9, f = 19: lambda = 0 keeps onset and apex, lambda_f = 1. Apex 100; offsets
    # (f-1, f) = 120, 90. legacy, (apex - offset) mod 256: f 10, f-1 236 -> f-1 (offset - apex
    # would give 246, 20 -> f). gamdss, |apex - offset|: 10, 20 -> f-1 too.
    values = {9: 100, 18: 120, 19: 90}
    sample = grey_clip(tmp_path / "stage2", values, 20, numbers(0, 9, 19), first=FIRST)
    result = GamdssLegacyStrategy().reselect(sample)
    assert (result.selected, result.windows) == (numbers(0, 9, 18), (0, 1))
    assert GamdssStrategy().select(sample) == numbers(0, 9, 18)


def test_stage1_ties_follow_the_reference_visit_order_on_wrapped_differences(tmp_path: Path) -> None:
    # o = 0, a = 20, f = 30: lambda = 2. Onsets (o, o+1, o+2) = 0, 100, 50; apexes (a, a-1, a-2) =
    # 0, 100, 50. (apex - onset) mod 256, rows i, columns j (pair (o+i, a-j)):
    #   i=0: 0 100 50;  i=1: 156 0 206;  i=2: 206 50 0.
    # 206 is shared by (o+1, a-2) and (o+2, a): the reference visits the whole row i = 1 before
    # (o+2, a), so (o+1, a-2) wins (visiting (o+i, a) for every i first would pick (o+2, a)).
    # Offsets (f-1, f) = 50, 50 tie against a* = 50: f kept.
    values = {0: 0, 1: 100, 2: 50, 18: 50, 19: 100, 20: 0, 29: 50, 30: 50}
    sample = grey_clip(tmp_path / "ties", values, 31, numbers(0, 20, 30), first=FIRST)
    assert GamdssLegacyStrategy().select(sample) == numbers(1, 18, 30)


def test_stage1_ties_follow_the_reference_visit_order_on_float_differences(tmp_path: Path) -> None:
    # o = 0, a = 20, f = 30: lambda = 2. Onsets (o, o+1, o+2) = 150, 150, 100; apexes (a, a-1, a-2) =
    # 150, 150, 100. |apex - onset|: i=0: 0 0 50;  i=1: 0 0 50;  i=2: 50 50 0.
    # 50 at (o, a-2), (o+1, a-2), (o+2, a), (o+2, a-1): the visit order puts row i = 1 first, then
    # row i = 2, then (o, a-j) last -> (o+1, a-2) (the old order picked (o+2, a); row-major with
    # i = 0 first would pick (o, a-2)). Offsets 100, 100 tie against a* = 100: f kept.
    values = {0: 150, 1: 150, 2: 100, 18: 100, 19: 150, 20: 150, 29: 100, 30: 100}
    sample = grey_clip(tmp_path / "ties", values, 31, numbers(0, 20, 30), first=FIRST)
    assert GamdssStrategy().select(sample) == numbers(1, 18, 30)


@pytest.mark.parametrize("strategy", [GamdssLegacyStrategy, GamdssStrategy])
def test_stage2_ties_follow_the_reference_visit_order(tmp_path: Path, strategy: type) -> None:
    # o = 0, a = 9, f = 29: lambda = 0, lambda_f = 2. Apex 100; offsets (f-2, f-1, f) = 50, 50, 100:
    # 50 at f-1 and f-2 (both orders of subtraction, with or without wrap); visited f, f-1, f-2,
    # so f-1 wins (visiting f-2 first would pick f-2).
    values = {9: 100, 27: 50, 28: 50, 29: 100}
    sample = grey_clip(tmp_path / "offset-ties", values, 30, numbers(0, 9, 29), first=FIRST)
    assert strategy().select(sample) == numbers(0, 9, 28)


@pytest.mark.parametrize("span, window", [(9, 0), (10, 1), (19, 1), (20, 2), (29, 2), (30, 3)])
def test_windows_are_a_tenth_of_the_span_truncated(tmp_path: Path, span: int, window: int) -> None:
    sample = grey_clip(tmp_path / f"span{span}", {}, 2 * span + 1, numbers(0, span, 2 * span),
                       first=FIRST, fill=80)
    assert GamdssLegacyStrategy().reselect(sample).windows == (window, window)


# --- property test: random clips against the reference loop ---------------------------------------

def reference_choice(frames: list[np.ndarray], o: int, a: int, f: int, *,
                     wrap: bool) -> tuple[int, int, int]:
    """Section 1.2 as a plain loop: positions (o*, a*, f*) from annotated positions o, a, f.

    ``wrap``: subtract the uint8 arrays as they are (the reference); otherwise in float64.
    """

    def distance(minuend: int, subtrahend: int) -> float:
        first, second = frames[minuend], frames[subtrahend]
        if not wrap:
            first, second = first.astype(np.float64), second.astype(np.float64)
        return float(np.linalg.norm(first - second))

    window = int(0.1 * (a - o))
    offset_window = int(0.1 * (f - a))
    if window > 0:  # lambda <= 0 keeps the annotated onset and apex
        scores = {(o, a): distance(a, o)}
        for i in range(1, window + 1):
            scores[(o + i, a)] = distance(a, o + i)
            for j in range(1, window + 1):
                scores[(o + i, a - j)] = distance(a - j, o + i)
        for j in range(1, window + 1):
            scores[(o, a - j)] = distance(a - j, o)
        o, a = max(scores, key=scores.__getitem__)  # the first maximum in insertion order
    offsets = {f - k: distance(a, f - k) for k in range(offset_window + 1)}
    return o, a, max(offsets, key=offsets.__getitem__)


LEVELS = np.array([0, 64, 128, 192], dtype=np.uint8)
N_CLIPS = 240


def random_clip(seed: int) -> tuple[list[np.ndarray], int, int, int]:
    """Quantised frames and annotated positions (o, a, f), lambda and lambda_f cycling over 0..5
    and 0..3; one clip in ten has its apex before its onset (the reference keeps both)."""
    rng = np.random.default_rng(seed)
    window, offset_window = seed % 6, (seed // 6) % 4
    rise = 10 * window + int(rng.integers(0, 10))
    fall = 10 * offset_window + int(rng.integers(0, 10))
    lead, tail = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    o, a = lead, lead + rise
    f = a + fall
    if seed % 10 == 9:  # apex before onset: lambda < 0, offset window from the apex
        o, a = a, o
        f = max(f, o + 1)
    length = f + 1 + tail
    kind = seed % 3
    if kind == 0:  # a few distinct frames: whole-frame ties everywhere
        palette = [rng.choice(LEVELS, size=(3, 3, 3)) for _ in range(3)]
        frames = [palette[int(rng.integers(0, 3))] for _ in range(length)]
    elif kind == 1:  # flat frames of four grey levels
        frames = [np.full((2, 2, 3), rng.choice(LEVELS), dtype=np.uint8) for _ in range(length)]
    else:  # every pixel quantised
        frames = [rng.choice(LEVELS, size=(2, 3, 3)) for _ in range(length)]
    return frames, o, a, f


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[tuple[object, list[np.ndarray], tuple[int, int, int]]]:
    root = tmp_path_factory.mktemp("reference-clips")
    made = []
    for seed in range(N_CLIPS):
        frames, o, a, f = random_clip(seed)
        clip_numbers = list(range(FIRST, FIRST + len(frames)))
        paths = write_frames(root / f"clip{seed:03d}", dict(enumerate(frames)), clip_numbers)
        made.append((make_sample(paths, tuple(clip_numbers), numbers(o, a, f)), frames, (o, a, f)))
    return made


@pytest.mark.parametrize("strategy, wrap", [(GamdssLegacyStrategy, True), (GamdssStrategy, False)])
def test_random_clips_match_the_reference_loop(clips, strategy: type, wrap: bool) -> None:
    chosen = strategy()
    mismatches = []
    for sample, frames, (o, a, f) in clips:
        expected = numbers(*reference_choice(frames, o, a, f, wrap=wrap))
        got = chosen.select(sample)
        if got != expected:
            mismatches.append(f"{sample.clip} (o, a, f) = {(o, a, f)}: {got} != {expected}")
    assert not mismatches, "\n".join(mismatches[:10])


def test_random_clips_exercise_ties_and_every_window(clips) -> None:
    """The property test above means something: many stage-1 maxima are shared, every lambda
    from 0 to 5 and lambda_f from 0 to 3 occurs, and so do apexes before onsets."""
    shared, windows, reversed_ = 0, set(), 0
    for _, frames, (o, a, f) in clips:
        window = int(0.1 * (a - o))
        windows.add((max(window, 0), int(0.1 * (f - a))))
        reversed_ += a < o
        if window >= 1:
            scores = [float(np.linalg.norm(frames[a - j] - frames[o + i]))  # wrapped, as legacy
                      for i in range(window + 1) for j in range(window + 1)]
            shared += scores.count(max(scores)) > 1
    assert len(clips) >= 200
    assert {w for w, _ in windows} >= {0, 1, 2, 3, 4, 5}
    assert {w for _, w in windows} >= {0, 1, 2, 3}
    assert reversed_ >= 20
    assert shared >= 60
