"""Face detection on one frame: OpenCV's bundled frontal-face Haar cascade on the plain grayscale
frame, then, only where that finds nothing, on the frame after CLAHE (local contrast equalisation).

Chosen by measured detection rate on the first frame of every clip of every synthetic twin at scale
1, over every identity and skin tone, against other cascades and preparations, dlib's HOG detector
and MediaPipe's (``benchmarks/face_detection_rates.py``; cost per frame in
``benchmarks/test_face_detector_speed.py``). No global histogram equalisation: the cascade already
normalises each window by its own standard deviation, and ``cv2.equalizeHist`` over a frame that is
mostly plain background spends the grey levels on the background and squeezes a dark face into a
few; after it Haar missed every clip of the darkest twin identities (170 of the 1,343 clips of the
four twins that need cropping). The plain frame misses only the very darkest faces (skin lightness
0.01 of 0..1, in other twin seeds), which the CLAHE second look finds.

A cascade object is not safe to share between threads: each thread loads its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from mer_bench.errors import DataError

Detection = tuple[int, int, int, int]  # x, y, width, height in image pixels
Preparation = Literal["plain", "equalise", "clahe"]


@dataclass(frozen=True)
class HaarDetector:
    """An OpenCV Haar cascade from ``cv2.data.haarcascades``, run on the grayscale frame prepared
    each way of ``preparations`` in turn until one finds a face."""

    cascade: str = "haarcascade_frontalface_default.xml"
    preparations: tuple[Preparation, ...] = ("plain", "clahe")
    scale_factor: float = 1.1
    min_neighbors: int = 5

    @property
    def name(self) -> str:
        stem = self.cascade.removeprefix("haarcascade_").removesuffix(".xml").replace("_", "-")
        return f"opencv-haar-{stem}:" + "-then-".join(self.preparations)

    def identity(self) -> dict[str, object]:
        """Everything that decides the boxes: part of every cache key built on them. Cascade
        files and the detector's code change between OpenCV releases, so the version is in it."""
        return {"name": self.name, "cascade": self.cascade, "preparations": list(self.preparations),
                "scale_factor": self.scale_factor, "min_neighbors": self.min_neighbors,
                "opencv": cv2.__version__}

    def detect(self, gray: np.ndarray, min_side: int) -> list[Detection]:
        """Faces of at least ``min_side`` pixels in the uint8 grayscale image ``gray``."""
        for preparation in self.preparations:
            found = self._classifier().detectMultiScale(
                _prepare(gray, preparation), scaleFactor=self.scale_factor,
                minNeighbors=self.min_neighbors, minSize=(min_side, min_side))
            if len(found):
                return [tuple(int(v) for v in d) for d in np.asarray(found).reshape(-1, 4)]
        return []

    def _classifier(self) -> cv2.CascadeClassifier:
        loaded = getattr(_local, "cascades", None)
        if loaded is None:
            loaded = _local.cascades = {}
        classifier = loaded.get(self.cascade)
        if classifier is None:
            classifier = cv2.CascadeClassifier(cv2.data.haarcascades + self.cascade)
            if classifier.empty():
                raise DataError(
                    f"{cv2.data.haarcascades}{self.cascade}: OpenCV's Haar cascade is missing; install "
                    "opencv-contrib-python-headless 4.x (the 5.0 wheels ship no cascades)")
            loaded[self.cascade] = classifier
        return classifier


def _prepare(gray: np.ndarray, preparation: Preparation) -> np.ndarray:
    if preparation == "equalise":
        return cv2.equalizeHist(gray)
    if preparation == "clahe":
        return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    return gray


_local = threading.local()

DEFAULT_DETECTOR = HaarDetector()
# Haar's own window is 24 px: smaller faces cannot be found at all.
SMALLEST_FACE = 24


def detect_faces(frame: np.ndarray, *, max_side: int = 640, min_fraction: float = 0.1,
                 detector: HaarDetector = DEFAULT_DETECTOR) -> list[Detection]:
    """Faces (x, y, width, height, in pixels of ``frame``) in a uint8 BGR or grayscale frame.

    The frame is shrunk so that its longer side is at most ``max_side`` (SAMM's 2040 x 1088 frames
    cost ~0.15 s at full size and give nothing more); faces smaller than ``min_fraction`` of the
    shrunk frame's shorter side are ignored.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    height, width = gray.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    smallest = max(SMALLEST_FACE, round(min_fraction * min(gray.shape)))
    if min(gray.shape) < smallest:
        return []
    return [tuple(round(v / scale) for v in d) for d in detector.detect(gray, smallest)]
