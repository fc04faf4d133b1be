"""Model inputs: frame reading errors, flow + strain on known motion, the on-disk cache and builder."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import mer_bench.inputs.frame_inputs as frame_inputs
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import ConfigError, DataError
from mer_bench.inputs import (
    FlowInputSpec,
    InputCache,
    flow_strain,
    read_frame,
    read_frames,
)
from mer_bench.inputs.flow import optical_strain
from mer_bench.missing_apex import with_apex


def build_flow_input(sample: Sample, keyframes: KeyFrames, spec: FlowInputSpec,
                     cache: InputCache | None) -> np.ndarray:
    """The onset -> apex flow input, as the flow representations build it."""
    keyframes = with_apex(sample, keyframes)
    return frame_inputs.flow_strain_input(sample, keyframes.onset, keyframes.apex, spec, cache)

SIDE = 128
MARGIN = 32


def smooth_texture(seed: int = 0) -> np.ndarray:
    """A blurred-noise float image, larger than a frame so shifted crops have no border effects."""
    rng = np.random.default_rng(seed)
    noise = rng.random((SIDE + 2 * MARGIN, SIDE + 2 * MARGIN)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 4)
    return cv2.normalize(blurred, None, 20, 235, cv2.NORM_MINMAX)


def to_bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(image, 0, 255).round().astype(np.uint8), cv2.COLOR_GRAY2BGR)


def shifted_pair(dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    """SIDE x SIDE onset frame and the same texture moved by (dx, dy) pixels (right, down)."""
    texture = smooth_texture()
    shape = (texture.shape[1], texture.shape[0])
    moved = cv2.warpAffine(texture, np.float32([[1, 0, dx], [0, 1, dy]]), shape, flags=cv2.INTER_CUBIC)
    crop = np.s_[MARGIN : MARGIN + SIDE, MARGIN : MARGIN + SIDE]
    return to_bgr(texture[crop]), to_bgr(moved[crop])


# ---- frames ----------------------------------------------------------------------------------


def test_read_frame_returns_uint8_bgr(tmp_path: Path) -> None:
    image = np.zeros((6, 9, 3), dtype=np.uint8)
    image[..., 2] = 200
    cv2.imwrite(str(tmp_path / "f.png"), image)
    frame = read_frame(tmp_path / "f.png")
    assert frame.dtype == np.uint8 and frame.shape == (6, 9, 3)
    assert frame[0, 0].tolist() == [0, 0, 200]


def test_read_frame_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "sub01" / "img7.jpg"
    with pytest.raises(DataError, match="img7.jpg: frame file is missing"):
        read_frame(path)


def test_read_frame_corrupt_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "img8.jpg"
    path.write_bytes(b"\xff\xd8 truncated jpeg")
    with pytest.raises(DataError, match="img8.jpg: frame file cannot be decoded"):
        read_frame(path)


def test_read_frames_stacks_and_rejects_odd_sizes(tmp_path: Path) -> None:
    for name, side in (("a.png", 8), ("b.png", 8), ("c.png", 9)):
        cv2.imwrite(str(tmp_path / name), np.zeros((side, side, 3), dtype=np.uint8))
    stack = read_frames([tmp_path / "a.png", tmp_path / "b.png"])
    assert stack.shape == (2, 8, 8, 3) and stack.dtype == np.uint8
    with pytest.raises(DataError, match=r"c\.png: frame is 9x9"):
        read_frames([tmp_path / "a.png", tmp_path / "c.png"])


# ---- flow + strain ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
@pytest.mark.parametrize("dx, dy", [(1.0, 0.5), (0.5, -0.25)])
def test_flow_recovers_known_translation_in_output_pixels(method: str, dx: float, dy: float) -> None:
    onset, apex = shifted_pair(dx, dy)
    result = flow_strain(onset, apex, size=28, method=method)  # type: ignore[arg-type]
    assert result.shape == (3, 28, 28) and result.dtype == np.float32
    interior = result[:, 4:-4, 4:-4]
    # A shift of d frame pixels is d * 28 / 128 pixels of the 28 x 28 output grid.
    assert interior[0].mean() == pytest.approx(dx * 28 / SIDE, abs=0.02)
    assert interior[1].mean() == pytest.approx(dy * 28 / SIDE, abs=0.02)


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_strain_of_pure_translation_is_near_zero(method: str) -> None:
    onset, apex = shifted_pair(1.0, 0.5)
    strain = flow_strain(onset, apex, method=method)[2]  # type: ignore[arg-type]
    assert strain[4:-4, 4:-4].max() < 0.02


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_identical_frames_give_no_motion(method: str) -> None:
    onset, _ = shifted_pair(0.0, 0.0)
    result = flow_strain(onset, onset.copy(), method=method)  # type: ignore[arg-type]
    # Farneback leaves ~0.1 working-pixel artefacts on the outer rows; the interior is still.
    assert np.abs(result[:, 3:-3, 3:-3]).max() < 1e-3


def test_strain_formula_on_known_fields() -> None:
    y, x = np.mgrid[0:10, 0:10].astype(np.float64)
    # Stretch u = 0.3 x, v = 0.4 y: u_x = 0.3, v_y = 0.4, no shear -> 0.5.
    np.testing.assert_allclose(optical_strain(0.3 * x, 0.4 * y), 0.5)
    # Shear u = 0.2 y: u_y = 0.2 -> sqrt(0.5 * 0.04).
    np.testing.assert_allclose(optical_strain(0.2 * y, np.zeros_like(y)), np.sqrt(0.02))


def test_flow_keeps_absolute_magnitude() -> None:
    # No per-sample min-max: a larger motion must give larger values, not the same stretched range.
    small = flow_strain(*shifted_pair(0.5, 0.0))[0, 4:-4, 4:-4].mean()
    large = flow_strain(*shifted_pair(2.0, 0.0))[0, 4:-4, 4:-4].mean()
    assert large == pytest.approx(4 * small, rel=0.15)


# ---- cache -----------------------------------------------------------------------------------


def test_cache_builds_once_per_key(tmp_path: Path) -> None:
    cache = InputCache(tmp_path / "cache")
    calls: list[int] = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    key = {"sample_id": "casme2/sub01/EP01", "onset": 3}
    first = cache.get_or_build(key, build)
    second = cache.get_or_build(dict(reversed(list(key.items()))), build)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32


def test_cache_different_keys_different_entries(tmp_path: Path) -> None:
    cache = InputCache(tmp_path)
    a = cache.get_or_build({"k": 1}, lambda: np.zeros(2))
    b = cache.get_or_build({"k": 2}, lambda: np.ones(2))
    assert cache.path_for({"k": 1}) != cache.path_for({"k": 2})
    assert cache.path_for({"k": 1}).parent.name == cache.path_for({"k": 1}).stem[:2]
    assert a.sum() == 0 and b.sum() == 2
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file()) == [".npy", ".npy"]


def test_cache_failed_build_leaves_no_entry(tmp_path: Path) -> None:
    cache = InputCache(tmp_path)

    def failing() -> np.ndarray:
        raise RuntimeError("crash while building")

    with pytest.raises(RuntimeError):
        cache.get_or_build({"k": 1}, failing)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_cache_rebuilds_an_unreadable_entry(tmp_path: Path) -> None:
    cache = InputCache(tmp_path)
    path = cache.path_for({"k": 1})
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    assert cache.get_or_build({"k": 1}, lambda: np.full(3, 7.0)).tolist() == [7.0, 7.0, 7.0]
    assert np.load(path).tolist() == [7.0, 7.0, 7.0]


# ---- builder ---------------------------------------------------------------------------------


@pytest.fixture()
def moving_sample(tmp_path: Path) -> Sample:
    folder = tmp_path / "data" / "sub01" / "EP01"
    folder.mkdir(parents=True)
    numbers = (41, 42, 43, 44)
    paths = []
    for step, number in enumerate(numbers):
        _, frame = shifted_pair(0.5 * step, 0.0)
        path = folder / f"reg_img{number}.png"
        cv2.imwrite(str(path), frame)
        paths.append(path)
    return Sample(
        dataset="casme2",
        subject="sub01",
        clip="EP01",
        frame_paths=tuple(paths),
        frame_numbers=numbers,
        fps=200.0,
        annotated=KeyFrames(41, 43, 44),
        emotion="happiness",
    )


def test_builder_caches_and_key_follows_keyframes(
    moving_sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = frame_inputs.flow_strain

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(frame_inputs, "flow_strain", counting)
    cache = InputCache(tmp_path / "cache")
    spec = FlowInputSpec()
    first = build_flow_input(moving_sample, KeyFrames(41, 43, 44), spec, cache)
    again = build_flow_input(moving_sample, KeyFrames(41, 43, 44), spec, cache)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, again)
    # Apex 42 moved half as far as apex 43 (0.5 vs 1.0 frame pixels): a new entry, a new value.
    moved_apex = build_flow_input(moving_sample, KeyFrames(41, 42, 44), spec, cache)
    assert len(calls) == 2
    assert moved_apex[0].mean() < first[0].mean()
    build_flow_input(moving_sample, KeyFrames(41, 43, 44), FlowInputSpec(method="tvl1"), cache)
    assert len(calls) == 3
    assert first.shape == (3, 28, 28)


def test_builder_key_follows_changed_frame_files(moving_sample: Sample, tmp_path: Path) -> None:
    cache = InputCache(tmp_path / "cache")
    keyframes = KeyFrames(41, 43, 44)
    build_flow_input(moving_sample, keyframes, FlowInputSpec(), cache)
    apex_path = moving_sample.path_of(43)
    status = apex_path.stat()
    os.utime(apex_path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    build_flow_input(moving_sample, keyframes, FlowInputSpec(), cache)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2


def test_builder_without_cache_and_missing_apex(moving_sample: Sample) -> None:
    # Apex None -> midpoint of onset 41 and offset 44 = 42.
    filled = build_flow_input(moving_sample, KeyFrames(41, None, 44), FlowInputSpec(), None)
    explicit = build_flow_input(moving_sample, KeyFrames(41, 42, 44), FlowInputSpec(), None)
    np.testing.assert_array_equal(filled, explicit)


def test_builder_frame_missing_from_clip_is_a_data_error(moving_sample: Sample) -> None:
    with pytest.raises(DataError, match="no frame 90"):
        build_flow_input(moving_sample, KeyFrames(41, 90, 44), FlowInputSpec(), None)


def test_flow_input_spec_rejects_unknown_method() -> None:
    with pytest.raises(ConfigError, match="flow method"):
        FlowInputSpec(method="raft")  # type: ignore[arg-type]
