"""Every reselection strategy on hand-worked clips: legacy wrap-around and ties, symmetric window,
apex finder, flow distance, bad input, registration and options."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from gamdss_clips import grey_clip, make_sample, write_frames

from gamdss.reselect import (
    ApexSearchStrategy,
    GamdssLegacyStrategy,
    GamdssStrategy,
    GamdssSymmetricStrategy,
    make_strategy,
)
from gamdss.selection import reselect_sample
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError, MerBenchError
from mer_bench.keyframes import KEYFRAME_STRATEGIES, KeyframeStrategy, keyframes_for

FIRST = 101  # frame number of position 0 in every clip here


def numbers(*positions: int) -> KeyFrames:
    return KeyFrames(*(FIRST + p for p in positions))


# --- gamdss-legacy: the reference's uint8 wrap-around --------------------------------------------

def test_legacy_wraps_uint8_differences_where_gamdss_does_not(tmp_path: Path) -> None:
    # o = 0, a = 10, f = 20: lambda = lambda_f = 1.
    #   onset (o, o+1) = 10, 9; apex (a-1, a) = 60, 11; offset (f-1, f) = 200, 12.
    # legacy, (onset - apex) mod 256: (o,a) 10-11 -> 255; (o+1,a) 254; (o+1,a-1) 205; (o,a-1) 206
    #   -> (o, a) kept. Stage 2, (a* - offset) mod 256 with a* = 11: f 11-12 -> 255; f-1 67 -> f.
    # gamdss, |p - q|: 1, 2, 51, 50 -> (o+1, a-1); stage 2 with a* = 60: f 48, f-1 140 -> f-1.
    values = {0: 10, 1: 9, 9: 60, 10: 11, 19: 200, 20: 12}
    sample = grey_clip(tmp_path / "wrap", values, 21, numbers(0, 10, 20), first=FIRST)
    assert GamdssLegacyStrategy().select(sample) == numbers(0, 10, 20)
    assert GamdssStrategy().select(sample) == numbers(1, 9, 19)


def test_legacy_ties_follow_insertion_order(tmp_path: Path) -> None:
    # o = 0, a = 20, f = 30: lambda = 2, lambda_f = 1.
    #   onset (o, o+1, o+2) = 100, 200, 200; apex (a-2, a-1, a) = 150, 201, 201;
    #   offset (f-1, f) = 202, 202.
    # legacy (p - q) mod 256: i=0: 155 155 206; i=1: 255 255 50; i=2: 255 255 50 (j = 0, 1, 2).
    #   255 is shared by (1,0) (1,1) (2,0) (2,1); the (o+i, a) group comes first -> (o+1, a).
    #   Stage 2 against 201: (201 - 202) mod 256 = 255 for both offsets -> k = 0, f kept.
    # gamdss |p - q|: i=0: 101 101 50 -> (o, a) first among the 101s; stage 2 ties -> f.
    values = {0: 100, 1: 200, 2: 200, 18: 150, 19: 201, 20: 201, 29: 202, 30: 202}
    sample = grey_clip(tmp_path / "ties", values, 31, numbers(0, 20, 30), first=FIRST)
    assert GamdssLegacyStrategy().select(sample) == numbers(1, 20, 30)
    assert GamdssStrategy().select(sample) == numbers(0, 20, 30)


def reference_legacy(frames: list[np.ndarray], o: int, a: int, f: int) -> tuple[int, int, int]:
    """The reference behaviour as the method description states it, written the slow way."""
    window, offset_window = math.floor(0.1 * (a - o)), math.floor(0.1 * (f - a))
    scores = {(o, a): np.linalg.norm(frames[o] - frames[a])}
    for i in range(1, window + 1):
        scores[(o + i, a)] = np.linalg.norm(frames[o + i] - frames[a])
    for i in range(1, window + 1):
        for j in range(1, window + 1):
            scores[(o + i, a - j)] = np.linalg.norm(frames[o + i] - frames[a - j])
    for j in range(1, window + 1):
        scores[(o, a - j)] = np.linalg.norm(frames[o] - frames[a - j])
    new_onset, new_apex = max(scores, key=scores.get)
    offsets = {f - k: np.linalg.norm(frames[new_apex] - frames[f - k]) for k in range(offset_window + 1)}
    return new_onset, new_apex, max(offsets, key=offsets.get)


@pytest.mark.parametrize("seed", range(12))
def test_legacy_matches_a_naive_replica_of_the_reference(tmp_path: Path, seed: int) -> None:
    # Few distinct pixel values (neighbours 10..12 wrap, and ties are common) on 4 x 4 frames.
    rng = np.random.default_rng(seed)
    length = int(rng.integers(25, 60))
    frames = [rng.choice(np.array([10, 11, 12, 200], dtype=np.uint8), size=(4, 4, 3)) for _ in range(length)]
    o, a, f = sorted(int(p) for p in rng.choice(length, size=3, replace=False))
    clip_numbers = list(range(FIRST, FIRST + length))
    paths = write_frames(tmp_path / f"clip{seed}", dict(enumerate(frames)), clip_numbers)
    sample = make_sample(paths, tuple(range(FIRST, FIRST + length)), numbers(o, a, f))
    assert GamdssLegacyStrategy().select(sample) == numbers(*reference_legacy(frames, o, a, f))


def test_legacy_with_apex_before_onset_still_searches_the_offset(tmp_path: Path) -> None:
    # o = 30, a = 5, f = 40: lambda < 0 keeps onset and apex; lambda_f = floor(3.5) = 3 searches
    # f-3..f against the apex (value 100): 100 - 0 = 100 at f-2, 0 elsewhere -> f-2.
    values = {5: 100, 37: 100, 38: 0, 39: 100, 40: 100}
    sample = grey_clip(tmp_path / "reversed", values, 41, numbers(30, 5, 40), first=FIRST)
    result = GamdssLegacyStrategy().reselect(sample)
    assert result.selected == numbers(30, 5, 38)
    assert result.fallback == "apex-before-onset"
    # gamdss keeps the whole annotation and decodes nothing (all other frames are corrupt).
    kept = GamdssStrategy().reselect(sample)
    assert (kept.selected, kept.fallback) == (numbers(30, 5, 40), "apex-before-onset")


# --- gamdss-symmetric -----------------------------------------------------------------------------

def test_symmetric_window_can_move_the_apex_later(tmp_path: Path) -> None:
    # o = 0, a = 20, f = 30: lambda = 2, apex window a-2..a+2 = 150 160 155 170 150.
    # Onset 50 40 45: the largest |p - q| is 40 vs 170 -> (o+1, a+1). Offsets (f-1, f) = 100, 120
    # against 170: 70, 50 -> f-1. The one-sided window stops at a: 40 vs 160 -> (o+1, a-1), and
    # against 160 the offsets give 60, 40 -> f-1.
    values = {0: 50, 1: 40, 2: 45, 18: 150, 19: 160, 20: 155, 21: 170, 22: 150, 29: 100, 30: 120}
    sample = grey_clip(tmp_path / "sym", values, 31, numbers(0, 20, 30), first=FIRST)
    assert GamdssSymmetricStrategy().select(sample) == numbers(1, 21, 29)
    assert GamdssStrategy().select(sample) == numbers(1, 19, 29)


def test_symmetric_ties_prefer_small_moves_then_the_earlier_apex(tmp_path: Path) -> None:
    # Onsets all 0; apex window a-2..a+2 = 10 100 50 100 10: 100 at a-1 and a+1 for every onset.
    # Smallest total move first: (o, a-1) and (o, a+1) both move 1; the earlier apex wins.
    values = {0: 0, 1: 0, 2: 0, 18: 10, 19: 100, 20: 50, 21: 100, 22: 10, 29: 7, 30: 7}
    sample = grey_clip(tmp_path / "symties", values, 31, numbers(0, 20, 30), first=FIRST)
    assert GamdssSymmetricStrategy().select(sample) == numbers(0, 19, 30)


def test_symmetric_window_stops_before_the_offset(tmp_path: Path) -> None:
    # o = 0, a = 20, f = 21: lambda = 2 but only a-2..a fit before the offset; the offset frame
    # (255, the largest change) must not become the apex. lambda_f = 0 keeps the offset.
    values = {0: 0, 1: 0, 2: 0, 18: 10, 19: 20, 20: 30, 21: 255}
    sample = grey_clip(tmp_path / "edge", values, 22, numbers(0, 20, 21), first=FIRST)
    result = GamdssSymmetricStrategy().reselect(sample)
    assert result.selected == numbers(0, 20, 21)
    assert result.fallback == "no-offset-window"


# --- apex finder ------------------------------------------------------------------------------------

def triangle_values(length: int, peak: int) -> dict[int, int]:
    """0 at both ends, 100 at ``peak``, linear in between."""
    up = {p: round(100 * p / peak) for p in range(peak + 1)}
    down = {p: round(100 * (length - 1 - p) / (length - 1 - peak)) for p in range(peak + 1, length)}
    return up | down


def test_apex_search_finds_the_peak_of_an_unannotated_clip(tmp_path: Path) -> None:
    # d(o, t) + d(t, f) = 2 * value(t) on flat frames with o = f = 0: the peak at position 12.
    sample = grey_clip(tmp_path / "smic", triangle_values(21, 12), 21, KeyFrames(FIRST, None, FIRST + 20),
                       first=FIRST)
    result = ApexSearchStrategy().reselect(sample)
    assert result.selected == numbers(0, 12, 20)
    assert result.start == numbers(0, 10, 20)  # shifts are measured from the middle frame
    assert result.apex_filled == "midpoint"


def test_gamdss_fills_a_missing_apex_with_the_apex_finder(tmp_path: Path) -> None:
    # Found apex 12; then lambda = floor(1.2) = 1: onsets 0, 8 vs apexes 100, 92 -> (o, a) kept;
    # lambda_f = floor(0.8) = 0 keeps the offset.
    sample = grey_clip(tmp_path / "smic", triangle_values(21, 12), 21, KeyFrames(FIRST, None, FIRST + 20),
                       first=FIRST)
    result = GamdssStrategy().reselect(sample)
    assert result.selected == numbers(0, 12, 20)
    assert (result.apex_filled, result.fallback) == ("search", "no-offset-window")
    assert GamdssStrategy(missing_apex="midpoint").select(sample).apex != FIRST + 12


def test_apex_search_replaces_an_annotated_apex_unless_told_to_keep_it(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "casme", triangle_values(21, 12), 21, numbers(0, 5, 20), first=FIRST)
    assert ApexSearchStrategy().select(sample) == numbers(0, 12, 20)
    assert ApexSearchStrategy(only_missing=True).select(sample) == numbers(0, 5, 20)


# --- flow distance ---------------------------------------------------------------------------------

def textured(shift: int) -> np.ndarray:
    """A smooth random texture moved ``shift`` pixels right: larger shift, larger flow."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (32, 32)).astype(np.float32), (0, 0), 2.0)
    grey = np.roll(texture, shift, axis=1)
    return cv2.cvtColor(cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8),
                        cv2.COLOR_GRAY2BGR)


def test_flow_distance_picks_the_apex_with_the_most_motion(tmp_path: Path) -> None:
    # o = 0, a = 10, f = 12: lambda = 1, lambda_f = 0. Onsets o, o+1 are the same still image;
    # a-1 is it moved 3 px, a moved 1 px: more flow to a-1. The two onsets tie exactly, and the
    # (o+i, a-j) group precedes (o, a-j) -> (o+1, a-1).
    frames = {0: textured(0), 1: textured(0), 9: textured(3), 10: textured(1), 12: textured(0)}
    paths = write_frames(tmp_path / "flow", frames, list(range(FIRST, FIRST + 13)))
    sample = make_sample(paths, tuple(range(FIRST, FIRST + 13)), numbers(0, 10, 12))
    assert GamdssStrategy(distance="flow").select(sample) == numbers(1, 9, 12)


# --- bad input ---------------------------------------------------------------------------------------

ALL_STRATEGIES = (GamdssStrategy, GamdssLegacyStrategy, GamdssSymmetricStrategy, ApexSearchStrategy)


@pytest.mark.parametrize("strategy_class", ALL_STRATEGIES)
def test_a_one_frame_clip_keeps_its_annotation(tmp_path: Path, strategy_class: type) -> None:
    sample = grey_clip(tmp_path / "one", {0: 50}, 1, numbers(0, 0, 0), first=FIRST)
    strategy = strategy_class()
    assert strategy.select(sample) == numbers(0, 0, 0)
    assert strategy.fallback_counts() == {"single-frame": 1}


@pytest.mark.parametrize("strategy_class", ALL_STRATEGIES)
def test_unreadable_frames_raise_by_default_naming_the_file(tmp_path: Path, strategy_class: type) -> None:
    sample = grey_clip(tmp_path / "broken", {}, 31, numbers(0, 20, 30), first=FIRST)
    with pytest.raises(DataError, match=r"img101\.png: frame file cannot be decoded"):
        strategy_class().select(sample)


@pytest.mark.parametrize("strategy_class", ALL_STRATEGIES)
def test_unreadable_frames_can_keep_the_annotation_and_are_counted(tmp_path: Path,
                                                                    strategy_class: type) -> None:
    broken = grey_clip(tmp_path / "broken", {}, 31, numbers(0, 20, 30), first=FIRST)
    fine = grey_clip(tmp_path / "fine", {}, 31, numbers(0, 20, 30), first=FIRST, fill=80)
    strategy = strategy_class(unreadable="keep")
    assert strategy.select(broken) == numbers(0, 20, 30)
    strategy.select(fine)
    assert strategy.fallback_counts()["unreadable-frames"] == 1


@pytest.mark.parametrize("strategy_class", ALL_STRATEGIES)
def test_an_annotated_frame_outside_the_clip_is_a_data_error(tmp_path: Path, strategy_class: type) -> None:
    sample = grey_clip(tmp_path / "short", {}, 20, numbers(0, 10, 35), first=FIRST, fill=80)
    with pytest.raises(DataError, match=f"no frame {FIRST + 35}"):
        strategy_class().select(sample)


def test_an_annotation_with_apex_after_offset_is_kept(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "late", {}, 31, numbers(0, 30, 20), first=FIRST)
    result = GamdssStrategy().reselect(sample)
    assert (result.selected, result.fallback) == (numbers(0, 30, 20), "apex-after-offset")


def test_unknown_variant_is_refused(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "v", {0: 1}, 1, numbers(0, 0, 0), first=FIRST)
    with pytest.raises(ValueError, match="unknown variant"):
        reselect_sample(sample, variant="both")  # type: ignore[arg-type]


# --- registration and options ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gamdss", "gamdss-legacy", "gamdss-symmetric", "apex-search"])
def test_every_strategy_is_registered_and_builds_with_no_arguments(name: str) -> None:
    strategy = KEYFRAME_STRATEGIES.get(name)()
    assert isinstance(strategy, KeyframeStrategy)
    assert strategy.name == name
    assert strategy.applies_to == "train"
    assert dict(strategy.params())["distance"] == "pixel"


def test_options_are_parsed_from_a_strategy_spec() -> None:
    strategy = make_strategy("gamdss[distance=flow, window_fraction=0.2, applies_to=all]")
    assert (strategy.distance, strategy.window_fraction, strategy.applies_to) == ("flow", 0.2, "all")
    assert make_strategy("apex-search[only_missing=true]").only_missing is True


@pytest.mark.parametrize("spec, message", [
    ("gamdss[bogus=1]", "unknown option .bogus."),
    ("gamdss[distance=sound]", "distance 'sound' is unknown"),
    ("gamdss[window_fraction=0.9]", "out of range"),
    ("gamdss-legacy[distance=flow]", "reproduces the reference's pixel difference"),
    ("gamdss[missing_apex=guess]", "missing_apex"),
    ("apex-search[unreadable=skip]", "unreadable"),
    ("gamdss[window_fraction]", "not key=value"),
    ("gamdss[", "NAME or NAME"),
    ("gamds", "did you mean"),
])
def test_bad_strategy_specs_are_config_errors(spec: str, message: str) -> None:
    # ConfigError for options, UnknownNameError for names: both one-line user errors (exit 2).
    with pytest.raises(MerBenchError, match=message):
        make_strategy(spec)


def test_applies_to_all_reselects_test_samples_too(tmp_path: Path) -> None:
    values = {0: 50, 1: 40, 2: 45, 18: 150, 19: 160, 20: 155, 29: 110, 30: 120}
    sample = grey_clip(tmp_path / "all", values, 31, numbers(0, 20, 30), first=FIRST)
    assert keyframes_for(GamdssStrategy(applies_to="all"), sample, is_test=True) == numbers(1, 19, 29)
    assert keyframes_for(GamdssStrategy(), sample, is_test=True) == numbers(0, 20, 30)
