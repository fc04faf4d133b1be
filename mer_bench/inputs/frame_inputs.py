"""Cached model inputs built from explicit frame numbers: normalised RGB frames, frame differences, flow.

Which frames a branch reads is decided in ``representations``; this module turns a sample and frame
numbers into arrays, applying the clip's face crop where its dataset asks for one (see ``face_crop``).

Frames follow the GAMDSS transform (gamdss-method.md, section 2): BGR -> RGB, resize to size x size
(no aspect preservation, as torchvision's ``Resize((s, s))``), /255, ImageNet mean / std per RGB
channel. The resize is OpenCV's: area averaging when shrinking (close to PIL's antialiased
bilinear) and bilinear when enlarging, on the uint8 image as PIL resizes it. A frame difference is
the difference of two normalised frames, so it is in units of ImageNet standard deviations.

Every array is cached under a key holding: the input name, the sample id, the frame numbers used,
the identity (path, size, mtime) of each frame file read, the build parameters, and the face crop
(None, or the detector's identity, the crop settings, the box and how it was found).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping

import cv2
import numpy as np

from mer_bench.data.sample import Sample
from mer_bench.errors import ConfigError
from mer_bench.inputs import face_crop
from mer_bench.inputs.files import file_identity, frame_path
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import FaceCrop
from mer_bench.inputs.flow import FlowInputSpec, flow_strain
from mer_bench.inputs.frames import read_frame

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB
IMAGENET_STD = (0.229, 0.224, 0.225)
# Named so that a change of the resize rule can be told apart in cache keys.
RESIZE_RULE = "opencv-area-shrink-linear-enlarge"

_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32)
_STD = np.array(IMAGENET_STD, dtype=np.float32)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to size x size; unchanged if it already is."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    interpolation = cv2.INTER_AREA if size <= min(height, width) else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def normalised_rgb(frame_bgr: np.ndarray, size: int) -> np.ndarray:
    """float32 (3, size, size): the frame as RGB, resized, scaled to 0..1, ImageNet-normalised."""
    rgb = resize_square(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB), size)
    normalised = (rgb.astype(np.float32) / np.float32(255) - _MEAN) / _STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def frame_input(sample: Sample, number: int, size: int, cache: InputCache | None) -> np.ndarray:
    """float32 (3, size, size): frame ``number`` of the clip, cropped if need be, normalised."""
    _check_size(size, 1)
    crop = face_crop.face_crop_for(sample, cache)
    paths = {"frame": frame_path(sample, number, "frame")}

    def build() -> np.ndarray:
        return normalised_rgb(_load(paths["frame"], crop), size)

    return _cached(cache, "frame", sample, {"frame": number}, paths, _frame_params(size), crop, build)


def frame_diff_input(sample: Sample, start: int, peak: int, size: int,
                     cache: InputCache | None) -> np.ndarray:
    """float32 (3, size, size): normalised frame ``peak`` minus normalised frame ``start``."""
    _check_size(size, 1)
    crop = face_crop.face_crop_for(sample, cache)
    paths = {"start": frame_path(sample, start, "start"), "peak": frame_path(sample, peak, "peak")}

    def build() -> np.ndarray:
        return (normalised_rgb(_load(paths["peak"], crop), size)
                - normalised_rgb(_load(paths["start"], crop), size))

    return _cached(cache, "frame-diff", sample, {"start": start, "peak": peak}, paths,
                   _frame_params(size), crop, build)


def flow_strain_input(sample: Sample, start: int, peak: int, spec: FlowInputSpec,
                      cache: InputCache | None) -> np.ndarray:
    """float32 (3, size, size): optical flow (u, v) and strain of start -> peak (see ``flow``)."""
    crop = face_crop.face_crop_for(sample, cache)
    paths = {"start": frame_path(sample, start, "start"), "peak": frame_path(sample, peak, "peak")}

    def build() -> np.ndarray:
        return flow_strain(_load(paths["start"], crop), _load(paths["peak"], crop),
                           size=spec.size, method=spec.method, working_size=spec.working_size)

    # Flow solvers change between OpenCV releases; a new release must not reuse old flows.
    params = {**asdict(spec), "opencv": cv2.__version__}
    return _cached(cache, "flow-strain", sample, {"start": start, "peak": peak}, paths, params, crop, build)


def _load(path: Path, crop: FaceCrop | None) -> np.ndarray:
    frame = read_frame(path)
    return frame if crop is None else crop.apply(frame, path)


def _frame_params(size: int) -> dict[str, object]:
    return {"size": size, "colour": "rgb", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
            "resize": RESIZE_RULE}


def _check_size(size: int, smallest: int) -> None:
    if size < smallest:
        raise ConfigError(f"input size {size} is too small; use at least {smallest}")


def _cached(cache: InputCache | None, name: str, sample: Sample, frames: Mapping[str, int],
            paths: Mapping[str, Path], params: Mapping[str, object], crop: FaceCrop | None,
            build: Callable[[], np.ndarray]) -> np.ndarray:
    if cache is None:
        return build()
    key = {
        "input": name,
        "sample_id": sample.sample_id,
        "frames": dict(frames),
        "files": {role: file_identity(path) for role, path in paths.items()},
        "params": dict(params),
        "crop": None if crop is None else crop.key(),
    }
    return cache.get_or_build(key, build)
