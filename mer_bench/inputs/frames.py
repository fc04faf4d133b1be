"""Frame loading: dataset image files -> uint8 BGR arrays, with one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from mer_bench.errors import DataError


def read_frame(path: Path) -> np.ndarray:
    """One frame as a uint8 H x W x 3 BGR array (OpenCV's channel order, as the datasets' tools use)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: frame file is missing; check the data root or re-extract the dataset")
    # imread returns None instead of raising on an unreadable or truncated file.
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(
            f"{path}: frame file cannot be decoded as an image; replace it with the dataset's original"
        )
    return image


def read_frames(paths: Sequence[Path]) -> np.ndarray:
    """Several frames of one clip as a uint8 T x H x W x 3 array; every frame must share one size."""
    if not paths:
        raise ValueError("read_frames needs at least one path")
    first = read_frame(paths[0])
    frames = np.empty((len(paths), *first.shape), dtype=np.uint8)
    frames[0] = first
    for position, path in enumerate(paths[1:], start=1):
        frame = read_frame(path)
        if frame.shape != first.shape:
            raise DataError(
                f"{path}: frame is {frame.shape[1]}x{frame.shape[0]} but {paths[0]} is "
                f"{first.shape[1]}x{first.shape[0]}; every frame of a clip must share one size, "
                "re-crop the clip"
            )
        frames[position] = frame
    return frames
