"""GAMDSS keyframe reselection: hand-worked windows, tie order, fallbacks, gaps, the strategy wrapper."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import gamdss.reselect as reselect_module
from gamdss.reselect import (
    GamdssStrategy,
    frame_gram,
    reselect_gamdss,
    sq_distances,
    stage1_tie_rank,
    two_stage_search,
)
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import ConfigError, DataError
from mer_bench.keyframes import KeyframeStrategy, keyframes_for

# Frames are flat 8 x 8 x 3 images of one grey value, so ||I_p - I_q||_2 = |p - q| * sqrt(192) and
# the argmax of the distance is the argmax of |p - q|.
FRAME_SIDE = 8

# The hand-worked clip: 31 frames (positions 0..30), annotated onset at position 0, apex 20,
# offset 30, so lambda = floor(0.1 * 20) = 2 and lambda_f = floor(0.1 * 10) = 1.
#   onset window  positions 0, 1, 2    (o, o+1, o+2): values 50, 40, 45
#   apex window   positions 18, 19, 20 (a-2, a-1, a): values 150, 160, 155
#   |p - q|           j=0 (155)  j=1 (160)  j=2 (150)
#     i=0 (50)          105        110        100
#     i=1 (40)          115        120        110
#     i=2 (45)          110        115        105
#   unique maximum 120 at (i, j) = (1, 1): onset -> position 1, apex -> position 19.
#   offset window positions 29, 30 (f-1, f): values 110, 120; against a* = 160:
#     k=0 (120): 40, k=1 (110): 50 -> offset -> position 29.
# Every other frame is a corrupt file: reselection must decode only the window frames.
WINDOW_VALUES = {0: 50, 1: 40, 2: 45, 18: 150, 19: 160, 20: 155, 29: 110, 30: 120}
CLIP_LENGTH = 31


def flat_frame(value: int) -> np.ndarray:
    return np.full((FRAME_SIDE, FRAME_SIDE, 3), value, dtype=np.uint8)


def write_clip(
    folder: Path, values: dict[int, int], numbers: list[int], *, corrupt_others: bool = True
) -> tuple[tuple[Path, ...], tuple[int, ...]]:
    """Write frames named by frame number; positions without a value are corrupt (or mid-grey)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, number in enumerate(numbers):
        path = folder / f"img{number}.png"
        if position in values:
            cv2.imwrite(str(path), flat_frame(values[position]))
        elif corrupt_others:
            path.write_bytes(b"not an image")
        else:
            cv2.imwrite(str(path), flat_frame(128))
        paths.append(path)
    return tuple(paths), tuple(numbers)


def make_sample(paths: tuple[Path, ...], numbers: tuple[int, ...], keyframes: KeyFrames) -> Sample:
    return Sample(
        dataset="twin",
        subject="s01",
        clip="clip01",
        frame_paths=paths,
        frame_numbers=numbers,
        fps=200.0,
        annotated=keyframes,
        emotion="happiness",
    )


def windows(values: list[int]) -> np.ndarray:
    return np.stack([flat_frame(v) for v in values])


@pytest.fixture()
def hand_worked_sample(tmp_path: Path) -> Sample:
    numbers = list(range(101, 101 + CLIP_LENGTH))
    paths, numbers_tuple = write_clip(tmp_path / "clip01", WINDOW_VALUES, numbers)
    return make_sample(paths, numbers_tuple, KeyFrames(101, 121, 131))


def test_gamdss_moves_onset_later_apex_earlier_offset_earlier(hand_worked_sample: Sample) -> None:
    assert reselect_gamdss(hand_worked_sample) == KeyFrames(102, 120, 130)


def test_pure_search_on_hand_worked_windows() -> None:
    i, j, k = two_stage_search(windows([50, 40, 45]), windows([150, 160, 155]), windows([110, 120]))
    assert (i, j, k) == (1, 1, 1)


def test_gamdss_works_in_index_space_across_missing_frame_numbers(tmp_path: Path) -> None:
    # Numbers 201..215 then 226..241: a 10-number gap between positions 14 and 15. The annotated
    # apex 231 (position 20) is 30 numbers but 20 positions after the onset, so lambda is
    # floor(0.1 * 20) = 2 in index space (it would be 3 in number space).
    numbers = [201 + p if p < 15 else 211 + p for p in range(CLIP_LENGTH)]
    paths, numbers_tuple = write_clip(tmp_path / "gapped", WINDOW_VALUES, numbers)
    sample = make_sample(paths, numbers_tuple, KeyFrames(201, 231, 241))
    assert reselect_gamdss(sample) == KeyFrames(202, 230, 240)


def test_gamdss_keeps_window_inside_the_clip(tmp_path: Path) -> None:
    # The annotation spans the whole clip (onset = first frame, offset = last frame) with the widest
    # allowed windows: a window leaving the clip would hit a missing position, and every result must
    # be a frame of the clip.
    rng = np.random.default_rng(3)
    values = {p: int(rng.integers(0, 256)) for p in range(CLIP_LENGTH)}
    paths, numbers = write_clip(tmp_path / "wide", values, list(range(101, 101 + CLIP_LENGTH)))
    sample = make_sample(paths, numbers, KeyFrames(101, 121, 131))
    result = reselect_gamdss(sample, window_fraction=0.5)
    assert {result.onset, result.apex, result.offset} <= set(numbers)
    assert result.onset <= result.apex <= result.offset


@pytest.mark.parametrize("seed", range(20))
def test_gamdss_offsets_stay_within_their_windows(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = int(rng.integers(12, 40))
    onset, apex, offset = sorted(int(p) for p in rng.choice(length, size=3, replace=False))
    values = {p: int(rng.integers(0, 256)) for p in range(length)}
    numbers = list(range(7, 7 + length))
    paths, numbers_tuple = write_clip(tmp_path / f"clip{seed}", values, numbers)
    sample = make_sample(paths, numbers_tuple, KeyFrames(numbers[onset], numbers[apex], numbers[offset]))
    result = reselect_gamdss(sample)
    window, offset_window = (apex - onset) // 10, (offset - apex) // 10
    assert numbers[onset] <= result.onset <= numbers[onset + window]
    assert numbers[apex - window] <= result.apex <= numbers[apex]
    assert numbers[offset - offset_window] <= result.offset <= numbers[offset]


def test_stage1_ties_prefer_the_smaller_onset_move_then_the_smaller_apex_move() -> None:
    # Onset 50, 40, 40; apex (a-2, a-1, a) = 100, 160, 160. |p - q|:
    #   i=0: j0 110, j1 110, j2 50;  i=1: 120, 120, 60;  i=2: 120, 120, 60.
    # Maximum 120 at (1,0), (1,1), (2,0), (2,1); row i = 1 is visited first, j ascending -> (1, 0).
    i, j, _ = two_stage_search(windows([50, 40, 40]), windows([100, 160, 160]), windows([0]))
    assert (i, j) == (1, 0)


def test_stage1_ties_prefer_both_moved_before_apex_only() -> None:
    # Onset 40, 40, 100; apex (a-2, a-1, a) = 100, 160, 60. |p - q|:
    #   i=0: j0 20, j1 120, j2 60;  i=1: 20, 120, 60;  i=2: 40, 60, 0.
    # Maximum 120 at (0, 1) and (1, 1); (o+i, a-j) precedes (o, a-j) in the visit order -> (1, 1).
    i, j, _ = two_stage_search(windows([40, 40, 100]), windows([100, 160, 60]), windows([0]))
    assert (i, j) == (1, 1)


def test_stage1_ties_prefer_annotated_pair_first() -> None:
    # All distances equal (|50 - 150| = 100 everywhere): the annotated pair (o, a) wins.
    i, j, k = two_stage_search(windows([50, 50, 50]), windows([150, 150, 150]), windows([7, 7]))
    assert (i, j, k) == (0, 0, 0)


def test_stage2_ties_prefer_the_annotated_offset() -> None:
    # a* = 160 against offsets (f-2, f-1, f) = 100, 220, 100: |p - q| = 60, 60, 60 -> k = 0.
    _, _, k = two_stage_search(windows([0]), windows([160]), windows([100, 220, 100]))
    assert k == 0


def test_stage1_tie_rank_matches_documented_order() -> None:
    # Method reference 1.2: (o, a); for i = 1..lambda: (o+i, a), (o+i, a-1), ..., (o+i, a-lambda);
    # then (o, a-1), ..., (o, a-lambda).
    for window in range(5):
        order = [(0, 0)] + [(i, j) for i in range(1, window + 1) for j in range(window + 1)] + [
            (0, j) for j in range(1, window + 1)]
        rank = stage1_tie_rank(window)
        assert sorted(order, key=lambda pair: rank[pair]) == order
        assert sorted(rank.ravel().tolist()) == list(range((window + 1) ** 2))


def test_gamdss_keeps_annotation_when_windows_are_empty(tmp_path: Path) -> None:
    # Spans of 9 frames give lambda = lambda_f = 0: nothing is searched, nothing is decoded
    # (every frame file is corrupt).
    paths, numbers = write_clip(tmp_path / "short", {}, list(range(1, 20)))
    sample = make_sample(paths, numbers, KeyFrames(1, 10, 19))
    assert reselect_gamdss(sample) == KeyFrames(1, 10, 19)


def test_gamdss_lambda_zero_keeps_onset_apex_but_moves_offset(tmp_path: Path) -> None:
    # Onset position 0, apex 9 -> lambda = 0; offset 19 -> lambda_f = 1.
    # a = 200; offsets (f-1, f) = 50, 150: distances 150, 50 -> offset moves to f-1.
    values = {0: 10, 9: 200, 18: 50, 19: 150}
    paths, numbers = write_clip(tmp_path / "lam0", values, list(range(1, 21)))
    sample = make_sample(paths, numbers, KeyFrames(1, 10, 20))
    assert reselect_gamdss(sample) == KeyFrames(1, 10, 19)


def test_gamdss_keeps_onset_and_apex_when_apex_precedes_onset(tmp_path: Path) -> None:
    # lambda = int(0.1 * (5 - 30)) <= 0: onset and apex kept; lambda_f = int(0.1 * 35) = 3, and
    # on still frames the annotated offset, visited first, stays.
    paths, numbers = write_clip(tmp_path / "bad", {}, list(range(1, 41)), corrupt_others=False)
    sample = make_sample(paths, numbers, KeyFrames(30, 5, 40))
    assert reselect_gamdss(sample) == KeyFrames(30, 5, 40)


def test_gamdss_missing_apex_on_a_still_clip_starts_from_the_midpoint(tmp_path: Path) -> None:
    # Every frame is the same grey: nothing moves from the midpoint the rule fills.
    paths, numbers = write_clip(tmp_path / "smic", {}, list(range(1, 20)), corrupt_others=False)
    sample = make_sample(paths, numbers, KeyFrames(1, None, 19))
    assert reselect_gamdss(sample) == KeyFrames(1, 10, 19)


def test_gamdss_annotated_frame_missing_from_clip_is_a_data_error(tmp_path: Path) -> None:
    paths, numbers = write_clip(tmp_path / "clip", {}, list(range(1, 20)), corrupt_others=False)
    sample = make_sample(paths, numbers, KeyFrames(1, 10, 99))
    with pytest.raises(DataError, match="no frame 99"):
        reselect_gamdss(sample)


def test_gram_trick_matches_naive_distances() -> None:
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(9, 10, 10, 3)) * 40
    rows, columns = [0, 3, 4, 8], [8, 1, 2]
    naive = np.array([[np.linalg.norm(frames[r] - frames[c]) ** 2 for c in columns] for r in rows])
    np.testing.assert_allclose(sq_distances(frame_gram(frames), rows, columns), naive, rtol=1e-9, atol=1e-6)


def test_gram_trick_is_exact_on_uint8_frames() -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(7, 64, 64, 3), dtype=np.uint8)
    wide = frames.astype(np.float64)
    naive = np.array([[np.sum((wide[r] - wide[c]) ** 2) for c in range(7)] for r in range(7)])
    everything = list(range(7))
    distances = sq_distances(frame_gram(frames), everything, everything)
    assert np.array_equal(distances, naive)
    assert np.array_equal(distances.diagonal(), np.zeros(7))


def test_float_differences_not_uint8_wraparound() -> None:
    # Onset (o, o+1) = 10, 9; apex (a-1, a) = 60, 11. Float |p - q|: i=0: j0 1, j1 50; i=1: 2, 51
    # -> (1, 1). Under uint8 arithmetic 10 - 11 wraps to 255 and (0, 0) would win instead.
    i, j, _ = two_stage_search(windows([10, 9]), windows([60, 11]), windows([0]))
    assert (i, j) == (1, 1)


def test_strategy_defaults_and_params() -> None:
    strategy = GamdssStrategy()
    assert strategy.name == "gamdss"
    assert strategy.applies_to == "train"
    assert dict(strategy.params()) == {
        "window_fraction": 0.1, "distance": "pixel", "applies_to": "train", "unreadable": "raise"}
    assert isinstance(strategy, KeyframeStrategy)
    assert GamdssStrategy(window_fraction=0.2, applies_to="all").params()["applies_to"] == "all"


def test_strategy_is_keyword_only_and_validated() -> None:
    with pytest.raises(TypeError):
        GamdssStrategy(0.1)  # type: ignore[misc]
    with pytest.raises(ConfigError):
        GamdssStrategy(window_fraction=0.7)
    with pytest.raises(ConfigError):
        GamdssStrategy(applies_to="test")  # type: ignore[arg-type]


def test_strategy_searches_each_sample_once(
    hand_worked_sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = reselect_module.reselect_sample

    def counting(sample: Sample, **options: object) -> object:
        calls.append(sample.sample_id)
        return real(sample, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(reselect_module, "reselect_sample", counting)
    strategy = GamdssStrategy()
    for _epoch in range(3):
        assert strategy.select(hand_worked_sample) == KeyFrames(102, 120, 130)
    assert calls == [hand_worked_sample.sample_id]


def test_strategy_applies_to_train_side_only(hand_worked_sample: Sample) -> None:
    strategy = GamdssStrategy()
    assert keyframes_for(strategy, hand_worked_sample, is_test=True) == hand_worked_sample.annotated
    assert keyframes_for(strategy, hand_worked_sample, is_test=False) == KeyFrames(102, 120, 130)
