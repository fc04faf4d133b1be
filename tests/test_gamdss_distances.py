"""Frame distances: exact pixel L2, the reference's uint8 wrap-around, flow magnitude."""

from __future__ import annotations

import numpy as np
import pytest

from gamdss.distances import FlowDistance, PixelDistance, WrappedPixelDistance, make_distance


def test_wrap_around_worked_example_from_the_method_reference() -> None:
    # Pixels [10, 12] minus [11, 10]: (10 - 11) mod 256 = 255, (12 - 10) = 2 -> sqrt(255^2 + 4) =
    # 255.0078; the true L2 distance is sqrt(1 + 4) = 2.236.
    frames = {0: np.array([[10, 12]], dtype=np.uint8), 1: np.array([[11, 10]], dtype=np.uint8)}
    assert WrappedPixelDistance(frames)([0], [1], minuend="rows")[0, 0] == pytest.approx(np.sqrt(255**2 + 4))
    assert PixelDistance(frames)([0], [1], minuend="rows")[0, 0] == pytest.approx(np.sqrt(5))


def test_wrap_around_subtracts_from_the_side_it_is_told() -> None:
    # Frame 0 is 10, frame 1 is 11 (rows earlier, columns later): 10 - 11 wraps to 255, 11 - 10 is 1.
    frames = {0: np.full((2, 2, 3), 10, np.uint8), 1: np.full((2, 2, 3), 11, np.uint8)}
    distance = WrappedPixelDistance(frames)
    assert distance([0], [1], minuend="rows")[0, 0] == pytest.approx(255 * np.sqrt(12))
    assert distance([0], [1], minuend="columns")[0, 0] == pytest.approx(np.sqrt(12))
    # The earlier frame as minuend (GAMDSS's stage 2: apex - offset) whichever side it sits on.
    assert distance([1], [0], minuend="columns")[0, 0] == pytest.approx(255 * np.sqrt(12))
    with pytest.raises(ValueError, match="minuend"):
        distance([0], [1], minuend="later")  # type: ignore[arg-type]


def test_float_distance_ignores_the_minuend() -> None:
    rng = np.random.default_rng(4)
    frames = dict(enumerate(rng.integers(0, 256, size=(3, 5, 5, 3), dtype=np.uint8)))
    distance = PixelDistance(frames)
    assert np.array_equal(distance([0, 1], [2], minuend="rows"), distance([0, 1], [2], minuend="columns"))


@pytest.mark.parametrize("shape", [(7, 5, 3), (128, 128, 3), (1, 300, 3), (300, 1, 3)])
def test_pixel_distances_equal_numpy_bit_for_bit(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    frames = dict(enumerate(rng.integers(0, 256, size=(4, *shape), dtype=np.uint8)))
    rows, columns = [0, 1], [2, 3, 0]
    wide = {p: f.astype(np.float64) for p, f in frames.items()}
    expected = np.array([[np.linalg.norm(wide[r] - wide[c]) for c in columns] for r in rows])
    assert np.array_equal(PixelDistance(frames)(rows, columns, minuend="rows"), expected)
    wrapped = np.array([[np.linalg.norm(frames[r] - frames[c]) for c in columns] for r in rows])
    assert np.array_equal(WrappedPixelDistance(frames)(rows, columns, minuend="rows"), wrapped)
    wrapped_back = np.array([[np.linalg.norm(frames[c] - frames[r]) for c in columns] for r in rows])
    assert np.array_equal(WrappedPixelDistance(frames)(rows, columns, minuend="columns"), wrapped_back)


def test_float_frames_use_the_gram_trick() -> None:
    rng = np.random.default_rng(1)
    frames = dict(enumerate(rng.normal(size=(3, 6, 6, 3))))
    expected = np.linalg.norm(frames[0] - frames[2])
    assert PixelDistance(frames)([0], [2], minuend="rows")[0, 0] == pytest.approx(expected)


def test_flow_distance_is_zero_on_a_still_pair_and_memoised() -> None:
    rng = np.random.default_rng(2)
    still = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
    distance = FlowDistance({0: still, 1: still.copy()})
    assert distance([0], [1], minuend="rows")[0, 0] < 0.05  # Farneback leaves a few thousandths
    distance([0], [1], minuend="columns")
    assert len(distance._pairs) == 1


def test_make_distance_refuses_unknown_names_and_flow_wrap() -> None:
    with pytest.raises(ValueError, match="unknown distance"):
        make_distance("sound", {})
    with pytest.raises(ValueError, match="pixel differences only"):
        make_distance("flow", {}, wrap_uint8=True)
