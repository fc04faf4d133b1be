"""Input representations: frame / frame-diff / flow values and branches, cache keys (the face crop:
test_face_crop.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import mer_bench.inputs.frame_inputs as frame_inputs
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.inputs.flow import flow_strain
from mer_bench.inputs.frames import read_frame
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.representations import INPUTS, build_input

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
NUMBERS = (101, 102, 103, 104, 105)  # not starting at 1: frame numbers, never list indices
KEYS = KeyFrames(101, 103, 105)


def by_hand(frame_bgr: np.ndarray) -> np.ndarray:
    """The GAMDSS transform written out: RGB, /255, ImageNet mean / std, channels first."""
    rgb = frame_bgr[..., ::-1].astype(np.float64) / 255
    return ((rgb - MEAN) / STD).transpose(2, 0, 1)


def write_clip(folder: Path, frames: list[np.ndarray], dataset: str = "synthetic-test") -> Sample:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, frame in zip(NUMBERS, frames):
        path = folder / f"img{number}.png"  # lossless, so the hand computation sees the same pixels
        cv2.imwrite(str(path), frame)
        paths.append(path)
    return Sample(dataset=dataset, subject="s1", clip=folder.name, frame_paths=tuple(paths),
                  frame_numbers=NUMBERS, fps=200.0, annotated=KEYS, emotion="surprise")


@pytest.fixture()
def random_clip(tmp_path: Path) -> tuple[Sample, list[np.ndarray]]:
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (28, 28, 3), dtype=np.uint8) for _ in NUMBERS]
    return write_clip(tmp_path / "clip", frames), frames


def frame_of(frames: list[np.ndarray], number: int) -> np.ndarray:
    return frames[NUMBERS.index(number)]


def npy_count(root: Path) -> int:
    return len(list(root.rglob("*.npy")))


# ---- values and branches -------------------------------------------------------------------------


def test_frame_diff_is_normalised_apex_minus_onset(random_clip) -> None:
    sample, frames = random_clip
    result = build_input("frame-diff", sample, KEYS, "rising", 28, None)
    expected = by_hand(frame_of(frames, 103)) - by_hand(frame_of(frames, 101))
    assert result.dtype == np.float32 and result.shape == (3, 28, 28)
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_frame_diff_falling_branch_is_apex_minus_offset(random_clip) -> None:
    sample, frames = random_clip
    result = build_input("frame-diff", sample, KEYS, "falling", 28, None)
    expected = by_hand(frame_of(frames, 103)) - by_hand(frame_of(frames, 105))
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_frame_is_onset_on_rising_and_apex_on_falling(random_clip) -> None:
    sample, frames = random_clip
    np.testing.assert_allclose(build_input("frame", sample, KEYS, "rising", 28, None),
                               by_hand(frame_of(frames, 101)), atol=1e-5)
    np.testing.assert_allclose(build_input("frame", sample, KEYS, "falling", 28, None),
                               by_hand(frame_of(frames, 103)), atol=1e-5)


def test_missing_apex_uses_the_midpoint(random_clip) -> None:
    sample, _ = random_clip
    filled = build_input("frame-diff", sample, KeyFrames(101, None, 105), "rising", 28, None)
    explicit = build_input("frame-diff", sample, KeyFrames(101, 103, 105), "rising", 28, None)
    np.testing.assert_array_equal(filled, explicit)


@pytest.mark.parametrize("size", [28, 224])
def test_resized_uniform_frames_keep_their_normalised_colour(tmp_path: Path, size: int) -> None:
    colours = [(10, 20, 30), (40, 50, 60), (200, 100, 0), (0, 0, 0), (255, 255, 255)]
    frames = [np.full((36, 60, 3), colour, dtype=np.uint8) for colour in colours]
    sample = write_clip(tmp_path / "clip", frames)
    expected = by_hand(frames[2][:1, :1]) - by_hand(frames[0][:1, :1])
    result = build_input("frame-diff", sample, KEYS, "rising", size, None)
    assert result.shape == (3, size, size)
    np.testing.assert_allclose(result, np.broadcast_to(expected, result.shape), atol=1e-5)


@pytest.mark.parametrize("size", [28, 224])
@pytest.mark.parametrize("name, channels", [("frame-diff", 3), ("frame", 3), ("flow", 2),
                                            ("flow-strain", 3), ("flow-strain-tvl1", 3)])
def test_shapes_at_small_and_large_sizes(random_clip, name: str, channels: int, size: int) -> None:
    sample, _ = random_clip
    assert INPUTS.get(name).channels == channels
    for branch in ("rising", "falling"):
        result = build_input(name, sample, KEYS, branch, size, None)
        assert result.shape == (channels, size, size) and result.dtype == np.float32


def test_flow_is_the_first_two_channels_of_flow_strain_and_shares_its_entry(
        random_clip, tmp_path: Path) -> None:
    sample, _ = random_clip
    cache = InputCache(tmp_path / "cache")
    full = build_input("flow-strain", sample, KEYS, "rising", 28, cache)
    flow = build_input("flow", sample, KEYS, "rising", 28, cache)
    np.testing.assert_array_equal(flow, full[:2])
    assert npy_count(tmp_path / "cache") == 1
    tvl1 = build_input("flow-strain-tvl1", sample, KEYS, "falling", 28, None)
    np.testing.assert_array_equal(build_input("flow-tvl1", sample, KEYS, "falling", 28, None), tvl1[:2])


def test_flow_strain_without_crop_is_the_flow_of_start_to_peak(random_clip) -> None:
    sample, _ = random_clip
    for branch, (start, peak) in (("rising", (101, 103)), ("falling", (105, 103))):
        expected = flow_strain(read_frame(sample.path_of(start)), read_frame(sample.path_of(peak)),
                               size=28)
        np.testing.assert_array_equal(build_input("flow-strain", sample, KEYS, branch, 28, None),
                                      expected)


# ---- cache ---------------------------------------------------------------------------------------


def test_cache_reuses_entries_and_separates_keyframes_sizes_and_representations(
        random_clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample, _ = random_clip
    reads: list[Path] = []
    real = frame_inputs.read_frame
    monkeypatch.setattr(frame_inputs, "read_frame", lambda path: reads.append(path) or real(path))
    root = tmp_path / "cache"
    cache = InputCache(root)
    first = build_input("frame-diff", sample, KEYS, "rising", 28, cache)
    assert len(reads) == 2 and npy_count(root) == 1
    again = build_input("frame-diff", sample, KEYS, "rising", 28, cache)
    assert len(reads) == 2, "the second call must come from the cache"
    np.testing.assert_array_equal(first, again)
    build_input("frame-diff", sample, KeyFrames(101, 102, 105), "rising", 28, cache)
    assert npy_count(root) == 2
    build_input("frame-diff", sample, KEYS, "rising", 48, cache)
    assert npy_count(root) == 3
    build_input("frame", sample, KEYS, "rising", 28, cache)
    assert npy_count(root) == 4
    build_input("frame-diff", sample, KEYS, "falling", 28, cache)  # 105 -> 103, a new pair
    assert npy_count(root) == 5


def test_cache_key_holds_frames_files_params_and_crop(random_clip, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sample, _ = random_clip
    keys: list[dict] = []
    monkeypatch.setattr(InputCache, "get_or_build", lambda self, key, build: keys.append(key) or build())
    build_input("frame-diff", sample, KEYS, "falling", 28, InputCache(tmp_path))
    (key,) = keys
    assert key["input"] == "frame-diff" and key["sample_id"] == sample.sample_id
    assert key["frames"] == {"start": 105, "peak": 103}
    assert key["files"]["peak"]["path"].endswith("img103.png") and "mtime_ns" in key["files"]["start"]
    assert key["params"]["size"] == 28 and key["crop"] is None
