"""Input representations: frame / frame-diff / flow values and branches, cache keys, the face crop."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import mer_bench.inputs.face_crop as face_crop
import mer_bench.inputs.frame_inputs as frame_inputs
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.inputs.flow import flow_strain
from mer_bench.inputs.frames import read_frame
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import (
    FaceBox,
    centred_square,
    clip_face_crop,
    dataset_wants_crop,
    largest_detection,
    locate_face,
    square_box,
)
from mer_bench.inputs.representations import INPUTS, build_input
from mer_bench.registry import Registry

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


# ---- face crop: box geometry ---------------------------------------------------------------------


def test_largest_detection_wins() -> None:
    assert largest_detection([(0, 0, 10, 10), (50, 40, 30, 30), (5, 5, 20, 20)]) == (50, 40, 30, 30)
    assert largest_detection([]) is None


def test_square_box_adds_the_margin_around_the_centre() -> None:
    # 40 x 50 detection centred at (120, 105); side 50 * (1 + 2 * 0.2) = 70.
    assert square_box((100, 80, 40, 50), (300, 400), margin=0.2) == FaceBox(85, 70, 70)


def test_square_box_is_shifted_inside_the_image_at_its_edges() -> None:
    assert square_box((0, 0, 40, 40), (300, 400), margin=0.25) == FaceBox(0, 0, 60)
    assert square_box((370, 270, 30, 30), (300, 400), margin=0.5) == FaceBox(340, 240, 60)


def test_square_box_shrinks_to_the_shorter_side_only_when_larger() -> None:
    assert square_box((100, 10, 90, 90), (100, 300), margin=0.2) == FaceBox(95, 0, 100)


def test_centred_square_of_wide_and_tall_frames() -> None:
    assert centred_square((60, 100)) == FaceBox(20, 0, 60)
    assert centred_square((100, 60)) == FaceBox(0, 20, 60)


# ---- face crop: fallback, datasets, application ----------------------------------------------------


def test_blank_frame_falls_back_to_the_centred_square_and_is_counted(tmp_path: Path) -> None:
    sample = write_clip(tmp_path / "blank", [np.full((60, 100, 3), 128, np.uint8)] * 5)
    before = face_crop.fallback_count()
    crop = clip_face_crop(sample, InputCache(tmp_path / "cache"))
    assert crop.fallback and crop.box == FaceBox(20, 0, 60)
    clip_face_crop(sample, InputCache(tmp_path / "cache"))  # looked up twice, counted once
    assert face_crop.fallback_count() == before + 1
    assert sample.sample_id in face_crop.fallback_samples()


def test_dataset_spec_decides_the_crop() -> None:
    registry: Registry[DatasetSpec] = Registry("dataset")
    registry.register("uncropped", DatasetSpec("uncropped", "U", "U", 30.0, read=lambda p: [], face_crop=True))
    registry.register("cropped", DatasetSpec("cropped", "C", "C", 30.0, read=lambda p: []))
    assert dataset_wants_crop("uncropped", registry) is True
    assert dataset_wants_crop("cropped", registry) is False
    assert dataset_wants_crop("not-a-dataset", registry) is False
    assert DATASETS.get("casme2").face_crop is False and dataset_wants_crop("casme2") is False


def test_representations_crop_every_frame_with_the_clip_box(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (40, 64, 3), dtype=np.uint8) for _ in NUMBERS]
    frames[0][:] = 128  # a blank first frame: no face, so the centred 40 x 40 square (x = 12)
    sample = write_clip(tmp_path / "uncropped", frames)
    monkeypatch.setattr(face_crop, "dataset_wants_crop", lambda dataset: True)
    keys: list[dict] = []
    real = InputCache.get_or_build
    monkeypatch.setattr(InputCache, "get_or_build",
                        lambda self, key, build: keys.append(key) or real(self, key, build))
    cache = InputCache(tmp_path / "cache")
    result = build_input("frame-diff", sample, KEYS, "rising", 40, cache)
    centre = np.s_[:, 12:52]
    expected = by_hand(frame_of(frames, 103)[centre]) - by_hand(frame_of(frames, 101)[centre])
    np.testing.assert_allclose(result, expected, atol=1e-5)
    assert keys[-1]["crop"]["box"] == [12, 0, 40] and keys[-1]["crop"]["fallback"] is True
    assert keys[-1]["crop"]["margin"] == face_crop.DEFAULT_SPEC.margin
    assert build_input("flow-strain", sample, KEYS, "rising", 28, cache).shape == (3, 28, 28)


# ---- face crop: the twins' procedural faces ----------------------------------------------------------


@pytest.fixture(scope="module")
def twin_samples(tiny_twin_root: Path) -> list[Sample]:
    return DATASETS.get("casme2").read(tiny_twin_root / "CASME2").samples[:6]


def test_haar_finds_the_twin_faces(twin_samples: list[Sample]) -> None:
    for sample in twin_samples:
        frame = cv2.imread(str(sample.frame_paths[0]))
        assert face_crop.detect_faces(frame), f"no face on {sample.frame_paths[0]}"


def test_twin_face_embedded_in_a_wide_frame_is_cropped_around_it(twin_samples: list[Sample]) -> None:
    for sample in twin_samples:
        face = cv2.imread(str(sample.frame_paths[0]))
        side = face.shape[0]
        scene = np.full((2 * side, 3 * side, 3), 100, np.uint8)
        left, top = 3 * side // 2, side // 3
        scene[top : top + side, left : left + side] = face
        crop = locate_face(scene)
        assert not crop.fallback
        box = crop.box
        assert abs(box.x + box.side / 2 - (left + side / 2)) < 0.1 * side
        assert abs(box.y + box.side / 2 - (top + side / 2)) < 0.15 * side
        assert 0.9 * side < box.side < 1.6 * side

