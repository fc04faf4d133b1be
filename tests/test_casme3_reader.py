"""The CAS(ME)^3 Part A reader on hand-built trees in the native layout; quirks and bad inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.casme3 import (
    CASME3,
    LABEL_FILE_V2,
    MEB_V2_ROW_FIXES,
    find_frames_root,
    read_casme3,
)
from mer_bench.data.errata import LABEL_SPELLING, apply_errata
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError
from reader_checks import assert_one_line

HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
LABEL_DIR = Path("part_A") / "annotation"
FRAMES = Path("part_A") / "data" / "part_A"

GOOD_ROWS = [
    # deliberately not in (subject, clip) order: the reader sorts
    ["spNO.10", "f", 278, 279, 280, 18, "VII", "fear"],
    ["spNO.1", "j", 98, 100, 102, "26+25", "II", "Others"],  # 3 rows of the v2 file say 'Others'
    ["spNO.1", "b", 8, 10, 12, 4, "III", "disgust"],  # a single AU is a number cell
    ["spNO.10", "f", 280, 281, 285, "L2", "VII", "fear"],  # same video, the next clip
]


def write_label(root: Path, rows: list[list[object]], header: list[str] = HEADER,
                name: str = LABEL_FILE_V2, folder: Path = LABEL_DIR,
                sheet: str = "label") -> Path:
    (root / folder).mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    # the label sheet is not the first one: the reader picks it by name
    workbook.active.title = "readme"
    labels = workbook.create_sheet(sheet)
    labels.append(header)
    for row in rows:
        labels.append(row)
    path = root / folder / name
    workbook.save(path)
    return path


def make_video(root: Path, subject: str, video: str, numbers: range | list[int],
               frames: Path = FRAMES, color: bool = True, name: str = "{}.jpg") -> Path:
    video_dir = root / frames / subject / video
    color_dir = video_dir / "color" if color else video_dir
    color_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(color_dir / name.format(number)), pixel)
    if color:  # the release has depth frames beside the colour ones; the reader ignores them
        (video_dir / "depth").mkdir(exist_ok=True)
        cv2.imwrite(str(video_dir / "depth" / f"{numbers[0]}.png"), pixel[..., 0])
    return color_dir


@pytest.fixture()
def casme3_dir(tmp_path: Path) -> Path:
    root = tmp_path / "CAS(ME)3"
    write_label(root, GOOD_ROWS)
    make_video(root, "spNO.1", "b", range(1, 21))  # a whole video: frames 1..20, clip 8..12
    make_video(root, "spNO.1", "j", range(90, 111))
    make_video(root, "spNO.10", "f", range(270, 291))
    return root


def test_reads_samples_sorted_with_onset_in_the_clip_id(casme3_dir: Path) -> None:
    samples = read_casme3(casme3_dir)
    assert [s.sample_id for s in samples] == [
        "casme3/spNO.1/b_8",
        "casme3/spNO.1/j_98",
        "casme3/spNO.10/f_278",
        "casme3/spNO.10/f_280",
    ]
    assert {s.subject for s in samples} == {"spNO.1", "spNO.10"}
    assert all(s.fps == 30.0 and s.dataset == "casme3" for s in samples)


def test_key_frames_labels_aus_and_objective_class_kept_as_written(casme3_dir: Path) -> None:
    b, j, f1, f2 = read_casme3(casme3_dir)
    assert b.annotated == KeyFrames(onset=8, apex=10, offset=12)
    assert (b.emotion, b.action_units) == ("disgust", "4")
    assert (j.emotion, j.action_units) == ("Others", "26+25")  # case left to the errata
    assert f2.action_units == "L2"
    assert b.extra == {"coding_file": LABEL_FILE_V2, "coding_row": "4", "video": "b",
                       "objective_class": "III"}
    assert j.extra["objective_class"] == "II" and f1.extra["coding_row"] == "2"


def test_clip_is_its_onset_offset_range_in_numeric_order(casme3_dir: Path) -> None:
    b = read_casme3(casme3_dir)[0]
    assert b.frame_numbers == (8, 9, 10, 11, 12)  # '10.jpg' sorts before '8.jpg' as text
    assert [p.name for p in b.frame_paths] == ["8.jpg", "9.jpg", "10.jpg", "11.jpg", "12.jpg"]
    assert b.path_of(10) == casme3_dir / FRAMES / "spNO.1" / "b" / "color" / "10.jpg"


def test_two_clips_of_one_video_share_its_folder(casme3_dir: Path) -> None:
    first, second = read_casme3(casme3_dir)[2:]
    assert first.frame_numbers == (278, 279, 280) and second.frame_numbers[0] == 280
    assert first.path_of(280) == second.path_of(280)
    assert first.extra["video"] == second.extra["video"] == "f"


def test_errata_lower_case_the_others_label(casme3_dir: Path) -> None:
    fixed, applied = apply_errata(read_casme3(casme3_dir), CASME3.errata)
    assert fixed[1].emotion == "others"
    assert [(a.rule, a.sample_id) for a in applied] == [(LABEL_SPELLING.name,
                                                        "casme3/spNO.1/j_98")]


def test_frames_found_in_another_copy_layout_and_without_color_folders(tmp_path: Path) -> None:
    root = tmp_path / "CAS(ME)3"
    write_label(root, [GOOD_ROWS[2]], folder=Path("."))
    make_video(root, "spNO.1", "b", range(8, 13), frames=Path("ME_A_cropped"), color=False)
    (sample,) = read_casme3(root)
    assert sample.frame_paths[0] == root / "ME_A_cropped" / "spNO.1" / "b" / "8.jpg"


def test_zero_padded_frame_names_are_read_by_number(tmp_path: Path) -> None:
    root = tmp_path / "CAS(ME)3"
    write_label(root, [GOOD_ROWS[2]])
    make_video(root, "spNO.1", "b", range(5, 15), name="{:04d}.jpg")
    (sample,) = read_casme3(root)
    assert sample.frame_numbers == (8, 9, 10, 11, 12)
    assert sample.path_of(10).name == "0010.jpg"


def test_part_a_copy_preferred_over_part_b_and_frames_dir_picks_one(casme3_dir: Path) -> None:
    make_video(casme3_dir, "spNO.300", "a", [1], frames=Path("part_B") / "data")
    assert find_frames_root(casme3_dir) == casme3_dir / FRAMES
    make_video(casme3_dir, "spNO.1", "b", range(1, 21), frames=Path("part_A") / "full_cropped")
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir)
    assert_one_line(error, "several places", "frames_dir")
    write_label(casme3_dir, [GOOD_ROWS[2]])  # the cropped copy holds only that video
    (sample,) = read_casme3(casme3_dir, frames_dir=Path("part_A/full_cropped"))
    assert sample.frame_paths[0].parent == casme3_dir / "part_A/full_cropped/spNO.1/b/color"


def test_spec_describes_an_uncropped_30fps_dataset() -> None:
    assert (CASME3.name, CASME3.folder, CASME3.fps, CASME3.read) == (
        "casme3", "CAS(ME)3", 30.0, read_casme3)
    assert CASME3.face_crop and CASME3.write_twin is not None and CASME3.twin_version
    assert CASME3.errata[0] is LABEL_SPELLING and MEB_V2_ROW_FIXES in CASME3.errata


# --- the MEB corrections of the v2 workbook -------------------------------------------------------


def meb_sample(casme3_dir: Path, row: int, onset: int, apex: int, offset: int,
               coding_file: str = LABEL_FILE_V2):
    base = read_casme3(casme3_dir)[0]
    numbers = tuple(range(onset, offset + 1))
    return dataclasses.replace(
        base, frame_numbers=numbers, frame_paths=tuple(Path(f"{n}.jpg") for n in numbers),
        annotated=KeyFrames(onset, apex, offset),
        extra={**base.extra, "coding_file": coding_file, "coding_row": str(row)})


def test_meb_offset_fix_shrinks_the_clip(casme3_dir: Path) -> None:
    # e.g. an offset typed with an extra digit: 5..3460 where MEB has 34
    sample = meb_sample(casme3_dir, 710, onset=5, apex=5, offset=3460)
    fixed, what = MEB_V2_ROW_FIXES.fix(sample)
    assert fixed.annotated == KeyFrames(5, 5, 34)
    assert fixed.frame_numbers == tuple(range(5, 35)) and len(fixed.frame_paths) == 30
    assert "row 710" in what and "offset 3460 -> 34" in what


def test_meb_apex_fix_and_rows_it_does_not_touch(casme3_dir: Path) -> None:
    fixed, _ = MEB_V2_ROW_FIXES.fix(meb_sample(casme3_dir, 130, 150, 200, 170))
    assert fixed.annotated == KeyFrames(150, 160, 170)
    assert MEB_V2_ROW_FIXES.fix(meb_sample(casme3_dir, 131, 150, 200, 170)) is None
    other_file = meb_sample(casme3_dir, 130, 150, 200, 170, coding_file="copy.xlsx")
    assert MEB_V2_ROW_FIXES.fix(other_file) is None
    # the corrected offset is outside the frames read for this row: another copy, left alone
    assert MEB_V2_ROW_FIXES.fix(meb_sample(casme3_dir, 798, 100, 105, 110)) is None
    # the corrected apex would fall outside the row's onset..offset: left alone too
    assert MEB_V2_ROW_FIXES.fix(meb_sample(casme3_dir, 130, 215, 223, 231)) is None


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


BAD_ROWS = {
    "non_numeric_onset": (["spNO.1", "b", "8a", 10, 12, 4, "III", "disgust"], "Onset '8a'"),
    "non_numeric_offset": (["spNO.1", "b", 8, 10, "end", 4, "III", "disgust"], "Offset 'end'"),
    "non_numeric_apex": (["spNO.1", "b", 8, "x", 12, 4, "III", "disgust"], "Apex 'x'"),
    "onset_after_offset": (["spNO.1", "b", 12, 10, 8, 4, "III", "disgust"], "after Offset"),
    "unknown_emotion": (["spNO.1", "b", 8, 10, 12, 4, "III", "contempt"], "emotion 'contempt'"),
    "empty_emotion": (["spNO.1", "b", 8, 10, 12, 4, "III", None], "emotion (empty)"),
    "bad_objective_class": (["spNO.1", "b", 8, 10, 12, 4, "VIII", "disgust"], "Objective class"),
    "bad_subject": (["subject one", "b", 8, 10, 12, 4, "III", "disgust"], "Subject"),
    "subject_folder_missing": (["spNO.7", "b", 8, 10, 12, 4, "III", "disgust"], "spNO.7"),
    "video_folder_missing": (["spNO.1", "c", 8, 10, 12, 4, "III", "disgust"], "video folder c"),
    "offset_beyond_video": (["spNO.1", "b", 18, 20, 25, 4, "III", "disgust"], "frame 21"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_names_file_and_row(tmp_path: Path, case: str) -> None:
    row, fragment = BAD_ROWS[case]
    root = tmp_path / "CAS(ME)3"
    write_label(root, [GOOD_ROWS[1], row])  # the bad row is Excel row 3
    make_video(root, "spNO.1", "b", range(1, 21))
    make_video(root, "spNO.1", "j", range(90, 111))
    with pytest.raises(DataError) as error:
        read_casme3(root)
    assert_one_line(error, LABEL_FILE_V2, "row 3", fragment)


def test_frame_missing_inside_a_clip_is_named(casme3_dir: Path) -> None:
    (casme3_dir / FRAMES / "spNO.1" / "b" / "color" / "10.jpg").unlink()
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir)
    assert_one_line(error, "row 4", "frame 10 of the clip 8..12", "spNO.1/b/color")


def test_duplicate_clip_names_both_rows(casme3_dir: Path) -> None:
    write_label(casme3_dir, [GOOD_ROWS[2], GOOD_ROWS[1], GOOD_ROWS[2]])
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir)
    assert_one_line(error, "row 4", "repeats row 2", "onset 8")


def test_missing_required_column_is_named(casme3_dir: Path) -> None:
    write_label(casme3_dir, GOOD_ROWS, header=[h if h != "Onset" else "Start" for h in HEADER])
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir)
    assert_one_line(error, LABEL_FILE_V2, "row 1", "'Onset'")


def test_header_names_match_ignoring_case_and_spaces(casme3_dir: Path) -> None:
    header = [h.upper() if h != "Objective class" else " objective  Class" for h in HEADER]
    write_label(casme3_dir, GOOD_ROWS, header=header)
    assert read_casme3(casme3_dir)[0].extra["objective_class"] == "III"


def test_blank_rows_are_skipped(casme3_dir: Path) -> None:
    write_label(casme3_dir, [GOOD_ROWS[2], [None] * 8, GOOD_ROWS[1]])
    assert [s.extra["coding_row"] for s in read_casme3(casme3_dir)] == ["2", "4"]


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_casme3(tmp_path / "nowhere")
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_label_file(tmp_path: Path) -> None:
    make_video(tmp_path / "CAS(ME)3", "spNO.1", "b", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme3(tmp_path / "CAS(ME)3")
    assert_one_line(error, "cas(me)3_part_A_ME_label_JpgIndex*.xlsx", "part_A/annotation")


def test_several_label_files_are_named_and_label_file_picks_one(casme3_dir: Path) -> None:
    write_label(casme3_dir, GOOD_ROWS[:1], folder=Path("."),
                name="cas(me)3_part_A_ME_label_JpgIndex_v2_refined.xlsx")
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir)
    assert_one_line(error, "_v2_refined.xlsx", LABEL_FILE_V2, "label_file")
    picked = read_casme3(casme3_dir,
                         label_file=Path("cas(me)3_part_A_ME_label_JpgIndex_v2_refined.xlsx"))
    assert [s.clip for s in picked] == ["f_278"]


def test_excel_lock_file_is_not_a_label_file(casme3_dir: Path) -> None:
    (casme3_dir / LABEL_DIR / f"~${LABEL_FILE_V2}").write_bytes(b"lock")
    assert len(read_casme3(casme3_dir)) == 4


def test_unreadable_workbook(casme3_dir: Path) -> None:
    (casme3_dir / LABEL_DIR / LABEL_FILE_V2).write_bytes(b"not a workbook")
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir)
    assert_one_line(error, LABEL_FILE_V2, "cannot read")


def test_no_subject_folders(tmp_path: Path) -> None:
    root = tmp_path / "CAS(ME)3"
    write_label(root, GOOD_ROWS)
    with pytest.raises(DataError) as error:
        read_casme3(root)
    assert_one_line(error, str(root), "spNO.<n>")
