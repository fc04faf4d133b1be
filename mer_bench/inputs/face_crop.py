"""Face crop for datasets shipped without crops: one face box per clip, reused on every frame.

Rules (a dataset opts in with ``DatasetSpec.face_crop = True``; datasets unknown to the registry
are never cropped):

- The face is looked for on the clip's first frame (the lowest frame number: before any motion,
  and the same whatever keyframe strategy is in use) with ``face_detect``'s detector; the largest
  detection wins (by area; ties go to the topmost, then leftmost, for determinism).
- No face there: the frames at a quarter, half, three quarters and the end of the clip are tried,
  in that order; the first with a face gives the box.
- No face on any of them: the box is borrowed from the same subject's other clips (the median
  centre and side of the boxes found on those of the same frame size): the camera and the subject
  hardly move within a recording session.
- Nothing to borrow: the sample is **excluded**, with a one-line reason. It is never cropped blind.
- The box is grown by ``margin`` (default 0.15) of its side on every side, so 1.3 x the detected
  side: Haar boxes run from the brows to just under the mouth and the margin brings back the chin
  and lower forehead. It is made square around the detection's centre, then clamped to the image:
  shifted inward to lie inside it, and shrunk to the image's shorter side only if it is larger.
- That same box crops every frame of the clip, so crops never jitter between key frames.

Borrowing needs the subject's other clips, so crops are resolved for a whole dataset at once
(``resolve_face_crops``): loading a dataset does it (``datasource.load_dataset``), and its clips
with no face become rows excluded on loading, like rows no erratum fixes. ``face_crop_for`` then hands out the resolved crop; a
sample whose dataset was never resolved in this process is resolved on its own (no borrowing).
Each clip's search is cached on disk under its frames' identities and the detector's identity, and
every input built from a crop carries the detector, box and how it was found in its cache key, so
a new detector or OpenCV release never reuses old crops.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Iterable, Literal, Mapping, NamedTuple, Sequence

import numpy as np

from mer_bench.data.loading import LoadedDataset
from mer_bench.data.sample import Excluded, Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.errors import DataError, UnknownNameError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_detect import DEFAULT_DETECTOR, Detection, HaarDetector, detect_faces
from mer_bench.inputs.files import file_identity
from mer_bench.inputs.frames import read_frame
from mer_bench.registry import Registry

log = logging.getLogger(__name__)

Found = Literal["first-frame", "other-frame", "subject"]
FOUND_KINDS: tuple[Found, ...] = ("first-frame", "other-frame", "subject")
# Bump when what a cached clip search means changes.
SEARCH_VERSION = 2


@dataclass(frozen=True)
class FaceCropSpec:
    """How the box is found: margin per side (fraction of the detected side), detection resolution,
    smallest face accepted (fraction of the detection image's shorter side), and where in the clip
    (fractions of its length) to look when its first frame shows no face."""

    margin: float = 0.15
    max_detect_side: int = 640
    min_face_fraction: float = 0.1
    retry_at: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


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
    """The box of one clip, the frame shape it applies to, how it was found, and with what."""

    box: FaceBox
    image_shape: tuple[int, int]  # height, width
    found: Found
    detector: HaarDetector = DEFAULT_DETECTOR
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
        return {"detector": self.detector.identity(), **asdict(self.spec), "box": self.box.as_list(),
                "found": self.found}


class Exclusion(NamedTuple):
    """A sample left out of every run, and the one-line reason."""

    sample_id: str
    reason: str

    def line(self) -> str:
        return f"{self.sample_id}: {self.reason}"


@dataclass(frozen=True)
class FaceCrops:
    """The crops of a set of samples (by sample id) and the samples excluded for want of a face."""

    crops: Mapping[str, FaceCrop]
    excluded: tuple[Exclusion, ...]

    def count(self, found: Found) -> int:
        return sum(crop.found == found for crop in self.crops.values())


# ---- box geometry (pure) -------------------------------------------------------------------------


def largest_detection(detections: Sequence[Detection]) -> Detection | None:
    """The detection with the largest area; ties go to the topmost, then leftmost. None if empty."""
    if len(detections) == 0:
        return None
    return min((tuple(int(v) for v in d) for d in detections), key=lambda d: (-d[2] * d[3], d[1], d[0]))


def square_box(detection: Detection, image_shape: tuple[int, int], margin: float) -> FaceBox:
    """``detection`` grown by ``margin`` x its side on each side, made square, clamped into the image."""
    x, y, width, height = detection
    side = round(max(width, height) * (1 + 2 * margin))
    return box_around(x + width / 2, y + height / 2, side, image_shape)


def box_around(centre_x: float, centre_y: float, side: int, image_shape: tuple[int, int]) -> FaceBox:
    """The square of ``side`` centred on (centre_x, centre_y), shifted and shrunk into the image."""
    image_height, image_width = image_shape[:2]
    side = max(1, min(int(side), image_height, image_width))
    left = min(max(round(centre_x - side / 2), 0), image_width - side)
    top = min(max(round(centre_y - side / 2), 0), image_height - side)
    return FaceBox(int(left), int(top), int(side))


def median_box(boxes: Sequence[FaceBox], image_shape: tuple[int, int]) -> FaceBox:
    """The box with the median centre and median side of ``boxes`` (deterministic, order-free)."""
    centres_x = [b.x + b.side / 2 for b in boxes]
    centres_y = [b.y + b.side / 2 for b in boxes]
    side = round(float(np.median([b.side for b in boxes])))
    return box_around(float(np.median(centres_x)), float(np.median(centres_y)), side, image_shape)


def locate_face(frame: np.ndarray, spec: FaceCropSpec = DEFAULT_SPEC,
                detector: HaarDetector = DEFAULT_DETECTOR) -> FaceBox | None:
    """The crop box of the largest face in ``frame`` (margin added), or None if there is none."""
    detection = largest_detection(detect_faces(frame, max_side=spec.max_detect_side,
                                               min_fraction=spec.min_face_fraction, detector=detector))
    return None if detection is None else square_box(detection, frame.shape[:2], spec.margin)


# ---- one clip: first frame, then a few more ----------------------------------------------------


@dataclass(frozen=True)
class ClipSearch:
    """What the detector found in one clip: the box and the frame number it was found on
    (None, None where no frame tried shows a face), the frames tried, the frame shape."""

    box: FaceBox | None
    frame: int | None
    tried: tuple[int, ...]
    image_shape: tuple[int, int]


def search_frames(sample: Sample, spec: FaceCropSpec = DEFAULT_SPEC) -> tuple[int, ...]:
    """Positions in the clip to look at, in order: the first frame, then ``spec.retry_at``."""
    last = len(sample.frame_paths) - 1
    positions = [0, *(round(fraction * last) for fraction in spec.retry_at)]
    return tuple(dict.fromkeys(positions))


def search_clip(sample: Sample, cache: InputCache | None = None, spec: FaceCropSpec = DEFAULT_SPEC,
                detector: HaarDetector = DEFAULT_DETECTOR) -> ClipSearch:
    """The clip's face box from the first of its search frames that shows a face; cached."""
    if not sample.frame_paths:
        raise DataError(f"{sample.sample_id}: the clip has no frames; restore its frame files")
    positions = search_frames(sample, spec)
    identities = [file_identity(sample.frame_paths[p]) for p in positions]
    memory_key = (sample.sample_id, tuple(tuple(i.values()) for i in identities), spec, detector)
    with _lock:
        found = _searches.get(memory_key)
    if found is None:
        found = _cached_search(sample, positions, identities, cache, spec, detector)
        with _lock:
            _searches[memory_key] = found
    return found


def _search(sample: Sample, positions: Sequence[int], spec: FaceCropSpec,
            detector: HaarDetector) -> ClipSearch:
    shape: tuple[int, int] | None = None
    for tried, position in enumerate(positions, start=1):
        frame = read_frame(sample.frame_paths[position])
        shape = shape or (int(frame.shape[0]), int(frame.shape[1]))
        box = locate_face(frame, spec, detector) if frame.shape[:2] == shape else None
        if box is not None:
            return ClipSearch(box, sample.frame_numbers[position],
                              tuple(sample.frame_numbers[p] for p in positions[:tried]), shape)
    assert shape is not None
    return ClipSearch(None, None, tuple(sample.frame_numbers[p] for p in positions), shape)


def _cached_search(sample: Sample, positions: Sequence[int], identities: Sequence[dict[str, object]],
                   cache: InputCache | None, spec: FaceCropSpec, detector: HaarDetector) -> ClipSearch:
    if cache is None:
        return _search(sample, positions, spec, detector)
    key = {
        "input": "face-search",
        "version": SEARCH_VERSION,
        "sample_id": sample.sample_id,
        "frames": {str(sample.frame_numbers[p]): identity for p, identity in zip(positions, identities)},
        "detector": detector.identity(),
        "spec": asdict(spec),
    }

    def build() -> np.ndarray:
        search = _search(sample, positions, spec, detector)
        box = search.box.as_list() if search.box else [0, 0, 0]
        where = -1 if search.frame is None else positions[search.tried.index(search.frame)]
        return np.array([where, *box, *search.image_shape], dtype=np.int64)

    where, x, y, side, height, width = (int(v) for v in cache.get_or_build(key, build))
    numbers = [sample.frame_numbers[p] for p in positions]
    if where < 0:
        return ClipSearch(None, None, tuple(numbers), (height, width))
    tried = numbers[: positions.index(where) + 1]
    return ClipSearch(FaceBox(x, y, side), sample.frame_numbers[where], tuple(tried), (height, width))


# ---- a dataset: borrow from the subject, or exclude ---------------------------------------------

_lock = threading.Lock()
_searches: dict[tuple[object, ...], ClipSearch] = {}
_resolved: dict[tuple[object, ...], FaceCrop | Exclusion] = {}
_warned: set[str] = set()


def resolve_face_crops(samples: Iterable[Sample], cache: InputCache | None = None,
                       spec: FaceCropSpec = DEFAULT_SPEC,
                       detector: HaarDetector = DEFAULT_DETECTOR) -> FaceCrops:
    """Crops of every sample of a cropping dataset among ``samples``, borrowing within each subject
    from the samples given (pass whole datasets, so that a box never depends on a protocol's
    selection); samples of other datasets are left out of the result."""
    wanted = [s for s in samples if dataset_wants_crop(s.dataset)]
    searches = {s.sample_id: search_clip(s, cache, spec, detector) for s in wanted}
    by_subject: dict[str, list[Sample]] = defaultdict(list)
    for sample in wanted:
        by_subject[sample.subject_key].append(sample)
    crops: dict[str, FaceCrop] = {}
    excluded: list[Exclusion] = []
    for sample in wanted:
        search = searches[sample.sample_id]
        outcome: FaceCrop | Exclusion
        if search.box is not None:
            found: Found = "first-frame" if search.frame == sample.frame_numbers[0] else "other-frame"
            outcome = FaceCrop(search.box, search.image_shape, found, detector, spec)
        else:
            others = [searches[o.sample_id] for o in by_subject[sample.subject_key] if o is not sample]
            outcome = _borrow(sample, search, others, detector, spec)
        if isinstance(outcome, Exclusion):
            excluded.append(outcome)
        else:
            crops[sample.sample_id] = outcome
        with _lock:
            _resolved[_resolved_key(sample, spec, detector)] = outcome
    for exclusion in excluded:
        _warn_once(exclusion)
    return FaceCrops(crops, tuple(excluded))


def _borrow(sample: Sample, search: ClipSearch, others: Sequence[ClipSearch], detector: HaarDetector,
            spec: FaceCropSpec) -> FaceCrop | Exclusion:
    boxes = [o.box for o in others if o.box is not None and o.image_shape == search.image_shape]
    if boxes:
        return FaceCrop(median_box(boxes, search.image_shape), search.image_shape, "subject", detector, spec)
    frames = ", ".join(str(n) for n in search.tried)
    where = (f"nor on the subject's {len(others)} other clips" if others
             else "and the subject has no other clip to borrow a box from")
    return Exclusion(sample.sample_id, f"no face found by {detector.name} on frames {frames} of the "
                                       f"clip {where}; excluded (never cropped blind)")


def _resolved_key(sample: Sample, spec: FaceCropSpec, detector: HaarDetector) -> tuple[object, ...]:
    identity = file_identity(sample.frame_paths[0]) if sample.frame_paths else {}
    return (sample.sample_id, tuple(identity.values()), spec, detector)


def _warn_once(exclusion: Exclusion) -> None:
    with _lock:
        new = exclusion.sample_id not in _warned
        _warned.add(exclusion.sample_id)
    if new:
        log.warning("%s", exclusion.line())


def without_faceless(samples: Sequence[Sample], cache: InputCache | None = None
                     ) -> tuple[list[Sample], tuple[Exclusion, ...]]:
    """``samples`` less those excluded for want of a face (order kept), and the exclusions."""
    excluded = resolve_face_crops(samples, cache).excluded
    dropped = {exclusion.sample_id for exclusion in excluded}
    return [s for s in samples if s.sample_id not in dropped], excluded


def without_faceless_rows(loaded: LoadedDataset, cache: InputCache | None) -> LoadedDataset:
    """A loaded dataset whose clips with no face are moved from its samples to its rows excluded
    (so runs count them, records carry them, sample lists drop them, ``--strict`` refuses them)."""
    kept, faceless = without_faceless(loaded.samples, cache)
    if not faceless:
        return loaded
    return dataclasses.replace(loaded, samples=kept, excluded=[
        *loaded.excluded, *(Excluded(exclusion.line(), exclusion.sample_id) for exclusion in faceless)])


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
    """The crop to apply to ``sample``'s frames, or None when its dataset ships cropped faces.

    An excluded sample has no crop: asking for one is a DataError with the exclusion's reason.
    """
    if not dataset_wants_crop(sample.dataset):
        return None
    with _lock:
        outcome = _resolved.get(_resolved_key(sample, spec, DEFAULT_DETECTOR))
    if outcome is None:
        resolve_face_crops([sample], cache, spec)
        with _lock:
            outcome = _resolved[_resolved_key(sample, spec, DEFAULT_DETECTOR)]
    if isinstance(outcome, Exclusion):
        raise DataError(f"{outcome.line()}; it cannot be cropped (see mer-bench doctor)")
    return outcome
