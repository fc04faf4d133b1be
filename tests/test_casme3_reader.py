"""The CAS(ME)^3 Part A reader on hand-built trees in the native layout; quirks and bad inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from mer_bench.data.casme3 import (
    CASME3,
    LABEL_FILE_V2,
    MEB_V2_CORRECTIONS,
    MEB_V2_ROW_FIXES,
    find_frames_root,
    read_casme3,
)
from mer_bench.data.errata import APEX_RULES
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.data.spec import DatasetSpec
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
LABEL_DIR = Path("part_A") / "annotation"
FRAMES = Path("part_A") / "data" / "part_A"

GOOD_ROWS = [
    # deliberately not in (subject, clip) order: the reader sorts
    ["spNO.10", "f", "278", "279", "280", 18, "VII", "fear"],  # frame numbers are text in v2
    ["spNO.1", "j", 98, 100, 102, "26+25", "II", "Others"],  # 3 rows of the v2 file say 'Others'
    ["spNO.1", "b", 8, 10, 12, 4, "III", "disgust"],  # a single AU is a number cell
    ["spNO.10", "f", "280", "281", "285", "L2", "VII", "fear"],  # same video, the next clip
]


def write_label(root: Path, rows: list[list[object]], header: list[str] = HEADER,
                name: str = LABEL_FILE_V2, folder: Path = LABEL_DIR,
                sheet: str = "label") -> Path:
    """The workbook as the v2 file is: ``Sheet1`` (rows of something else) before the label
    sheet, and an empty ``Sheet3`` after it; the reader picks the label sheet by name."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    workbook.active.title = "Sheet1"
    workbook.active.append(["Subject", "Filename", "Frames"])
    for number in range(1, 12):
        workbook.active.append([f"spNO.{number}", "a", 3000 + number])
    labels = workbook.create_sheet(sheet)
    labels.append(header)
    for row in rows:
        labels.append(row)
    workbook.create_sheet("Sheet3")
    path = root / folder / name
    workbook.save(path)
    return path


def load(root: Path, spec: DatasetSpec = CASME3):
    return load_dataset_dir(spec, root)


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
    samples = read_casme3(casme3_dir).samples
    assert [s.sample_id for s in samples] == [
        "casme3/spNO.1/b_8",
        "casme3/spNO.1/j_98",
        "casme3/spNO.10/f_278",
        "casme3/spNO.10/f_280",
    ]
    assert {s.subject for s in samples} == {"spNO.1", "spNO.10"}
    assert all(s.fps == 30.0 and s.dataset == "casme3" for s in samples)


def test_key_frames_labels_aus_and_objective_class_kept_as_written(casme3_dir: Path) -> None:
    b, j, f1, f2 = read_casme3(casme3_dir).samples
    assert b.annotated == KeyFrames(onset=8, apex=10, offset=12)
    assert (b.emotion, b.action_units) == ("disgust", "4")
    assert (j.emotion, j.action_units) == ("Others", "26+25")  # case left to the errata
    assert f2.action_units == "L2"
    assert b.extra == {"coding_file": LABEL_FILE_V2, "coding_row": "4", "video": "b",
                       "objective_class": "III"}
    assert j.extra["objective_class"] == "II" and f1.extra["coding_row"] == "2"


def test_clip_is_its_onset_offset_range_in_numeric_order(casme3_dir: Path) -> None:
    assert read_casme3(casme3_dir).samples[0].frame_numbers == ()  # looked up after errata
    b = load(casme3_dir).samples[0]
    assert b.frame_numbers == (8, 9, 10, 11, 12)  # '10.jpg' sorts before '8.jpg' as text
    assert [p.name for p in b.frame_paths] == ["8.jpg", "9.jpg", "10.jpg", "11.jpg", "12.jpg"]
    assert b.path_of(10) == casme3_dir / FRAMES / "spNO.1" / "b" / "color" / "10.jpg"


def test_two_clips_of_one_video_share_its_folder(casme3_dir: Path) -> None:
    first, second = load(casme3_dir).samples[2:]
    assert first.frame_numbers == (278, 279, 280) and second.frame_numbers[0] == 280
    assert first.path_of(280) == second.path_of(280)
    assert first.extra["video"] == second.extra["video"] == "f"


def test_text_frame_numbers_are_numbers(casme3_dir: Path) -> None:
    f1, f2 = read_casme3(casme3_dir).samples[2:]
    assert (f1.annotated, f2.annotated) == (KeyFrames(278, 279, 280), KeyFrames(280, 281, 285))


def test_others_written_capitalised_is_a_normalisation_not_an_erratum(casme3_dir: Path) -> None:
    loaded = load(casme3_dir)
    assert loaded.samples[1].emotion == "others"
    assert [(n.sample_id, n.written) for n in loaded.normalised] == [
        ("casme3/spNO.1/j_98", "Others")]
    assert loaded.fixes == []


def test_frames_found_in_another_copy_layout_and_without_color_folders(tmp_path: Path) -> None:
    root = tmp_path / "CAS(ME)3"
    write_label(root, [GOOD_ROWS[2]], folder=Path("."))
    make_video(root, "spNO.1", "b", range(8, 13), frames=Path("ME_A_cropped"), color=False)
    (sample,) = load(root).samples
    assert sample.frame_paths[0] == root / "ME_A_cropped" / "spNO.1" / "b" / "8.jpg"


def test_zero_padded_frame_names_are_read_by_number(tmp_path: Path) -> None:
    root = tmp_path / "CAS(ME)3"
    write_label(root, [GOOD_ROWS[2]])
    make_video(root, "spNO.1", "b", range(5, 15), name="{:04d}.jpg")
    (sample,) = load(root).samples
    assert sample.frame_numbers == (8, 9, 10, 11, 12)
    assert sample.path_of(10).name == "0010.jpg"


def test_part_a_copy_preferred_over_part_b_and_frames_dir_picks_one(casme3_dir: Path) -> None:
    make_video(casme3_dir, "spNO.300", "a", [1], frames=Path("part_B") / "data")
    assert find_frames_root(casme3_dir) == casme3_dir / FRAMES
    make_video(casme3_dir, "spNO.1", "b", range(1, 21), frames=Path("part_A") / "full_cropped")
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir).samples
    assert_one_line(error, "several places", "frames_dir")
    write_label(casme3_dir, [GOOD_ROWS[2]])  # the cropped copy holds only that video
    rows = read_casme3(casme3_dir, frames_dir=Path("part_A/full_cropped"))
    ((numbers, paths),) = [rows.frames_of(sample) for sample in rows.samples]
    assert paths[0].parent == casme3_dir / "part_A/full_cropped/spNO.1/b/color"


def test_spec_describes_an_uncropped_30fps_dataset() -> None:
    assert (CASME3.name, CASME3.folder, CASME3.fps, CASME3.read) == (
        "casme3", "CAS(ME)3", 30.0, read_casme3)
    assert CASME3.face_crop and CASME3.write_twin is not None and CASME3.twin_version
    assert CASME3.errata == (MEB_V2_ROW_FIXES, *APEX_RULES)


# --- the six rows of the v2 workbook that MEB corrects ---------------------------------------------

# Each row as cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx writes it (Excel row, cells; mer-bench
# issue 15), and the key frames MEB corrects it to (tvaranka/meb, Casme3A).
V2_ROWS = {
    130: (["spNO.149", "d", "112", "83", "358", "T28+14", "VII", "fear"], KeyFrames(112, 160, 358)),
    710: (["spNO.214", "c", "5", "5", "3460", "17+4", "VII", "disgust"], KeyFrames(5, 5, 34)),
    751: (["spNO.216", "d", "3647", "2668", "2694", 38, "VII", "others"],
          KeyFrames(2647, 2668, 2694)),
    752: (["spNO.216", "e", "0", "0", "25", 14, "VII", "others"], KeyFrames(1, 1, 25)),
    798: (["spNO.40", "e", "1812", "1824", "0", 18, "VII", "others"],
          KeyFrames(1812, 1824, 1845)),
    800: (["spNO.40", "e", "2327", "2363", "0", 14, "VII", "others"],
          KeyFrames(2327, 2363, 2403)),
}


@pytest.fixture()
def v2_dir(tmp_path: Path) -> Path:
    """The six rows at their Excel rows (filler rows between), with the frames of the corrected
    rows only: the videos hold no frame 0, nothing past 34 in spNO.214/c, nothing before 2647 in
    spNO.216/d."""
    root = tmp_path / "CAS(ME)3"
    rows: list[list[object]] = []
    for excel_row in sorted(V2_ROWS):
        while len(rows) + 2 < excel_row:  # filler: overlapping clips of spNO.1's video b
            onset = len(rows) + 1
            rows.append(["spNO.1", "b", str(onset), str(onset + 1), str(onset + 2), 4, "III",
                         "disgust"])
        rows.append(V2_ROWS[excel_row][0])
    write_label(root, rows)
    make_video(root, "spNO.1", "b", range(1, len(rows) + 3))
    for (subject, video, *_), fixed in V2_ROWS.values():
        make_video(root, subject, video, range(fixed.onset, fixed.offset + 1))
    return root


def test_the_six_v2_rows_are_corrected_then_read_from_their_corrected_frames(v2_dir) -> None:
    loaded = load(v2_dir)
    assert not loaded.excluded
    by_row = {int(s.extra["coding_row"]): s for s in loaded.samples}
    for excel_row, (written, fixed) in V2_ROWS.items():
        sample = by_row[excel_row]
        assert sample.annotated == fixed, excel_row
        assert sample.frame_numbers == tuple(range(fixed.onset, fixed.offset + 1)), excel_row
        assert sample.clip == f"{written[1]}_{written[2]}"  # the id keeps the onset as written
    fixes = {f.sample_id: f for f in loaded.fixes}
    assert len(fixes) == 6 and {f.rule for f in fixes.values()} == {"casme3-meb-v2-rows"}
    assert fixes["casme3/spNO.216/d_3647"].what == (
        f"{LABEL_FILE_V2} row 751: onset after apex and offset; onset 3647 -> 2647 (MEB)")
    assert "offset 3460 -> 34" in fixes["casme3/spNO.214/c_5"].what
    assert "onset 0 -> 1, apex 0 -> 1" in fixes["casme3/spNO.216/e_0"].what


def test_without_meb_five_rows_are_excluded_each_with_its_reason(v2_dir) -> None:
    loaded = load(v2_dir, dataclasses.replace(CASME3, errata=APEX_RULES))
    reasons = {int(str(e).split(": row ")[1].split(":")[0]): str(e) for e in loaded.excluded}
    assert sorted(reasons) == [710, 751, 752, 798, 800]
    assert "Onset 3647 is after Offset 2694" in reasons[751]
    assert "frame 35 of the clip 5..3460 is missing" in reasons[710]
    assert "frame 0 of the clip 0..25 is missing" in reasons[752]
    assert "Onset 1812 is after Offset 0" in reasons[798]
    # row 130's apex 83 lies 29 frames before its onset: the generic rule makes it missing
    (row_130,) = [s for s in loaded.samples if s.extra["coding_row"] == "130"]
    assert row_130.annotated == KeyFrames(112, None, 358)


def test_a_row_not_as_v2_writes_it_is_not_corrected(v2_dir) -> None:
    rows = [V2_ROWS[751][0][:2] + ["2647", "2668", "2694"] + V2_ROWS[751][0][5:]]  # corrected copy
    write_label(v2_dir, rows)
    loaded = load(v2_dir)
    assert loaded.fixes == [] and loaded.samples[0].annotated == KeyFrames(2647, 2668, 2694)


def test_meb_corrections_are_the_six_rows_of_the_issue() -> None:
    assert {c.excel_row: (c.subject, c.video, c.written, c.corrected)
            for c in MEB_V2_CORRECTIONS} == {
        row: (cells[0], cells[1], KeyFrames(*map(int, cells[2:5])), fixed)
        for row, (cells, fixed) in V2_ROWS.items()}


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
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    row, fragment = BAD_ROWS[case]
    root = tmp_path / "CAS(ME)3"
    write_label(root, [GOOD_ROWS[1], row])  # the bad row is Excel row 3
    make_video(root, "spNO.1", "b", range(1, 21))
    make_video(root, "spNO.1", "j", range(90, 111))
    loaded = load(root)
    assert_excluded(loaded, LABEL_FILE_V2, "row 3", fragment)
    assert [s.clip for s in loaded.samples] == ["j_98"]


def test_frame_missing_inside_a_clip_is_named(casme3_dir: Path) -> None:
    (casme3_dir / FRAMES / "spNO.1" / "b" / "color" / "10.jpg").unlink()
    assert_excluded(load(casme3_dir), "row 4", "frame 10 of the clip 8..12", "spNO.1/b/color")


def test_duplicate_clip_names_both_rows(casme3_dir: Path) -> None:
    write_label(casme3_dir, [GOOD_ROWS[2], GOOD_ROWS[1], GOOD_ROWS[2]])
    assert_excluded(read_casme3(casme3_dir), "row 4", "repeats row 2", "onset 8")


def test_missing_required_column_is_named(casme3_dir: Path) -> None:
    write_label(casme3_dir, GOOD_ROWS, header=[h if h != "Onset" else "Start" for h in HEADER])
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir).samples
    assert_one_line(error, LABEL_FILE_V2, "row 1", "'Onset'")


def test_header_names_match_ignoring_case_and_spaces(casme3_dir: Path) -> None:
    header = [h.upper() if h != "Objective class" else " objective  Class" for h in HEADER]
    write_label(casme3_dir, GOOD_ROWS, header=header)
    assert read_casme3(casme3_dir).samples[0].extra["objective_class"] == "III"


def test_the_label_sheet_is_read_among_the_v2_files_other_sheets(casme3_dir: Path) -> None:
    sheets = pd.ExcelFile(casme3_dir / LABEL_DIR / LABEL_FILE_V2).sheet_names
    assert sheets == ["Sheet1", "label", "Sheet3"]
    assert len(read_casme3(casme3_dir).samples) == 4


def test_blank_rows_are_skipped(casme3_dir: Path) -> None:
    write_label(casme3_dir, [GOOD_ROWS[2], [None] * 8, GOOD_ROWS[1]])
    assert [s.extra["coding_row"] for s in read_casme3(casme3_dir).samples] == ["2", "4"]


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_casme3(tmp_path / "nowhere").samples
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_label_file(tmp_path: Path) -> None:
    make_video(tmp_path / "CAS(ME)3", "spNO.1", "b", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme3(tmp_path / "CAS(ME)3").samples
    assert_one_line(error, "cas(me)3_part_A_ME_label_JpgIndex*.xlsx", "part_A/annotation")


def test_several_label_files_are_named_and_label_file_picks_one(casme3_dir: Path) -> None:
    write_label(casme3_dir, GOOD_ROWS[:1], folder=Path("."),
                name="cas(me)3_part_A_ME_label_JpgIndex_v2_refined.xlsx")
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir).samples
    assert_one_line(error, "_v2_refined.xlsx", LABEL_FILE_V2, "label_file")
    picked = read_casme3(casme3_dir,
                         label_file=Path("cas(me)3_part_A_ME_label_JpgIndex_v2_refined.xlsx")).samples
    assert [s.clip for s in picked] == ["f_278"]


def test_excel_lock_file_is_not_a_label_file(casme3_dir: Path) -> None:
    (casme3_dir / LABEL_DIR / f"~${LABEL_FILE_V2}").write_bytes(b"lock")
    assert len(read_casme3(casme3_dir).samples) == 4


def test_unreadable_workbook(casme3_dir: Path) -> None:
    (casme3_dir / LABEL_DIR / LABEL_FILE_V2).write_bytes(b"not a workbook")
    with pytest.raises(DataError) as error:
        read_casme3(casme3_dir).samples
    assert_one_line(error, LABEL_FILE_V2, "cannot read")


def test_no_subject_folders(tmp_path: Path) -> None:
    root = tmp_path / "CAS(ME)3"
    write_label(root, GOOD_ROWS)
    with pytest.raises(DataError) as error:
        read_casme3(root).samples
    assert_one_line(error, str(root), "spNO.<n>")
