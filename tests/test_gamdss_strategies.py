"""Every reselection strategy on hand-worked clips: legacy wrap-around and ties, symmetric window,
apex finder, flow distance, bad input, registration and options."""

from __future__ import annotations

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
from mer_bench.keyframes import (KEYFRAME_STRATEGIES, AnnotatedKeyframes, KeyframeStrategy,
                                 keyframes_for)

FIRST = 101  # frame number of position 0 in every clip here


def numbers(*positions: int) -> KeyFrames:
    return KeyFrames(*(FIRST + p for p in positions))


# --- gamdss-legacy (exactness against the reference: test_gamdss_reference.py) --------------------

@pytest.mark.parametrize("strategy_class", [GamdssLegacyStrategy, GamdssStrategy])
def test_apex_before_onset_still_searches_the_offset(tmp_path: Path, strategy_class: type) -> None:
    # o = 30, a = 5, f = 40: lambda < 0 keeps onset and apex; lambda_f = int(3.5) = 3 searches
    # f-3..f against the apex (value 100): 100 - 0 = 100 at f-2, 0 elsewhere -> f-2.
    values = {5: 100, 37: 100, 38: 0, 39: 100, 40: 100}
    sample = grey_clip(tmp_path / "reversed", values, 41, numbers(30, 5, 40), first=FIRST)
    result = strategy_class().reselect(sample)
    assert result.selected == numbers(30, 5, 38)
    assert result.fallback == "apex-before-onset"


def test_symmetric_keeps_an_annotation_with_apex_before_onset(tmp_path: Path) -> None:
    # Nothing is decoded (every frame is corrupt): the whole annotation is kept.
    sample = grey_clip(tmp_path / "reversed", {}, 41, numbers(30, 5, 40), first=FIRST)
    kept = GamdssSymmetricStrategy().reselect(sample)
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
    # The sample's dataset is unknown to the registry, so its missing apex is filled by the midpoint.
    sample = grey_clip(tmp_path / "twin", triangle_values(21, 12), 21, KeyFrames(FIRST, None, FIRST + 20),
                       first=FIRST)
    result = ApexSearchStrategy().reselect(sample)
    assert result.selected == numbers(0, 12, 20)
    assert result.start == numbers(0, 10, 20)  # shifts are measured from the filled apex
    assert result.apex_filled == "midpoint"


@pytest.mark.parametrize("dataset, apex, rule", [("smic-hs", 12, "apex-finder"),
                                                  ("casme2", 10, "midpoint")])
def test_gamdss_starts_from_the_apex_the_dataset_rule_fills(tmp_path: Path, dataset: str,
                                                            apex: int, rule: str) -> None:
    # SMIC's rule finds the peak (12), CASME II's takes the midpoint (10): the search starts from
    # the apex the annotated arm and the test side use.
    sample = grey_clip(tmp_path / dataset, triangle_values(21, 12), 21,
                       KeyFrames(FIRST, None, FIRST + 20), first=FIRST, dataset=dataset)
    result = GamdssStrategy().reselect(sample)
    assert result.start == numbers(0, apex, 20) == AnnotatedKeyframes().select(sample)
    assert result.apex_filled == rule
    assert keyframes_for(GamdssStrategy(), sample, is_test=True) == numbers(0, apex, 20)


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


def test_an_annotation_with_apex_after_offset_is_kept_by_symmetric(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "late", {}, 31, numbers(0, 30, 20), first=FIRST)
    result = GamdssSymmetricStrategy().reselect(sample)
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
    ("gamdss[missing_apex=search]", "unknown option 'missing_apex'"),
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
