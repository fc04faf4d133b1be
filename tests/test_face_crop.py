"""Face crop: the detector finds every twin face, dark skin included; a clip without a face on its
first frame takes a later frame's box, then its subject's; a clip with no face anywhere is excluded,
listed by the doctor, and never reaches a run."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import mer_bench.inputs.face_crop as face_crop
from mer_bench.data.doctor import diagnose_dataset
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.datasource import DataSource, data_provenance, protocol_samples
from mer_bench.errors import DataError
from mer_bench.execute.job import Job, job_config, make_strategy
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import (
    FaceBox,
    dataset_wants_crop,
    largest_detection,
    locate_face,
    median_box,
    resolve_face_crops,
    search_clip,
    square_box,
    without_faceless,
)
from mer_bench.inputs.face_detect import DEFAULT_DETECTOR, HaarDetector, detect_faces
from mer_bench.inputs.representations import build_input
from mer_bench.models import MODELS
from mer_bench.protocols import get_protocol
from mer_bench.registry import Registry
from mer_bench.protocol_check import check_before_run
from mer_bench.store import Cell, data_key
from mer_bench.synth import write_twin
from mer_bench.synth.face import render_face
from mer_bench.synth.fourdme import subject_id
from mer_bench.synth.plan import STREAM_FACE, stream

NUMBERS = (101, 102, 103, 104, 105)
KEYS = KeyFrames(101, 103, 105)
SCENE_GREY = 96
# The darkest skin of the first subjects the twins draw at seed 0 (the renderer's skin lightness
# 0.05 of 0..1); at scale 0.15 the 4DME twin has subjects S01..S06, so S05 is in it.
DARKEST_SUBJECT = 5
DARKEST_FIVE = (5, 36, 26, 33, 24)  # skin lightness 0.05, 0.07, 0.09, 0.10, 0.13 (subjects 1, 2, 3: 1.0, 0.57, 0.39)


def twin_face(subject: int) -> np.ndarray:
    """The neutral 128 x 128 face the twins draw for ``subject`` at seed 0, as uint8 BGR."""
    return np.clip(render_face(stream(0, STREAM_FACE, subject), 128).image, 0, 255).astype(np.uint8)


def scene(face: np.ndarray | None, top: int = 30, left: int = 150) -> np.ndarray:
    """A 208 x 384 grey frame (the SAMM twin's size) with ``face`` at (top, left), or blank."""
    frame = np.full((208, 384, 3), SCENE_GREY, np.uint8)
    if face is not None:
        frame[top:top + face.shape[0], left:left + face.shape[1]] = face
    return frame


def write_clip(folder: Path, frames: list[np.ndarray], subject: str = "s1",
               dataset: str = "samm") -> Sample:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, frame in zip(NUMBERS, frames, strict=True):
        paths.append(folder / f"img{number}.png")
        cv2.imwrite(str(paths[-1]), frame)
    return Sample(dataset=dataset, subject=subject, clip=folder.name, frame_paths=tuple(paths),
                  frame_numbers=NUMBERS, fps=200.0, annotated=KEYS, emotion="surprise")


def face_extent(frame: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of what differs from the plain scene: where the face was put."""
    rows, cols = np.nonzero(np.abs(frame.astype(int) - SCENE_GREY).max(axis=2) > 12)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


def assert_on_face(box: FaceBox, frame: np.ndarray) -> None:
    """The box holds (nearly) all of the face and not much else: the 128 px face with its margin."""
    left, top, right, bottom = face_extent(frame)
    overlap_x = min(right, box.x + box.side) - max(left, box.x)
    overlap_y = min(bottom, box.y + box.side) - max(top, box.y)
    assert overlap_x * overlap_y > 0.9 * (right - left) * (bottom - top), (box, (left, top, right, bottom))
    assert box.side < 1.5 * max(right - left, bottom - top)


# ---- the twins' faces, dark skin included ------------------------------------------------------


@pytest.fixture(scope="module")
def fourdme_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with a 4DME twin (grey video, the face inside a wider frame) at scale 0.15."""
    root = tmp_path_factory.mktemp("data-root")
    write_twin("4dme", root / "4DME", scale=0.15, seed=0)
    return root


def test_every_first_frame_of_the_twin_shows_its_face_dark_skin_included(fourdme_root: Path) -> None:
    samples = DATASETS.get("4dme").read(fourdme_root / "4DME").samples
    assert subject_id(DARKEST_SUBJECT) in {s.subject for s in samples}
    crops = resolve_face_crops(samples)
    assert not crops.excluded and crops.count("first-frame") == len(samples)
    for sample in samples:
        assert_on_face(crops.crops[sample.sample_id].box, cv2.imread(str(sample.frame_paths[0])))


@pytest.mark.parametrize("subject", DARKEST_FIVE)
def test_equalising_the_histogram_first_loses_the_darkest_faces(subject: int) -> None:
    """Why the detector runs on the plain grayscale frame: Haar after cv2.equalizeHist (the old
    preparation) finds none of the five darkest of the first forty identities in a SAMM-sized frame;
    the lightest three it finds."""
    equalised = HaarDetector(preparations=("equalise",))
    frame, light = scene(twin_face(subject)), scene(twin_face(1 + subject % 3))
    assert detect_faces(frame) and not detect_faces(frame, detector=equalised)
    assert detect_faces(light, detector=equalised)


def test_the_darkest_face_of_three_twin_seeds_needs_the_clahe_second_look() -> None:
    """Seed 2's subject 60 (skin lightness 0.01, the darkest of seeds 0-2): the plain frame shows
    no face to the cascade, CLAHE does, and the detector takes the box on the face."""
    face = np.clip(render_face(stream(2, STREAM_FACE, 60), 128).image, 0, 255).astype(np.uint8)
    frame = scene(face, top=60, left=200)
    assert not detect_faces(frame, detector=HaarDetector(preparations=("plain",)))
    box = locate_face(frame)
    assert box is not None
    assert_on_face(box, frame)


@pytest.mark.parametrize("subject", range(1, 41))
def test_each_of_forty_twin_identities_is_found_in_a_wide_frame(subject: int) -> None:
    frame = scene(twin_face(subject), top=40 + subject, left=3 * subject)
    box = locate_face(frame)
    assert box is not None, f"identity {subject}: no face"
    assert_on_face(box, frame)


def test_twin_face_embedded_in_a_wide_frame_is_cropped_around_it() -> None:
    frame = scene(twin_face(1), top=60, left=230)
    box = locate_face(frame)
    assert box is not None and box.x + box.side <= 384 and box.y + box.side <= 208
    assert_on_face(box, frame)


# ---- fallbacks: another frame, the subject's box, exclusion ---------------------------------------


def test_no_face_on_the_first_frame_takes_the_box_of_a_later_frame(tmp_path: Path) -> None:
    face = twin_face(DARKEST_SUBJECT)
    sample = write_clip(tmp_path / "clip", [scene(None), scene(face), scene(face), scene(face), scene(face)])
    search = search_clip(sample)
    assert search.frame == 102 and search.tried == (101, 102)
    crop = resolve_face_crops([sample]).crops[sample.sample_id]
    assert crop.found == "other-frame" and crop.box == search.box
    assert_on_face(crop.box, scene(face))


def test_a_clip_with_no_face_borrows_the_median_box_of_its_subject(tmp_path: Path) -> None:
    faceless = write_clip(tmp_path / "blank", [scene(None)] * 5)
    others = [write_clip(tmp_path / f"clip{left}", [scene(twin_face(2), top=40, left=left)] * 5)
              for left in (100, 120, 160)]
    stranger = write_clip(tmp_path / "stranger", [scene(twin_face(3), left=0)] * 5, subject="s2")
    crops = resolve_face_crops([faceless, *others, stranger])
    borrowed = crops.crops[faceless.sample_id]
    assert borrowed.found == "subject" and not crops.excluded
    own = [crops.crops[o.sample_id].box for o in others]
    assert borrowed.box == median_box(own, (208, 384))
    assert borrowed.box.x + borrowed.box.side / 2 == pytest.approx(own[1].x + own[1].side / 2, abs=1)
    assert crops.count("first-frame") == 4 and crops.count("subject") == 1


def test_a_clip_with_no_face_anywhere_is_excluded_never_cropped_blind(tmp_path: Path) -> None:
    alone = write_clip(tmp_path / "alone", [scene(None)] * 5, subject="s9")
    blank_pair = [write_clip(tmp_path / f"pair{i}", [scene(None)] * 5, subject="s8") for i in range(2)]
    seen = write_clip(tmp_path / "seen", [scene(twin_face(4))] * 5, subject="s7")
    crops = resolve_face_crops([alone, *blank_pair, seen])
    reasons = dict(crops.excluded)
    assert set(reasons) == {alone.sample_id, *(s.sample_id for s in blank_pair)}
    assert reasons[alone.sample_id] == (
        f"no face found by {DEFAULT_DETECTOR.name} on frames 101, 102, 103, 104, 105 of the clip "
        "and the subject has no other clip to borrow a box from; excluded (never cropped blind)")
    assert "nor on the subject's 1 other clips" in reasons[blank_pair[0].sample_id]
    kept, excluded = without_faceless([alone, *blank_pair, seen])
    assert kept == [seen] and excluded == crops.excluded
    with pytest.raises(DataError, match="samm/s9/alone: no face found"):
        build_input("frame-diff", alone, KEYS, "rising", 28, None)


# ---- the doctor and the runs ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def faceless_root(fourdme_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The 4DME twin with every frame of one subject blanked (a recording without its face)."""
    root = tmp_path_factory.mktemp("faceless") / "data"
    shutil.copytree(fourdme_root, root)
    subject = subject_id(2)
    for path in (root / "4DME").rglob(f"{subject}/*/*.jpg"):
        cv2.imwrite(str(path), np.full(cv2.imread(str(path)).shape, SCENE_GREY, np.uint8))
    return root, subject


def test_doctor_publishes_the_detection_rate_and_lists_every_excluded_clip(
        faceless_root: tuple[Path, str], cli) -> None:
    root, subject = faceless_root
    report = diagnose_dataset(DATASETS.get("4dme"), root)
    blanked = sorted(e.sample_id for e in report.excluded)
    assert blanked and all(sid.startswith(f"4dme/{subject}/") for sid in blanked)
    every = len(DATASETS.get("4dme").read(root / "4DME").samples)
    assert report.samples == every - len(blanked) and report.status == f"usable, {len(blanked)} rows excluded"
    code, out, _ = cli("doctor", "--data-root", root)
    assert code == 0
    assert (f"4DME: face detection ({DEFAULT_DETECTOR.name}; without a face on a clip's first frame, "
            "4 more of its frames, then the median box of the subject's other clips)\n"
            f"  {every} clips: face on the first frame {report.samples} "
            f"({100 * report.samples / every:.1f}%), on another frame 0, box borrowed from the "
            f"subject 0, excluded {len(blanked)}") in out
    for sid in blanked:
        assert f"  {sid}: no face found by {DEFAULT_DETECTOR.name}" in out
    code, out, _ = cli("doctor", "--data-root", root, "--strict")
    assert code == 1


def test_runs_never_see_an_excluded_clip_and_say_so(faceless_root: tuple[Path, str]) -> None:
    root, subject = faceless_root
    source = DataSource(root)
    said: list[str] = []
    check_before_run(get_protocol("4dme-5class"), source, said.append)
    blanked = [s.sample_id for s in DATASETS.get("4dme").read(root / "4DME").samples if s.subject == subject]
    assert any(line.strip().startswith(f"excluded: {blanked[0]}: no face found by {DEFAULT_DETECTOR.name}")
               for line in said)
    assert data_provenance(get_protocol("4dme-5class"), source)["excluded_rows"] == {"4dme": len(blanked)}
    samples = protocol_samples(get_protocol("4dme-5class"), source)
    every = DATASETS.get("4dme").read(root / "4DME").samples
    assert [s.sample_id for s in samples] == [s.sample_id for s in every if s.subject != subject]


# ---- determinism, caching, records ----------------------------------------------------------------


def test_searches_are_cached_per_detector_and_crops_carry_it_into_input_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    face = twin_face(6)
    sample = write_clip(tmp_path / "clip", [scene(face, top=20, left=40 + i) for i in range(5)])
    cache = InputCache(tmp_path / "cache")
    first = search_clip(sample, cache)
    assert first.frame == 101 and len(list((tmp_path / "cache").rglob("*.npy"))) == 1
    monkeypatch.setattr(face_crop, "_searches", {})  # a new process: only the disk cache is left
    monkeypatch.setattr(face_crop, "_search", lambda *args: pytest.fail("searched again"))
    assert search_clip(replace(sample), InputCache(tmp_path / "cache")) == first
    monkeypatch.undo()
    other = HaarDetector(preparations=("clahe",))
    search_clip(sample, cache, detector=other)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2  # a new detector never reuses a box
    keys: list[dict] = []
    real = InputCache.get_or_build
    monkeypatch.setattr(InputCache, "get_or_build",
                        lambda self, key, build: keys.append(key) or real(self, key, build))
    result = build_input("frame-diff", sample, KEYS, "rising", 32, cache)
    crop = keys[-1]["crop"]
    assert crop["detector"] == DEFAULT_DETECTOR.identity() and crop["found"] == "first-frame"
    assert crop["box"] == first.box.as_list() and crop["margin"] == face_crop.DEFAULT_SPEC.margin
    # every frame is cut with the first frame's box, so the face drifting by a pixel a frame shows
    box = first.box
    cut = [cv2.imread(str(p))[box.y:box.y + box.side, box.x:box.x + box.side] for p in sample.frame_paths]
    assert all(c.shape[:2] == (box.side, box.side) for c in cut) and result.shape == (3, 32, 32)
    assert np.abs(result).max() > 0


def test_job_config_names_the_face_detector_only_where_faces_are_cropped() -> None:
    def config(protocol: str) -> dict:
        source = DataSource(None, 0.1)
        job = Job(Cell(protocol, "ststnet", "annotated", 0, data=data_key(source)), source)
        return job_config(job, get_protocol(protocol), MODELS.get("ststnet"), make_strategy("annotated"))

    assert config("samm-5class")["input"]["face_crop"]["detector"] == DEFAULT_DETECTOR.identity()
    assert "face_crop" not in config("casme2-5class")["input"]


# ---- box geometry and which datasets ---------------------------------------------------------------


def test_largest_detection_wins() -> None:
    assert largest_detection([(0, 0, 10, 10), (50, 40, 30, 30), (5, 5, 20, 20)]) == (50, 40, 30, 30)
    assert largest_detection([]) is None


def test_square_box_adds_the_margin_around_the_centre() -> None:
    # 40 x 50 detection centred at (120, 105); side 50 * (1 + 2 * 0.2) = 70.
    assert square_box((100, 80, 40, 50), (300, 400), margin=0.2) == FaceBox(85, 70, 70)


def test_square_box_is_shifted_inside_the_image_at_its_edges() -> None:
    assert square_box((0, 0, 40, 40), (300, 400), margin=0.25) == FaceBox(0, 0, 60)
    assert square_box((370, 270, 30, 30), (300, 400), margin=0.5) == FaceBox(340, 240, 60)


def test_square_box_shrinks_to_the_shorter_side_only_when_larger() -> None:
    assert square_box((100, 10, 90, 90), (100, 300), margin=0.2) == FaceBox(95, 0, 100)


def test_median_box_takes_the_median_centre_and_side_whatever_the_order() -> None:
    boxes = [FaceBox(10, 10, 40), FaceBox(30, 0, 60), FaceBox(0, 20, 50)]
    # centres (30, 30), (60, 30), (25, 45); sides 40, 60, 50
    assert median_box(boxes, (300, 400)) == median_box(boxes[::-1], (300, 400)) == FaceBox(5, 5, 50)


def test_dataset_spec_decides_the_crop() -> None:
    registry: Registry[DatasetSpec] = Registry("dataset")
    registry.register("uncropped", DatasetSpec("uncropped", "U", "U", 30.0, read=lambda p: [], face_crop=True))
    registry.register("cropped", DatasetSpec("cropped", "C", "C", 30.0, read=lambda p: []))
    assert dataset_wants_crop("uncropped", registry) is True
    assert dataset_wants_crop("cropped", registry) is False
    assert dataset_wants_crop("not-a-dataset", registry) is False
    assert DATASETS.get("casme2").face_crop is False and dataset_wants_crop("casme2") is False
    assert [n for n in DATASETS.names() if DATASETS.get(n).face_crop] == ["4dme", "casme-sq", "casme3", "samm"]
