"""The CAS(ME)^2 reader on hand-built trees in its (assumed) native layout, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.casme_sq import CASME_SQ, read_casme_sq
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

CODING = "CAS(ME)^2code_final.xlsx"
MICRO, MACRO = "micro-expression", "macro-expression"

GOOD_ROWS = [
    # no header row; deliberately not in (subject, clip) order: the reader sorts
    [16, "anger1_1", 40, 42, 45, 14, "others", MICRO, None],
    [15, "disgust1_2", 8, 10, 12, "4+L10", "negative", MICRO, "disgust"],
    [15, "disgust1_1", 300, 320, 380, 4, "negative", MACRO, "disgust"],  # no frames: never read
    [15, "happy1_1", 98, 100, 102, 12, "positive", MICRO, "happy"],
]


def write_coding(root: Path, rows: list[list[object]], name: str = CODING) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.create_sheet("naming rule1")  # the release's further sheets are not read
    path = root / name
    workbook.save(path)
    return path


def make_video(root: Path, folder: str, numbers: range | list[int]) -> Path:
    subject = "s" + folder.split("_")[0]
    video_dir = root / "rawpic" / subject / folder
    video_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(video_dir / f"img{number}.jpg"), pixel)
    return video_dir


@pytest.fixture()
def casme_sq_dir(tmp_path: Path) -> Path:
    root = tmp_path / "CAS(ME)2"
    write_coding(root, GOOD_ROWS)
    make_video(root, "15_0101disgustingteeth", range(1, 31))  # a long video: clip 8..12
    make_video(root, "15_0502funnyerrors", range(90, 111))
    make_video(root, "16_0401girlcrashing", range(30, 51))
    return root


def test_reads_micro_rows_only_sorted_by_subject_and_clip(casme_sq_dir: Path) -> None:
    samples = read_casme_sq(casme_sq_dir).samples
    assert [s.sample_id for s in samples] == [
        "casme-sq/s15/disgust1_2",
        "casme-sq/s15/happy1_1",
        "casme-sq/s16/anger1_1",
    ]
    assert all(s.fps == 30.0 and s.dataset == "casme-sq" for s in samples)


def test_key_frames_labels_and_columns_kept_as_written(casme_sq_dir: Path) -> None:
    disgust, happy, anger = read_casme_sq(casme_sq_dir).samples
    assert disgust.annotated == KeyFrames(onset=8, apex=10, offset=12)
    assert (disgust.emotion, disgust.action_units) == ("negative", "4+L10")
    assert (happy.action_units, anger.action_units) == ("12", "14")
    assert disgust.extra == {"coding_file": CODING, "coding_row": "2",
                             "video": "15_0101disgustingteeth", "self_report": "disgust"}
    assert anger.extra["self_report"] == ""


def test_clip_is_its_onset_offset_range_in_numeric_order(casme_sq_dir: Path) -> None:
    assert read_casme_sq(casme_sq_dir).samples[0].frame_numbers == ()  # looked up after errata
    disgust = load_dataset_dir(CASME_SQ, casme_sq_dir).samples[0]
    assert disgust.frame_numbers == (8, 9, 10, 11, 12)
    assert [p.name for p in disgust.frame_paths] == [f"img{n}.jpg" for n in (8, 9, 10, 11, 12)]
    assert disgust.path_of(10).parent == casme_sq_dir / "rawpic/s15/15_0101disgustingteeth"


def test_a_header_row_is_skipped(casme_sq_dir: Path) -> None:
    header = ["subject", "video", "onset", "apex", "offset", "AU", "emotion", "type", "self"]
    write_coding(casme_sq_dir, [header, *GOOD_ROWS])
    assert [s.extra["coding_row"] for s in read_casme_sq(casme_sq_dir).samples] == ["3", "5", "2"]


def test_spec_describes_an_uncropped_30fps_dataset() -> None:
    assert (CASME_SQ.name, CASME_SQ.folder, CASME_SQ.fps, CASME_SQ.read) == (
        "casme-sq", "CAS(ME)2", 30.0, read_casme_sq)
    assert CASME_SQ.face_crop and CASME_SQ.write_twin is not None and CASME_SQ.twin_version


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


BAD_ROWS = {
    "unknown_type": ([15, "disgust1_2", 8, 10, 12, 4, "negative", "mikro", None], "type 'mikro'"),
    "unknown_emotion": ([15, "disgust1_2", 8, 10, 12, 4, "happiness", MICRO, None],
                        "emotion 'happiness'"),
    "non_numeric_onset": ([15, "disgust1_2", "8a", 10, 12, 4, "negative", MICRO, None], "onset"),
    "non_numeric_apex": ([15, "disgust1_2", 8, "x", 12, 4, "negative", MICRO, None], "apex"),
    "onset_after_offset": ([15, "disgust1_2", 12, 10, 8, 4, "negative", MICRO, None],
                           "after offset"),
    "bad_subject": (["someone", "disgust1_2", 8, 10, 12, 4, "negative", MICRO, None], "subject"),
    "unknown_video": ([15, "fear1_1", 8, 10, 12, 4, "negative", MICRO, None], "video 'fear1'"),
    "subject_folder_missing": ([17, "disgust1_1", 8, 10, 12, 4, "negative", MICRO, None], "s17"),
    "video_folder_missing": ([15, "anger2_1", 8, 10, 12, 4, "negative", MICRO, None],
                             "no folder 15_0402*"),
    "frame_outside_video": ([15, "disgust1_2", 28, 30, 33, 4, "negative", MICRO, None],
                            "frame 31"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    row, fragment = BAD_ROWS[case]
    root = tmp_path / "CAS(ME)2"
    write_coding(root, [GOOD_ROWS[3], GOOD_ROWS[2], row])  # the bad row is Excel row 3
    make_video(root, "15_0101disgustingteeth", range(1, 31))
    make_video(root, "15_0502funnyerrors", range(90, 111))
    loaded = load_dataset_dir(CASME_SQ, root)
    assert_excluded(loaded, CODING, "row 3", fragment)
    assert [s.clip for s in loaded.samples] == ["happy1_1"]


def test_frame_missing_inside_a_clip_is_named(casme_sq_dir: Path) -> None:
    (casme_sq_dir / "rawpic/s15/15_0101disgustingteeth/img10.jpg").unlink()
    assert_excluded(load_dataset_dir(CASME_SQ, casme_sq_dir), CODING, "row 2",
                    "frame 10 of the clip 8..12")


def test_two_folders_for_one_video_are_an_error(casme_sq_dir: Path) -> None:
    make_video(casme_sq_dir, "15_0101disgustingteeth_copy", [8])
    assert_excluded(read_casme_sq(casme_sq_dir), "row 2", "several folders 15_0101*")


def test_duplicate_expression_names_both_rows(casme_sq_dir: Path) -> None:
    write_coding(casme_sq_dir, [GOOD_ROWS[1], GOOD_ROWS[3], GOOD_ROWS[1]])
    assert_excluded(read_casme_sq(casme_sq_dir), "row 3", "repeats row 1", "s15/disgust1_2")


def test_missing_column_is_named(casme_sq_dir: Path) -> None:
    write_coding(casme_sq_dir, [row[:7] for row in GOOD_ROWS])
    with pytest.raises(DataError) as error:
        read_casme_sq(casme_sq_dir).samples
    assert_one_line(error, CODING, "row 1", "7 columns", "type")


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_casme_sq(tmp_path / "nowhere").samples
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_coding_file(tmp_path: Path) -> None:
    make_video(tmp_path / "CAS(ME)2", "15_0101disgustingteeth", [8])
    with pytest.raises(DataError) as error:
        read_casme_sq(tmp_path / "CAS(ME)2").samples
    assert_one_line(error, "*code_final*.xlsx")


def test_several_coding_files_and_coding_file_picks_one(casme_sq_dir: Path) -> None:
    write_coding(casme_sq_dir, GOOD_ROWS[:1], name="code_final.xlsx")
    with pytest.raises(DataError) as error:
        read_casme_sq(casme_sq_dir).samples
    assert_one_line(error, "code_final.xlsx", CODING, "coding_file")
    picked = read_casme_sq(casme_sq_dir, coding_file=Path("code_final.xlsx")).samples
    assert [s.clip for s in picked] == ["anger1_1"]


def test_unreadable_workbook(casme_sq_dir: Path) -> None:
    (casme_sq_dir / CODING).write_bytes(b"not a workbook")
    with pytest.raises(DataError) as error:
        read_casme_sq(casme_sq_dir).samples
    assert_one_line(error, CODING, "cannot read")


def test_missing_frames_folder(tmp_path: Path) -> None:
    write_coding(tmp_path / "CAS(ME)2", GOOD_ROWS)
    with pytest.raises(DataError) as error:
        read_casme_sq(tmp_path / "CAS(ME)2").samples
    assert_one_line(error, "rawpic")
