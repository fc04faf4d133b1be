"""Frame distances for keyframe reselection: pixel L2, the reference's uint8 wrap-around L2, flow magnitude.

The interface (``distance(rows, columns, minuend=...)``, rows the earlier frames) and the exact pixel
L2 are the core's (`mer_bench.frame_distance`), which the core's apex finder uses too; this module
adds the two distances only reselection needs.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import cv2
import numpy as np

from mer_bench.frame_distance import (Frames, Minuend, PairDistance, PixelDistance, flat_views,
                                      frame_gram, sq_distances)
from mer_bench.inputs.flow import DEFAULT_METHOD, DEFAULT_WORKING_SIZE, FlowMethod, dense_flow

__all__ = ["DISTANCE_NAMES", "FlowDistance", "PairDistance", "PixelDistance", "WrappedPixelDistance",
           "frame_gram", "make_distance", "sq_distances"]

DistanceName = Literal["pixel", "flow"]
DISTANCE_NAMES: tuple[str, ...] = ("pixel", "flow")


class WrappedPixelDistance:
    """||(minuend - subtrahend) mod 256||_2: the reference code's subtraction of uint8 arrays.

    numpy's uint8 subtraction wraps exactly as the reference's does (10 - 11 = 255), and the norm
    of the wrapped uint8 result is an exact integer sum, as numpy's float64 norm of it is. The
    wrap makes the order matter, (x - y) mod 256 = 256 - (y - x) mod 256 where x != y, and the
    reference subtracts the apex side in both stages: stage 1 takes apex - onset (the apex is the
    later frame, ``minuend="columns"``), stage 2 apex - offset (the apex is the earlier frame,
    ``minuend="rows"``).
    """

    def __init__(self, frames: Frames) -> None:
        self.frames = frames

    def __call__(self, rows: Sequence[int], columns: Sequence[int], *,
                 minuend: Minuend) -> np.ndarray:
        if minuend not in ("rows", "columns"):
            raise ValueError(f"minuend must be 'rows' or 'columns', got {minuend!r}")
        frames = self.frames
        for p in (*rows, *columns):
            if frames[p].dtype != np.uint8:
                raise ValueError(f"the wrap-around distance needs uint8 frames, got {frames[p].dtype}")
        flat = flat_views(frames, rows, columns)
        # One scratch frame for every difference: no allocation per pair.
        wrapped = np.empty_like(flat[rows[0]])
        rows_first = minuend == "rows"

        def pair(r: int, c: int) -> float:
            first, second = (flat[r], flat[c]) if rows_first else (flat[c], flat[r])
            return cv2.norm(np.subtract(first, second, out=wrapped), cv2.NORM_L2)

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

    def __call__(self, rows: Sequence[int], columns: Sequence[int], *,
                 minuend: Minuend) -> np.ndarray:
        # Flow runs from the earlier frame (rows) to the later one whichever side is the minuend.
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


def _pairwise(rows: Sequence[int], columns: Sequence[int],
              pair: Callable[[int, int], float]) -> np.ndarray:
    result = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            result[i, j] = pair(r, c)
    return result
