"""Face crop for datasets shipped without crops: one Haar-cascade face box per clip, reused on every frame.

Rules (a dataset opts in with ``DatasetSpec.face_crop = True``; datasets unknown to the registry
are never cropped):

- The face is detected once per clip, on its first frame (the lowest frame number: the clip's
  onset end, before any motion, and the same whatever keyframe strategy is in use), with OpenCV's
  bundled ``haarcascade_frontalface_default.xml`` on the histogram-equalised grayscale frame,
  shrunk so that its longer side is at most ``max_detect_side`` pixels (SAMM frames are
  2040 x 1088; detection at full size costs ~0.15 s and finds nothing more).
- The largest detection wins (by area; ties go to the topmost, then leftmost, for determinism).
- The box is grown by ``margin`` (default 0.15) of its side on every side, so 1.3 x the detected
  side: Haar boxes run from the brows to just under the mouth and the margin brings back the chin
  and lower forehead. It is made square around the detection's centre, then clamped to the image:
  shifted inward to lie inside it, and shrunk to the image's shorter side only if it is larger.
- That same box crops every frame of the clip, so crops never jitter between key frames.
- No face found: the centred square of the whole frame (side = the shorter side) is used instead,
  ``FaceCrop.fallback`` is True, a warning is logged once per sample, and the sample id is added to
  a module-level set that ``fallback_samples()`` / ``fallback_count()`` read (``reset_fallbacks()``
  empties it). The set counts each sample once however often its box is looked up, including
  boxes read back from the on-disk cache; it is per process, so executors running samples in
  other processes must report the ``fallback`` flag themselves.

``cv2.CascadeClassifier`` is not safe to share between threads: each thread loads its own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from mer_bench.data.sample import Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.errors import DataError, UnknownNameError
from mer_bench.inputs.files import file_identity
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.frames import read_frame
from mer_bench.registry import Registry

log = logging.getLogger(__name__)

DETECTOR = "haar-frontalface-default"
CASCADE_FILE = "haarcascade_frontalface_default.xml"
Detection = tuple[int, int, int, int]  # x, y, width, height in image pixels


@dataclass(frozen=True)
class FaceCropSpec:
    """How the box is found: margin per side (fraction of the detected side), detection resolution,
    smallest face accepted (fraction of the detection image's shorter side)."""

    margin: float = 0.15
    max_detect_side: int = 640
    min_face_fraction: float = 0.1


DEFAULT_SPEC = FaceCropSpec()


@dataclass(frozen=True)
class FaceBox:
    """A square region: top-left corner (x, y) and side, in pixels of the full frame."""

    x: int
    y: int
    side: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.side]


@dataclass(frozen=True)
class FaceCrop:
    """The box of one clip, the frame shape it was found on, whether it is the no-face fallback,
    and the settings it was found with."""

    box: FaceBox
    image_shape: tuple[int, int]  # height, width
    fallback: bool
    spec: FaceCropSpec = DEFAULT_SPEC

    def apply(self, frame: np.ndarray, where: object = "frame") -> np.ndarray:
        """The box's pixels of ``frame``; a DataError if the frame's size differs from the clip's first."""
        if frame.shape[:2] != self.image_shape:
            height, width = self.image_shape
            raise DataError(
                f"{where}: frame is {frame.shape[1]}x{frame.shape[0]} but the clip's first frame is "
                f"{width}x{height}; every frame of a clip must share one size, re-extract the clip"
            )
        box = self.box
        return frame[box.y : box.y + box.side, box.x : box.x + box.side]

    def key(self) -> dict[str, object]:
        """What the cache key of an input built from this crop holds."""
        return {"detector": DETECTOR, **asdict(self.spec), "box": self.box.as_list(), "fallback": self.fallback}


# ---- box geometry (pure) -------------------------------------------------------------------------


def largest_detection(detections: Sequence[Detection]) -> Detection | None:
    """The detection with the largest area; ties go to the topmost, then leftmost. None if empty."""
    if len(detections) == 0:
        return None
    return min((tuple(int(v) for v in d) for d in detections), key=lambda d: (-d[2] * d[3], d[1], d[0]))


def square_box(detection: Detection, image_shape: tuple[int, int], margin: float) -> FaceBox:
    """``detection`` grown by ``margin`` x its side on each side, made square, clamped into the image."""
    x, y, width, height = detection
    image_height, image_width = image_shape[:2]
    side = round(max(width, height) * (1 + 2 * margin))
    side = max(1, min(side, image_height, image_width))
    centre_x, centre_y = x + width / 2, y + height / 2
    left = min(max(round(centre_x - side / 2), 0), image_width - side)
    top = min(max(round(centre_y - side / 2), 0), image_height - side)
    return FaceBox(int(left), int(top), int(side))


def centred_square(image_shape: tuple[int, int]) -> FaceBox:
    """The largest square centred in the image: the no-face fallback."""
    height, width = image_shape[:2]
    side = min(height, width)
    return FaceBox((width - side) // 2, (height - side) // 2, side)


# ---- detection ---------------------------------------------------------------------------------

_local = threading.local()


def _classifier() -> cv2.CascadeClassifier:
    classifier = getattr(_local, "classifier", None)
    if classifier is None:
        classifier = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)
        if classifier.empty():
            raise DataError(
                f"{cv2.data.haarcascades}{CASCADE_FILE}: OpenCV's Haar cascade is missing; install "
                "opencv-contrib-python-headless 4.x (the 5.0 wheels ship no cascades)"
            )
        _local.classifier = classifier
    return classifier


def detect_faces(frame: np.ndarray, spec: FaceCropSpec = DEFAULT_SPEC) -> list[Detection]:
    """Haar detections (x, y, width, height) in pixels of ``frame`` (uint8 BGR or grayscale)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    height, width = gray.shape
    scale = min(1.0, spec.max_detect_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    # 24 px is the cascade's own window; smaller faces cannot be found at all.
    smallest = max(24, round(spec.min_face_fraction * min(gray.shape)))
    if min(gray.shape) < smallest:
        return []
    found = _classifier().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
    return [tuple(round(v / scale) for v in d) for d in np.asarray(found).reshape(-1, 4).tolist()]


def locate_face(frame: np.ndarray, spec: FaceCropSpec = DEFAULT_SPEC) -> FaceCrop:
    """The crop for a clip whose first frame is ``frame``: largest face with margin, or the fallback."""
    shape = (int(frame.shape[0]), int(frame.shape[1]))
    detection = largest_detection(detect_faces(frame, spec))
    if detection is None:
        return FaceCrop(centred_square(shape), shape, fallback=True, spec=spec)
    return FaceCrop(square_box(detection, shape, spec.margin), shape, fallback=False, spec=spec)


# ---- per clip, cached --------------------------------------------------------------------------

_lock = threading.Lock()
_memory: dict[tuple[object, ...], FaceCrop] = {}
_fallbacks: set[str] = set()


def clip_face_crop(sample: Sample, cache: InputCache | None = None,
                   spec: FaceCropSpec = DEFAULT_SPEC) -> FaceCrop:
    """The face crop of ``sample``'s clip, found on its first frame; cached in memory and in ``cache``."""
    if not sample.frame_paths:
        raise DataError(f"{sample.sample_id}: the clip has no frames; restore its frame files")
    first = sample.frame_paths[0]
    identity = file_identity(first)
    memory_key = (sample.sample_id, identity["path"], identity["bytes"], identity["mtime_ns"], spec)
    with _lock:
        crop = _memory.get(memory_key)
    if crop is None:
        crop = _disk_cached(sample, identity, spec, cache, lambda: locate_face(read_frame(first), spec))
        with _lock:
            _memory[memory_key] = crop
    if crop.fallback:
        _record_fallback(sample.sample_id, first)
    return crop


def _disk_cached(sample: Sample, identity: dict[str, object], spec: FaceCropSpec,
                 cache: InputCache | None, locate: Callable[[], FaceCrop]) -> FaceCrop:
    if cache is None:
        return locate()
    key = {
        "input": "face_box",
        "sample_id": sample.sample_id,
        "frame": sample.frame_numbers[0],
        "file": identity,
        "detector": DETECTOR,
        "spec": asdict(spec),
        # Cascade files and the detector change between OpenCV releases.
        "opencv": cv2.__version__,
    }

    def build() -> np.ndarray:
        crop = locate()
        return np.array([*crop.box.as_list(), *crop.image_shape, int(crop.fallback)], dtype=np.int64)

    x, y, side, height, width, fallback = (int(v) for v in cache.get_or_build(key, build))
    return FaceCrop(FaceBox(x, y, side), (height, width), bool(fallback), spec)


def _record_fallback(sample_id: str, first_frame: object) -> None:
    with _lock:
        new = sample_id not in _fallbacks
        _fallbacks.add(sample_id)
    if new:
        log.warning("%s: no face found on %s; using the centred square of the frame", sample_id, first_frame)


def fallback_samples() -> tuple[str, ...]:
    """Sample ids (sorted) whose clip fell back to the centred square, in this process."""
    with _lock:
        return tuple(sorted(_fallbacks))


def fallback_count() -> int:
    """How many samples fell back to the centred square, in this process."""
    with _lock:
        return len(_fallbacks)


def reset_fallbacks() -> None:
    """Forget the recorded fallbacks (e.g. between reports); cached boxes are kept."""
    with _lock:
        _fallbacks.clear()


# ---- which datasets ----------------------------------------------------------------------------


def dataset_wants_crop(dataset: str, registry: Registry[DatasetSpec] | None = None) -> bool:
    """``face_crop`` of the dataset's spec; False for a dataset the registry does not know."""
    registry = DATASETS if registry is None else registry
    try:
        return bool(registry.get(dataset).face_crop)
    except UnknownNameError:
        return False


def face_crop_for(sample: Sample, cache: InputCache | None,
                  spec: FaceCropSpec = DEFAULT_SPEC) -> FaceCrop | None:
    """The crop to apply to ``sample``'s frames, or None when its dataset ships cropped faces."""
    if not dataset_wants_crop(sample.dataset):
        return None
    return clip_face_crop(sample, cache, spec)
