"""The 4DME reader on hand-built trees in the exact native layout, quirks and bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.doctor import clip_problems
from mer_bench.data.fourdme import FOURDME, read_fourdme
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

CODING = "4DME_Labelling_Micro_release v1.xlsx"  # with the space, as released
HEADER = ["sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs", "Emotion", "Positive",
          "Negative", "Surprise", "Repression", "Others", "fold"]
CATEGORIES = ["Positive", "Negative", "Surprise", "Repression", "Others"]


def row(subject: object, clip: str, onset: object, apex: object, offset: object,
        emotion: object = "Negative", aus: str = "AU4+AU7(k)",
        flags: list[object] | None = None, fold: object = 1) -> list[object]:
    if flags is None:
        flags = [int(isinstance(emotion, str) and c.lower() == emotion.strip().lower())
                 for c in CATEGORIES]
    return [subject, clip, onset, apex, offset, aus, emotion, *flags, fold]


# deliberately not in (subject, clip) order: the reader sorts
GOOD_ROWS = [
    row("S12", "S12_03_1", 98, 100, 103, "Positive", "AU6+AU12"),  # frames 98..103: 100 after 99
    row("S01", "S01_02_1", 8, 10, 12, "negative", "AU4+AU7(k)", fold=2),  # label case varies
    row("S01", "S01_01_2", 46, 48, 50, "Surprise", "AU1+AU2"),
]


def write_coding(dataset_dir: Path, rows: list[list[object]], *, header: list[object] = HEADER,
                 name: str = CODING) -> Path:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for line in rows:
        sheet.append(line)
    path = dataset_dir / name
    workbook.save(path)
    return path


def make_clip(dataset_dir: Path, subject: str, clip: str, numbers: range | list[int],
              folder: str = "gray_micro") -> Path:
    clip_dir = dataset_dir / folder / subject / clip
    clip_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4), np.uint8)  # grey, single channel
    for number in numbers:
        cv2.imwrite(str(clip_dir / f"{number}.jpg"), pixel)
    return clip_dir


@pytest.fixture()
def fourdme_dir(tmp_path: Path) -> Path:
    root = tmp_path / "4DME"
    write_coding(root, GOOD_ROWS)
    make_clip(root, "S12", "S12_03_1", range(98, 104))
    make_clip(root, "S01", "S01_02_1", range(8, 13))  # 8.jpg .. 12.jpg: 10 sorts first as text
    make_clip(root, "S01", "S01_01_2", range(46, 51))
    return root


def test_reads_samples_sorted_by_subject_and_clip(fourdme_dir: Path) -> None:
    samples = read_fourdme(fourdme_dir).samples
    assert [s.sample_id for s in samples] == ["4dme/S01/S01_01_2", "4dme/S01/S01_02_1",
                                              "4dme/S12/S12_03_1"]
    assert {s.subject for s in samples} == {"S01", "S12"}
    assert all(s.fps == 60.0 and s.dataset == "4dme" for s in samples)


def test_key_frames_labels_and_columns_kept_as_written(fourdme_dir: Path) -> None:
    surprise, negative, positive = read_fourdme(fourdme_dir).samples
    assert negative.annotated == KeyFrames(onset=8, apex=10, offset=12)
    assert negative.emotion == "negative" and positive.emotion == "Positive"
    assert negative.action_units == "AU4+AU7(k)"
    assert negative.extra == {"coding_file": CODING, "coding_row": "3", "variant": "raw",
                              "fold": "2"}
    assert surprise.annotated == KeyFrames(46, 48, 50)


def test_frames_sorted_numerically_not_as_text(fourdme_dir: Path) -> None:
    _, negative, positive = read_fourdme(fourdme_dir).samples
    assert negative.frame_numbers == (8, 9, 10, 11, 12)
    assert [p.name for p in negative.frame_paths] == ["8.jpg", "9.jpg", "10.jpg", "11.jpg",
                                                      "12.jpg"]
    assert positive.frame_numbers == (98, 99, 100, 101, 102, 103)
    assert positive.path_of(100).name == "100.jpg"


@pytest.mark.parametrize("naming", ["{}.jpg", "img_{:04d}.jpg", "S01_{:03d}.png"])
def test_frame_number_is_the_trailing_digits_of_the_name(tmp_path: Path, naming: str) -> None:
    root = tmp_path / "4DME"
    write_coding(root, [GOOD_ROWS[1]])
    clip_dir = root / "gray_micro" / "S01" / "S01_02_1"
    clip_dir.mkdir(parents=True)
    for number in range(8, 13):
        cv2.imwrite(str(clip_dir / naming.format(number)), np.zeros((4, 4), np.uint8))
    assert read_fourdme(root).samples[0].frame_numbers == (8, 9, 10, 11, 12)


def test_cropped_frames_read_when_asked_and_grey_micro_preferred(fourdme_dir: Path) -> None:
    make_clip(fourdme_dir, "S12", "S12_03_1", range(98, 104), folder="gray_micro_crop")
    make_clip(fourdme_dir, "S01", "S01_02_1", range(8, 13), folder="gray_micro_crop")
    make_clip(fourdme_dir, "S01", "S01_01_2", range(46, 51), folder="gray_micro_crop")
    cropped = read_fourdme(fourdme_dir, variant="cropped").samples
    assert cropped[0].frame_paths[0] == fourdme_dir / "gray_micro_crop/S01/S01_01_2/46.jpg"
    assert cropped[0].extra["variant"] == "cropped"
    assert read_fourdme(fourdme_dir).samples[0].extra["variant"] == "raw"


def test_loading_lower_cases_the_labels_as_normalisations_not_errata(fourdme_dir: Path) -> None:
    loaded = load_dataset_dir(FOURDME, fourdme_dir)
    assert [s.emotion for s in loaded.samples] == ["surprise", "negative", "positive"]
    assert loaded.fixes == [] and len(loaded.normalised) == 2  # one is written lower-case


def test_multi_category_emotion_agrees_with_several_one_hot_columns(tmp_path: Path) -> None:
    root = tmp_path / "4DME"
    write_coding(root, [row("S01", "S01_02_1", 8, 10, 12, "Negative+Surprise",
                            flags=[0, 1, 1, 0, 0])])
    make_clip(root, "S01", "S01_02_1", range(8, 13))
    assert read_fourdme(root).samples[0].emotion == "Negative+Surprise"  # no single-class protocol has it


def test_gap_inside_a_clip_is_left_to_the_doctor(tmp_path: Path) -> None:
    root = tmp_path / "4DME"
    write_coding(root, [GOOD_ROWS[2]])
    make_clip(root, "S01", "S01_01_2", [46, 47, 48, 50])
    (sample,) = read_fourdme(root).samples
    assert clip_problems(sample) == ["4dme/S01/S01_01_2: frames missing inside the clip (49..49)"]


def test_spec_marks_4dme_for_face_cropping() -> None:
    assert (FOURDME.name, FOURDME.folder, FOURDME.fps, FOURDME.face_crop) == (
        "4dme", "4DME", 60.0, True)
    assert FOURDME.read is read_fourdme and FOURDME.write_twin is not None
    assert FOURDME.twin_version


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_fourdme(tmp_path / "4DME").samples
    assert_one_line(error, str(tmp_path / "4DME"))


def test_missing_coding_file_ignores_the_extras_workbook(tmp_path: Path) -> None:
    root = tmp_path / "4DME"
    write_coding(root, GOOD_ROWS, name="4DME_Labelling_Micro_extras_release v1.xlsx")
    make_clip(root, "S01", "S01_02_1", range(8, 13))
    with pytest.raises(DataError) as error:
        read_fourdme(root).samples
    assert_one_line(error, str(root), CODING)


def test_missing_frames_folder(tmp_path: Path) -> None:
    root = tmp_path / "4DME"
    write_coding(root, GOOD_ROWS)
    with pytest.raises(DataError) as error:
        read_fourdme(root).samples
    assert_one_line(error, str(root), "gray_micro/")


def test_missing_variant_folder(fourdme_dir: Path) -> None:
    with pytest.raises(DataError) as error:
        read_fourdme(fourdme_dir, variant="cropped").samples
    assert_one_line(error, "gray_micro_crop", "folder not found")


@pytest.mark.parametrize("column", ["Onset", "Emotion", "Repression"])
def test_missing_required_column_is_named(fourdme_dir: Path, column: str) -> None:
    header = [("Other column" if h == column else h) for h in HEADER]
    write_coding(fourdme_dir, GOOD_ROWS, header=header)
    with pytest.raises(DataError) as error:
        read_fourdme(fourdme_dir).samples
    assert_one_line(error, CODING, "row 1", repr(column))


BAD_ROWS = {
    "non_numeric_onset": (row("S01", "S01_02_1", "8a", 10, 12), "Onset '8a'"),
    "non_numeric_apex": (row("S01", "S01_02_1", 8, "peak", 12), "Apex 'peak'"),
    "empty_apex": (row("S01", "S01_02_1", 8, None, 12), "Apex (empty)"),
    "non_numeric_offset": (row("S01", "S01_02_1", 8, 10, "end"), "Offset 'end'"),
    "onset_after_offset": (row("S01", "S01_02_1", 12, 10, 8), "after Offset"),
    "unknown_emotion": (row("S01", "S01_02_1", 8, 10, 12, "Anger", flags=[0, 1, 0, 0, 0]),
                        "'Anger' is not a 4DME emotion category"),
    "emotion_disagrees_with_one_hot": (
        row("S01", "S01_02_1", 8, 10, 12, "Negative", flags=[1, 0, 0, 0, 0]),
        "disagrees with the one-hot columns (set: Positive)"),
    "no_one_hot_set": (row("S01", "S01_02_1", 8, 10, 12, "Negative", flags=[0, 0, 0, 0, 0]),
                       "(set: none)"),
    "one_hot_not_binary": (row("S01", "S01_02_1", 8, 10, 12, "Negative", flags=[0, 2, 0, 0, 0]),
                           "Negative 2 is not 0 or 1"),
    "offset_frame_absent": (row("S01", "S01_02_1", 8, 10, 13), "Offset 13"),
    "apex_frame_in_a_gap": (row("S01", "S01_02_1", 8, 11, 12), "Apex 11"),
    "clip_folder_missing": (row("S01", "S01_09_9", 8, 10, 12), "S01_09_9"),
    "empty_subject": (row(None, "S01_02_1", 8, 10, 12), "sub_ID is empty"),
    "duplicate_clip": (row("S01", "S01_01_2", 46, 48, 50, "Surprise"), "repeats row 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    bad, fragment = BAD_ROWS[case]
    root = tmp_path / "4DME"
    # the bad row is the second data row, i.e. Excel row 3
    write_coding(root, [GOOD_ROWS[2], bad])
    make_clip(root, "S01", "S01_01_2", range(46, 51))
    make_clip(root, "S01", "S01_02_1", [8, 9, 10, 12])
    loaded = load_dataset_dir(FOURDME, root)
    assert_excluded(loaded, CODING, "row 3", fragment)
    assert [s.clip for s in loaded.samples] == ["S01_01_2"]


def test_clip_folder_without_frames(tmp_path: Path) -> None:
    root = tmp_path / "4DME"
    write_coding(root, [GOOD_ROWS[2]])
    clip_dir = make_clip(root, "S01", "S01_01_2", [])
    (clip_dir / "Thumbs.db").write_bytes(b"")
    assert_excluded(read_fourdme(root), CODING, "row 2", "no <n>.jpg frames")


def test_unreadable_spreadsheet(tmp_path: Path) -> None:
    root = tmp_path / "4DME"
    root.mkdir()
    (root / CODING).write_bytes(b"not a workbook")
    make_clip(root, "S01", "S01_01_2", range(46, 51))
    with pytest.raises(DataError) as error:
        read_fourdme(root).samples
    assert_one_line(error, CODING, "cannot read")
