"""Frame distances for keyframe reselection: pixel L2, the reference's uint8 wrap-around L2, flow magnitude.

Each distance is built once per clip over that clip's decoded frames (a mapping from clip position
to a frame) and answers ``distance(rows, columns)`` with a ``len(rows) x len(columns)`` float64
matrix; ``rows`` are the earlier frames of each pair, ``columns`` the later ones (only optical flow
cares about the order).

Pixel L2 on uint8 frames is OpenCV's ``norm(NORM_L2)`` per needed pair: it sums the integer squares
in integer blocks and returns the square root of that exact sum, i.e. bit for bit what numpy's
float64 ``linalg.norm`` gives, so equal sums give equal distances and ties stay exact. It reads the
two frames once, in SIMD, with no float copy: on 128 x 128 x 3 frames about 7x faster than the Gram
trick (one float64 matrix product over all window frames), whose float64 conversion alone costs more
than the pairs (see benchmarks/test_reselection_speed.py). Other dtypes (float test frames) use the
Gram trick. (``NORM_L2SQR`` is not used: on some array shapes OpenCV derives it from the root and it
comes back one ulp off the integer.)
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping, Sequence

import cv2
import numpy as np

from mer_bench.inputs.flow import DEFAULT_METHOD, DEFAULT_WORKING_SIZE, FlowMethod, dense_flow

DistanceName = Literal["pixel", "flow"]
DISTANCE_NAMES: tuple[str, ...] = ("pixel", "flow")

Frames = Mapping[int, np.ndarray]
PairDistance = Callable[[Sequence[int], Sequence[int]], np.ndarray]


def frame_gram(frames: np.ndarray) -> np.ndarray:
    """n x n float64 matrix of dot products between the n frames, each flattened to one vector.

    One matrix product gives every pairwise distance (see `sq_distances`); on uint8 frames every
    entry is an integer below 2^53, so float64 holds it exactly.
    """
    frames = np.asarray(frames)
    vectors = np.ascontiguousarray(frames.reshape(len(frames), -1), dtype=np.float64)
    return vectors @ vectors.T


def sq_distances(gram: np.ndarray, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
    """Squared L2 distances ||x_r - x_c||^2 for r in rows, c in columns, from a `frame_gram` matrix.

    Gram trick ||x||^2 + ||y||^2 - 2 x.y, clamped at 0 because cancellation can leave tiny
    negatives for near-identical non-integer frames.
    """
    norms = np.diagonal(gram)
    rows_index, columns_index = np.asarray(rows), np.asarray(columns)
    distances = (
        norms[rows_index][:, None]
        + norms[columns_index][None, :]
        - 2.0 * gram[np.ix_(rows_index, columns_index)]
    )
    return np.maximum(distances, 0.0)


class PixelDistance:
    """||I_r - I_c||_2 over all pixels and channels, in floating point (no wrap-around)."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames
        self._gram: tuple[dict[int, int], np.ndarray] | None = None

    def __call__(self, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
        frames = self.frames
        # A clip's frames share one dtype (read_frames decodes uint8); the first one tells.
        if frames[rows[0]].dtype == np.uint8:
            norm, l2 = cv2.norm, cv2.NORM_L2
            flat = _flat_views(frames, rows, columns)
            values = [[norm(flat[r], flat[c], l2) for c in columns] for r in rows]
            return np.array(values, dtype=np.float64).reshape(len(rows), len(columns))
        row_of, gram = self._gram_matrix()
        return np.sqrt(sq_distances(gram, [row_of[p] for p in rows], [row_of[p] for p in columns]))

    def _gram_matrix(self) -> tuple[dict[int, int], np.ndarray]:
        if self._gram is None:
            positions = sorted(self.frames)
            self._gram = ({p: i for i, p in enumerate(positions)},
                          frame_gram(np.stack([self.frames[p] for p in positions])))
        return self._gram


class WrappedPixelDistance:
    """||(I_r - I_c) mod 256||_2: the reference code's subtraction of uint8 arrays, wrap-around included.

    numpy's uint8 subtraction wraps exactly as the reference's does (10 - 11 = 255), and the norm
    of the wrapped uint8 result is an exact integer sum, as numpy's float64 norm of it is.
    """

    def __init__(self, frames: Frames) -> None:
        self.frames = frames

    def __call__(self, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
        frames = self.frames
        for p in (*rows, *columns):
            if frames[p].dtype != np.uint8:
                raise ValueError(f"the wrap-around distance needs uint8 frames, got {frames[p].dtype}")
        flat = _flat_views(frames, rows, columns)
        # One scratch frame for every difference: no allocation per pair.
        wrapped = np.empty_like(flat[rows[0]])

        def pair(r: int, c: int) -> float:
            return cv2.norm(np.subtract(flat[r], flat[c], out=wrapped), cv2.NORM_L2)

        return _pairwise(rows, columns, pair)


class FlowDistance:
    """Mean optical-flow magnitude (pixels at the working size) from the earlier to the later frame.

    Flow has no Gram trick: each needed pair is computed once, on grayscale frames shrunk once to the
    working size (the flow input's conventions), and memoised for the clip.
    """

    def __init__(self, frames: Frames, *, method: FlowMethod = DEFAULT_METHOD,
                 working_size: int | None = DEFAULT_WORKING_SIZE) -> None:
        self.frames = frames
        self.method = method
        self.working_size = working_size
        self._gray: dict[int, np.ndarray] = {}
        self._pairs: dict[tuple[int, int], float] = {}

    def __call__(self, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
        return _pairwise(rows, columns, self._magnitude)

    def _magnitude(self, earlier: int, later: int) -> float:
        if earlier == later:
            return 0.0
        key = (earlier, later)
        if key not in self._pairs:
            flow = dense_flow(self._working(earlier), self._working(later), self.method)
            self._pairs[key] = float(np.mean(np.hypot(flow[..., 0], flow[..., 1])))
        return self._pairs[key]

    def _working(self, position: int) -> np.ndarray:
        if position not in self._gray:
            frame = self.frames[position]
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            if self.working_size is not None:
                height, width = gray.shape
                target = (min(width, self.working_size), min(height, self.working_size))
                if target != (width, height):
                    gray = cv2.resize(gray, target, interpolation=cv2.INTER_AREA)
            self._gray[position] = np.ascontiguousarray(gray)
        return self._gray[position]


def make_distance(name: str, frames: Frames, *, wrap_uint8: bool = False) -> PairDistance:
    """The distance called ``name`` over ``frames``; ``wrap_uint8`` selects the reference's pixel quirk."""
    if name == "pixel":
        return WrappedPixelDistance(frames) if wrap_uint8 else PixelDistance(frames)
    if name == "flow":
        if wrap_uint8:
            raise ValueError("the uint8 wrap-around applies to pixel differences only")
        return FlowDistance(frames)
    raise ValueError(f"unknown distance {name!r}; expected one of {DISTANCE_NAMES}")


def _flat_views(frames: Frames, rows: Sequence[int], columns: Sequence[int]) -> dict[int, np.ndarray]:
    # Height x (width * channels) single-channel views: OpenCV's call overhead is ~25% lower on
    # them than on 3-channel images, and the sum is the same.
    return {p: frames[p].reshape(frames[p].shape[0], -1) for p in {*rows, *columns}}


def _pairwise(rows: Sequence[int], columns: Sequence[int],
              pair: Callable[[int, int], float]) -> np.ndarray:
    result = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            result[i, j] = pair(r, c)
    return result
