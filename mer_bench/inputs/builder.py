"""Input builder: a sample and its chosen key frames -> the cached flow + strain tensor a model reads."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import ConfigError, DataError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.flow import (
    DEFAULT_METHOD,
    DEFAULT_SIZE,
    DEFAULT_WORKING_SIZE,
    FLOW_METHODS,
    FlowMethod,
    flow_strain,
)
from mer_bench.inputs.frames import read_frame
from mer_bench.keyframes import with_apex


@dataclass(frozen=True)
class FlowInputSpec:
    """How the onset -> apex flow input is built: output side, flow method, working resolution."""

    size: int = DEFAULT_SIZE
    method: FlowMethod = DEFAULT_METHOD
    working_size: int | None = DEFAULT_WORKING_SIZE

    def __post_init__(self) -> None:
        if self.method not in FLOW_METHODS:
            raise ConfigError(f"flow method {self.method!r} is unknown; use one of {', '.join(FLOW_METHODS)}")
        if self.size < 3:
            raise ConfigError(f"flow input size {self.size} is too small; use at least 3 (strain needs neighbours)")
        if self.working_size is not None and self.working_size < 8:
            raise ConfigError(f"flow working size {self.working_size} is too small; use at least 8 or None (native)")


def build_flow_input(
    sample: Sample, keyframes: KeyFrames, spec: FlowInputSpec, cache: InputCache | None
) -> np.ndarray:
    """float32 3 x size x size (u, v, strain) of onset -> apex; a missing apex is the onset..offset midpoint."""
    keyframes = with_apex(keyframes)
    assert keyframes.apex is not None
    onset_path = frame_path(sample, keyframes.onset, "onset")
    apex_path = frame_path(sample, keyframes.apex, "apex")

    def build() -> np.ndarray:
        return flow_strain(
            read_frame(onset_path),
            read_frame(apex_path),
            size=spec.size,
            method=spec.method,
            working_size=spec.working_size,
        )

    if cache is None:
        return build()
    key = {
        "input": "flow_strain",
        "sample_id": sample.sample_id,
        "onset": keyframes.onset,
        "apex": keyframes.apex,
        "onset_file": _file_identity(onset_path),
        "apex_file": _file_identity(apex_path),
        "spec": asdict(spec),
        # Flow solvers change between OpenCV releases; a new release must not reuse old flows.
        "opencv": cv2.__version__,
    }
    return cache.get_or_build(key, build)


def frame_path(sample: Sample, frame_number: int, role: str) -> Path:
    """Path of the clip's frame ``frame_number``; a DataError if the clip has no such frame."""
    try:
        return sample.path_of(frame_number)
    except ValueError:
        folder = sample.frame_paths[0].parent if sample.frame_paths else sample.clip
        raise DataError(
            f"{folder}: {sample.sample_id} has no frame {frame_number} (its {role}); "
            "fix the annotation or restore the missing frame file"
        ) from None


def _file_identity(path: Path) -> dict[str, object]:
    # Size and modification time: a re-extracted or edited dataset invalidates its entries without
    # hashing every frame's content on every run.
    try:
        status = os.stat(path)
    except OSError:
        raise DataError(f"{path}: frame file is missing; check the data root or re-extract the dataset") from None
    return {"path": os.path.abspath(path), "bytes": status.st_size, "mtime_ns": status.st_mtime_ns}
