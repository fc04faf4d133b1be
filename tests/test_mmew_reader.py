"""The MMEW reader on hand-built trees in the native layout: quirks, bad inputs, errata."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.doctor import clip_problems
from mer_bench.data.errata import apply_errata
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.mmew import MMEW, read_mmew
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
          "Estimated Emotion", "remarks"]
CODING = "MMEW_Micro_Exp.xlsx"


def write_coding(dataset_dir: Path, rows: list[list[object]], header: list[str] = HEADER,
                 name: str = CODING) -> Path:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    path = dataset_dir / name
    workbook.save(path)
    return path


def make_clip(dataset_dir: Path, emotion: str, clip: str, numbers: range | list[int],
              subject_folder: str | None = None, root: str = "Micro_Expression") -> Path:
    base = dataset_dir / root if root else dataset_dir
    if subject_folder:
        base = base / subject_folder
    clip_dir = base / emotion / clip
    clip_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(clip_dir / f"{number}.jpg"), pixel)
    return clip_dir


# As in the public copies: OnsetFrame is always 1, AU sides written before or after the number.
GOOD_ROWS = [
    # deliberately not in (subject, clip) order: the reader sorts
    [12, "S12-02-001", 1, 7, 12, "1+2+5", "surprise", None],
    [1, "S01-01-001", 1, 10, 12, "6+12", "happiness", None],
    [1, "S01-03-001", 1, 4, 9, "4R+7", " Disgust ", "apex unclear"],
]


@pytest.fixture()
def mmew_dir(tmp_path: Path) -> Path:
    root = tmp_path / "MMEW"
    write_coding(root, GOOD_ROWS)
    make_clip(root, "happiness", "S01-01-001", range(1, 13))  # 1..12: '10.jpg' < '2.jpg' as text
    make_clip(root, "disgust", "S01-03-001", range(1, 10))
    make_clip(root, "surprise", "S12-02-001", range(1, 13))
    return root


def test_reads_samples_sorted_by_subject_and_clip(mmew_dir: Path) -> None:
    samples = read_mmew(mmew_dir).samples
    assert [s.sample_id for s in samples] == [
        "mmew/S01/S01-01-001",
        "mmew/S01/S01-03-001",
        "mmew/S12/S12-02-001",
    ]
    assert {s.subject for s in samples} == {"S01", "S12"}
    assert all(s.fps == 90.0 and s.dataset == "mmew" for s in samples)


def test_key_frames_labels_aus_and_remarks_kept_as_written(mmew_dir: Path) -> None:
    happy, disgust, surprise = read_mmew(mmew_dir).samples
    assert happy.annotated == KeyFrames(onset=1, apex=10, offset=12)
    assert happy.emotion == "happiness" and happy.action_units == "6+12"
    assert disgust.emotion == "Disgust"  # stripped; loading normalises the case
    assert disgust.action_units == "4R+7"
    assert disgust.extra["remarks"] == "apex unclear" and "remarks" not in happy.extra
    assert surprise.annotated == KeyFrames(1, 7, 12)
    assert happy.extra["coding_row"] == "3" and happy.extra["coding_file"] == CODING
    assert happy.extra["layout"] == "emotion"


def test_frames_sorted_numerically_not_as_text(mmew_dir: Path) -> None:
    happy = read_mmew(mmew_dir).samples[0]
    assert happy.frame_numbers == tuple(range(1, 13))
    assert [p.name for p in happy.frame_paths[:3]] == ["1.jpg", "2.jpg", "3.jpg"]
    assert happy.path_of(10) == mmew_dir / "Micro_Expression/happiness/S01-01-001/10.jpg"


def test_website_layout_with_subject_folders_is_read(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [[3, "S03-01-002", 1, 5, 9, "12", "happiness", None]])
    make_clip(root, "happiness", "S03-01-002", range(1, 10), subject_folder="S03", root="")
    (sample,) = read_mmew(root).samples
    assert sample.frame_paths[0] == root / "S03/happiness/S03-01-002/1.jpg"
    assert sample.subject == "S03" and sample.extra["layout"] == "subject"


def test_emotion_folders_match_labels_ignoring_case(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [[2, "S02-05-001", 1, 3, 6, "4+5", "fear", None]])
    make_clip(root, "Fear", "S02-05-001", range(1, 7))
    assert read_mmew(root).samples[0].emotion == "fear"


def test_apex_past_the_clip_is_left_for_errata(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [[1, "S01-01-001", 1, 20, 12, "12", "happiness", None]])
    make_clip(root, "happiness", "S01-01-001", range(1, 13))
    assert read_mmew(root).samples[0].annotated == KeyFrames(1, 20, 12)


def test_blank_trailing_rows_are_ignored(mmew_dir: Path) -> None:
    write_coding(mmew_dir, [GOOD_ROWS[1], [None] * 8])
    assert len(read_mmew(mmew_dir).samples) == 1


def test_spec_points_at_this_reader_with_mmew_errata() -> None:
    assert (MMEW.name, MMEW.folder, MMEW.fps, MMEW.read) == ("mmew", "MMEW", 90.0, read_mmew)
    assert MMEW.write_twin is not None and MMEW.twin_version and MMEW.face_crop is False
    assert [rule.name for rule in MMEW.errata] == [
        "offset-past-last-frame", "apex-outside-clamped", "apex-far-outside-missing"]


# --- errata: MMEW's wrong apex / offset rows are fixed by rules, and every fix is reported ------


def test_apex_just_after_offset_is_clamped_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [[1, "S01-01-001", 1, 14, 12, "12", "Happiness", None]])
    make_clip(root, "happiness", "S01-01-001", range(1, 13))
    loaded = load_dataset_dir(MMEW, root)
    (fixed,) = loaded.samples
    assert fixed.annotated == KeyFrames(1, 12, 12) and fixed.emotion == "happiness"
    assert [fix.rule for fix in loaded.fixes] == ["apex-outside-clamped"]
    assert "apex 14 is 2 frames outside onset..offset 1..12 (within 4)" in str(loaded.fixes[0])


def test_apex_far_after_offset_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [[1, "S01-01-001", 1, 20, 12, "12", "happiness", None]])
    make_clip(root, "happiness", "S01-01-001", range(1, 13))
    (fixed,), applied = apply_errata(read_mmew(root).samples, MMEW.errata)
    assert fixed.annotated == KeyFrames(1, None, 12)
    assert [fix.rule for fix in applied] == ["apex-far-outside-missing"]


def test_offset_past_the_last_frame_becomes_the_last_frame_before_the_apex_is_clamped(
        tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [[1, "S01-01-001", 1, 15, 25, "12", "happiness", None]])
    make_clip(root, "happiness", "S01-01-001", range(1, 13))
    (fixed,), applied = apply_errata(read_mmew(root).samples, MMEW.errata)
    assert fixed.annotated == KeyFrames(1, 12, 12)
    assert [fix.rule for fix in applied] == ["offset-past-last-frame", "apex-outside-clamped"]
    assert "offset 25 past the clip's last frame; set to 12" in str(applied[0])


def test_rows_inside_their_clip_are_not_touched(mmew_dir: Path) -> None:
    loaded = load_dataset_dir(MMEW, mmew_dir)
    assert loaded.fixes == [] and not loaded.excluded
    assert [(n.written, n.canonical) for n in loaded.normalised] == [("Disgust", "disgust")]
    assert [s.annotated for s in loaded.samples] == [
        s.annotated for s in read_mmew(mmew_dir).samples]


def test_missing_frame_inside_a_clip_is_read_and_reported_by_the_doctor(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [GOOD_ROWS[1]])
    make_clip(root, "happiness", "S01-01-001", [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12])
    (sample,) = read_mmew(root).samples
    assert 4 not in sample.frame_numbers
    assert clip_problems(sample) == ["mmew/S01/S01-01-001: frames missing inside the clip (4..4)"]


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_mmew(tmp_path / "nowhere").samples
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_coding_file(tmp_path: Path) -> None:
    make_clip(tmp_path / "MMEW", "happiness", "S01-01-001", range(1, 13))
    with pytest.raises(DataError) as error:
        read_mmew(tmp_path / "MMEW").samples
    assert_one_line(error, str(tmp_path / "MMEW"), "MMEW_Micro_Exp*.xlsx")


def test_missing_frames_folder(tmp_path: Path) -> None:
    write_coding(tmp_path / "MMEW", GOOD_ROWS)
    with pytest.raises(DataError) as error:
        read_mmew(tmp_path / "MMEW").samples
    assert_one_line(error, str(tmp_path / "MMEW"), "Micro_Expression")


def test_missing_required_column_is_named(mmew_dir: Path) -> None:
    header = [("Apex" if h == "ApexFrame" else h) for h in HEADER]
    write_coding(mmew_dir, GOOD_ROWS, header=header)
    with pytest.raises(DataError) as error:
        read_mmew(mmew_dir).samples
    assert_one_line(error, CODING, "row 1", "'ApexFrame'")


BAD_ROWS = {
    "non_numeric_onset": ([1, "S01-01-001", "one", 10, 12, "12", "happiness", None], "OnsetFrame"),
    "non_numeric_apex": ([1, "S01-01-001", 1, "10?", 12, "12", "happiness", None], "ApexFrame"),
    "non_numeric_offset": ([1, "S01-01-001", 1, 10, 12.5, "12", "happiness", None],
                           "OffsetFrame"),
    "onset_after_offset": ([1, "S01-01-001", 12, 10, 1, "12", "happiness", None],
                           "after OffsetFrame"),
    "onset_frame_absent": ([1, "S01-01-001", 0, 10, 12, "12", "happiness", None], "OnsetFrame 0"),
    "unknown_emotion": ([1, "S01-01-001", 1, 10, 12, "12", "contempt", None], "'contempt'"),
    "empty_emotion": ([1, "S01-01-001", 1, 10, 12, "12", None, None], "Estimated Emotion"),
    "emotion_folder_mismatch": ([1, "S01-01-001", 1, 10, 12, "12", "surprise", None],
                                "'surprise' but clip S01-01-001 is filed under 'happiness'"),
    "clip_folder_missing": ([1, "S01-01-009", 1, 10, 12, "12", "happiness", None], "S01-01-009"),
    "bad_subject": (["one", "S01-01-001", 1, 10, 12, "12", "happiness", None], "Subject"),
    "empty_filename": ([1, None, 1, 10, 12, "12", "happiness", None], "Filename"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    row, fragment = BAD_ROWS[case]
    root = tmp_path / "MMEW"
    # the bad row is the second data row, i.e. Excel row 3
    write_coding(root, [GOOD_ROWS[2], row])
    make_clip(root, "disgust", "S01-03-001", range(1, 10))
    make_clip(root, "happiness", "S01-01-001", range(1, 13))
    loaded = load_dataset_dir(MMEW, root)
    assert_excluded(loaded, CODING, "row 3", fragment)
    assert [s.clip for s in loaded.samples] == ["S01-03-001"]


def test_key_frame_in_a_gap_of_the_clip_names_the_row(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [GOOD_ROWS[1]])
    make_clip(root, "happiness", "S01-01-001", [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12])
    assert_excluded(load_dataset_dir(MMEW, root), CODING, "row 2",
                    "ApexFrame 10 has no frame", "a gap in frames 1..12")


def test_duplicate_clip_rows_name_both_rows(mmew_dir: Path) -> None:
    write_coding(mmew_dir, [GOOD_ROWS[1], GOOD_ROWS[2], GOOD_ROWS[1]])
    assert_excluded(read_mmew(mmew_dir), CODING, "row 4", "repeats row 2")


def test_clip_filed_under_two_emotions_is_named(mmew_dir: Path) -> None:
    make_clip(mmew_dir, "others", "S01-01-001", range(1, 13))
    assert_excluded(read_mmew(mmew_dir), CODING, "row 3", "filed twice", "others", "happiness")


def test_clip_folder_without_frames(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [GOOD_ROWS[1]])
    clip_dir = make_clip(root, "happiness", "S01-01-001", [])
    (clip_dir / "Thumbs.db").write_bytes(b"")
    assert_excluded(read_mmew(root), CODING, "row 2", "no <N>.jpg frames")


def test_two_files_for_one_frame_number(tmp_path: Path) -> None:
    root = tmp_path / "MMEW"
    write_coding(root, [GOOD_ROWS[1]])
    clip_dir = make_clip(root, "happiness", "S01-01-001", range(1, 13))
    (clip_dir / "01.jpg").write_bytes((clip_dir / "1.jpg").read_bytes())
    assert_excluded(read_mmew(root), CODING, "row 2", "both frame 1")


def test_several_spreadsheets_are_named(mmew_dir: Path) -> None:
    write_coding(mmew_dir, GOOD_ROWS, name="MMEW_Micro_Exp (1).xlsx")
    with pytest.raises(DataError) as error:
        read_mmew(mmew_dir).samples
    assert_one_line(error, "MMEW_Micro_Exp (1).xlsx", CODING, "keep one")
    assert len(read_mmew(mmew_dir, coding_file=Path(CODING)).samples) == 3


def test_unreadable_spreadsheet(mmew_dir: Path) -> None:
    (mmew_dir / CODING).write_bytes(b"not a workbook")
    with pytest.raises(DataError) as error:
        read_mmew(mmew_dir).samples
    assert_one_line(error, CODING)
