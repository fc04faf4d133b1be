"""Distances between the decoded frames of one clip: the interface key-frame searches share, and pixel L2.

A distance is built once per clip over that clip's decoded frames (a mapping from clip position to a
frame) and answers ``distance(rows, columns, minuend=...)`` with a ``len(rows) x len(columns)``
float64 matrix. ``rows`` are the earlier frames of each pair and ``columns`` the later ones (optical
flow runs from earlier to later); ``minuend`` says which side is subtracted from, which matters only
to a difference that is not symmetric, such as GAMDSS's uint8 wrap-around (``gamdss.distances``).

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

from typing import Literal, Mapping, Protocol, Sequence

import cv2
import numpy as np

Frames = Mapping[int, np.ndarray]
Minuend = Literal["rows", "columns"]


class PairDistance(Protocol):
    def __call__(self, rows: Sequence[int], columns: Sequence[int], *,
                 minuend: Minuend) -> np.ndarray:
        """Distances of every (row, column) pair of clip positions; see the module docstring."""


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
    """||I_r - I_c||_2 over all pixels and channels, in floating point (no wrap-around): symmetric,
    so ``minuend`` changes nothing."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames
        self._gram: tuple[dict[int, int], np.ndarray] | None = None

    def __call__(self, rows: Sequence[int], columns: Sequence[int], *,
                 minuend: Minuend) -> np.ndarray:
        frames = self.frames
        # A clip's frames share one dtype (read_frames decodes uint8); the first one tells.
        if frames[rows[0]].dtype == np.uint8:
            norm, l2 = cv2.norm, cv2.NORM_L2
            flat = flat_views(frames, rows, columns)
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


def flat_views(frames: Frames, rows: Sequence[int], columns: Sequence[int]) -> dict[int, np.ndarray]:
    """Height x (width * channels) single-channel views of the frames of ``rows`` and ``columns``.

    OpenCV's call overhead is ~25% lower on them than on 3-channel images, and the sum is the same.
    """
    return {p: frames[p].reshape(frames[p].shape[0], -1) for p in {*rows, *columns}}
