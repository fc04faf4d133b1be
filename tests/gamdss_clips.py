"""Tiny hand-made clips for reselection tests: flat grey frames whose values make answers obvious."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mer_bench.data.sample import KeyFrames, Sample

# 8 x 8 x 3 frames of one grey value: the pixel L2 distance of two frames is |p - q| * sqrt(192),
# so the argmax of a distance is the argmax of |p - q| (and, on uint8 wrap-around,
# of (p - q) mod 256).
FRAME_SIDE = 8


def flat_frame(value: int, side: int = FRAME_SIDE) -> np.ndarray:
    return np.full((side, side, 3), value, dtype=np.uint8)


def write_frames(folder: Path, frames: dict[int, np.ndarray], numbers: list[int]) -> tuple[Path, ...]:
    """Write frames named by frame number (lossless PNG); positions without a frame are corrupt."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, number in enumerate(numbers):
        path = folder / f"img{number}.png"
        if position in frames:
            cv2.imwrite(str(path), frames[position])
        else:
            path.write_bytes(b"not an image")
        paths.append(path)
    return tuple(paths)


def grey_clip(folder: Path, values: dict[int, int], length: int, keyframes: KeyFrames,
              *, first: int = 1, fill: int | None = None, dataset: str = "twin") -> Sample:
    """A clip of ``length`` flat frames numbered from ``first``; ``values`` by position.

    Positions missing from ``values`` are corrupt files, or grey ``fill`` when given.
    """
    frames = {p: flat_frame(v) for p, v in values.items()}
    if fill is not None:
        frames = {p: frames.get(p, flat_frame(fill)) for p in range(length)}
    numbers = list(range(first, first + length))
    return make_sample(write_frames(folder, frames, numbers), tuple(numbers), keyframes,
                       dataset=dataset)


def make_sample(paths: tuple[Path, ...], numbers: tuple[int, ...], keyframes: KeyFrames,
                *, dataset: str = "twin") -> Sample:
    """A sample of ``dataset`` ("twin", unknown to the registry, fills a missing apex with the
    midpoint; "smic-hs" with the apex finder)."""
    return Sample(dataset=dataset, subject="s01", clip=paths[0].parent.name if paths else "clip",
                  frame_paths=paths, frame_numbers=numbers, fps=200.0, annotated=keyframes,
                  emotion="happiness")
