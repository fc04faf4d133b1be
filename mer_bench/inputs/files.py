"""Frame files of a sample: the path of a frame number, and a file's identity for cache keys."""

from __future__ import annotations

import os
from pathlib import Path

from mer_bench.data.sample import Sample
from mer_bench.errors import DataError


def frame_position(sample: Sample, frame_number: int, role: str) -> int:
    """Index of ``frame_number`` in the clip; a DataError naming the clip folder if it lacks it."""
    try:
        return sample.index_of(frame_number)
    except ValueError:
        folder = sample.frame_paths[0].parent if sample.frame_paths else sample.clip
        raise DataError(
            f"{folder}: {sample.sample_id} has no frame {frame_number} (its {role}); "
            "fix the annotation or restore the missing frame file"
        ) from None


def frame_path(sample: Sample, frame_number: int, role: str) -> Path:
    """Path of the clip's frame ``frame_number``; a DataError if the clip has no such frame."""
    return sample.frame_paths[frame_position(sample, frame_number, role)]


def file_identity(path: Path) -> dict[str, object]:
    """Path, size and modification time: a re-extracted or edited dataset invalidates cache
    entries without hashing every frame's content on every run."""
    try:
        status = os.stat(path)
    except OSError:
        raise DataError(f"{path}: frame file is missing; check the data root or re-extract the dataset") from None
    return {"path": os.path.abspath(path), "bytes": status.st_size, "mtime_ns": status.st_mtime_ns}
