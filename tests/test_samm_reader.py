"""The SAMM reader on hand-built trees in the exact native layout, quirks and bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.doctor import clip_problems
from mer_bench.data.errata import apply_errata
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.data.samm import SAMM, read_samm
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

CODING = "SAMM_Micro_FACS_Codes_v2.xlsx"
HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
          "Duration", "Type", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
# The release puts a title and notes block above the header, which is on Excel row 14.
PREAMBLE = [["SAMM Micro-Movement FACS Codes"], ["Version 2"], [], ["Notes:"],
            ["Frame numbers refer to the image files"], [], [], [], [], [], [], [], []]


def row(subject: object, clip: str, onset: object, apex: object, offset: object,
        emotion: object = "Anger", aus: str = "4+7", objective: object = 3) -> list[object]:
    return [subject, clip, 1, onset, apex, offset, None, "Micro - 1/2", aus, emotion, objective,
            None]


# deliberately not in (subject, clip) order: the reader sorts
GOOD_ROWS = [
    row("011", "011_2_5", 9997, 9999, 10002, "happiness", "R12", 1),  # 4-digit names, crosses 10000
    row("006", "006_1_2", 5562, 5570, 5578, "Anger", "4+7", 3),
    row(6, "006_1_3", 120, -1, 126, "Other", "L2", 7),  # subject as a number; apex missing
]


def write_coding(dataset_dir: Path, rows: list[list[object]], *, header: list[object] = HEADER,
                 preamble: list[list[object]] = PREAMBLE, name: str = CODING,
                 sheet: str = "MICRO_ONLY", other_sheet: bool = True) -> Path:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    first = workbook.active
    if other_sheet:
        # a notes sheet before the micro sheet, as multi-sheet copies of the workbook have
        first.title = "README"
        first.append(["Subject", "Filename", "see the MICRO_ONLY sheet"])
        target = workbook.create_sheet(sheet)
    else:
        first.title = sheet
        target = first
    for line in preamble:
        target.append(line)
    target.append(header)
    for line in rows:
        target.append(line)
    path = dataset_dir / name
    workbook.save(path)
    return path


def make_clip(frames_root: Path, subject: str, clip: str, numbers: range | list[int],
              digits: int = 5) -> Path:
    clip_dir = frames_root / subject / clip
    clip_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(clip_dir / f"{subject}_{number:0{digits}d}.jpg"), pixel)
    return clip_dir


def make_good_clips(frames_root: Path) -> None:
    make_clip(frames_root, "011", "011_2_5", range(9997, 10003), digits=4)
    make_clip(frames_root, "006", "006_1_2", range(5562, 5579))
    make_clip(frames_root, "006", "006_1_3", range(120, 127))


@pytest.fixture()
def samm_dir(tmp_path: Path) -> Path:
    root = tmp_path / "SAMM"
    write_coding(root, GOOD_ROWS)
    make_good_clips(root / "SAMM")  # the release's frame folder beside the workbook
    return root


def test_reads_samples_sorted_by_subject_and_clip(samm_dir: Path) -> None:
    samples = read_samm(samm_dir).samples
    assert [s.sample_id for s in samples] == ["samm/006/006_1_2", "samm/006/006_1_3",
                                              "samm/011/011_2_5"]
    assert {s.subject for s in samples} == {"006", "011"}
    assert all(s.fps == 200.0 and s.dataset == "samm" for s in samples)


def test_header_below_the_title_block_is_found_on_the_micro_sheet(samm_dir: Path) -> None:
    first = read_samm(samm_dir).samples[0]
    assert first.extra["coding_sheet"] == "MICRO_ONLY"
    assert first.extra["coding_row"] == "16"  # header on Excel row 14, 006_1_2 is the 2nd row
    assert first.extra["coding_file"] == CODING


def test_key_frames_labels_and_columns_kept_as_written(samm_dir: Path) -> None:
    anger, other, happy = read_samm(samm_dir).samples
    assert anger.annotated == KeyFrames(onset=5562, apex=5570, offset=5578)
    assert other.annotated == KeyFrames(onset=120, apex=None, offset=126)  # -1: no apex
    assert happy.emotion == "happiness" and anger.emotion == "Anger"  # case left to loading
    assert happy.action_units == "R12"
    assert anger.extra["objective_class"] == "3" and other.extra["objective_class"] == "7"
    assert anger.extra["inducement_code"] == "1"


def test_frames_sorted_numerically_across_digit_counts(samm_dir: Path) -> None:
    happy = read_samm(samm_dir).samples[2]
    assert happy.frame_numbers == (9997, 9998, 9999, 10000, 10001, 10002)
    assert [p.name for p in happy.frame_paths] == [
        "011_9997.jpg", "011_9998.jpg", "011_9999.jpg", "011_10000.jpg", "011_10001.jpg",
        "011_10002.jpg"]
    assert happy.path_of(10000).name == "011_10000.jpg"


def test_single_sheet_header_on_row_one_and_flat_frame_folders(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, GOOD_ROWS[1:2], preamble=[], sheet="Sheet1", other_sheet=False)
    make_clip(root, "006", "006_1_2", range(5562, 5579))  # subject folders beside the workbook
    (sample,) = read_samm(root).samples
    assert sample.extra["coding_row"] == "2" and sample.frame_numbers[0] == 5562


def test_dated_workbook_name_is_found(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, GOOD_ROWS[1:2], name="SAMM_20181215_Micro_FACS_Codes_v2.xlsx")
    make_clip(root / "SAMM", "006", "006_1_2", range(5562, 5579))
    assert len(read_samm(root).samples) == 1


@pytest.mark.parametrize("written", [-1, "-1", None, "/", "-"])
def test_missing_apex_markers_read_as_none(tmp_path: Path, written: object) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [row("006", "006_1_3", 120, written, 126)])
    make_clip(root / "SAMM", "006", "006_1_3", range(120, 127))
    assert read_samm(root).samples[0].annotated.apex is None


def test_errata_leave_a_missing_apex_to_the_fill_rule_and_loading_normalises_the_label_apart(
        samm_dir: Path) -> None:
    loaded = load_dataset_dir(SAMM, samm_dir)
    other = loaded.samples[1]
    # a missing apex is not a correction: it stays missing for mer_bench.missing_apex to fill
    assert other.annotated == KeyFrames(120, None, 126) and other.emotion == "other"
    assert loaded.fixes == []
    # SAMM writes its labels capitalised: a normalisation, not one "erratum" per row
    assert {(n.sample_id, n.written) for n in loaded.normalised} == {
        ("samm/006/006_1_2", "Anger"), ("samm/006/006_1_3", "Other")}


def test_offset_after_the_last_frame_is_read_as_written_and_fixed_by_erratum(tmp_path: Path
                                                                            ) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [row("006", "006_1_2", 5562, 5570, 5793)])  # typo: 5739 -> 5793
    make_clip(root / "SAMM", "006", "006_1_2", range(5562, 5579))
    (sample,) = read_samm(root).samples
    assert sample.annotated.offset == 5793
    (fixed,), applied = apply_errata([sample], SAMM.errata)
    assert fixed.annotated == KeyFrames(5562, 5570, 5578)
    assert [f.rule for f in applied] == ["offset-past-last-frame"]


# The two stray apexes of SAMM_Micro_FACS_Codes_v2.xlsx (mer-bench issue 15): 028_4_1 has apex
# 1143 just past its offset 1134, a slip at the clip's edge; 032_3_1 has apex 1930 for onset 4896
# and offset 4970, likely a slipped digit.


def test_an_apex_just_past_the_offset_is_clamped(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [row("028", "028_4_1", 1100, 1143, 1134, "Contempt")])
    make_clip(root / "SAMM", "028", "028_4_1", range(1100, 1135))
    loaded = load_dataset_dir(SAMM, root)
    (sample,) = loaded.samples
    assert sample.annotated == KeyFrames(1100, 1134, 1134)
    (fix,) = loaded.fixes
    assert fix.rule == "apex-outside-clamped" and "9 frames outside" in fix.what


def test_an_apex_far_outside_its_clip_is_missing_not_clamped(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [row("032", "032_3_1", 4896, 1930, 4970, "Anger")])
    make_clip(root / "SAMM", "032", "032_3_1", range(4896, 4971))
    loaded = load_dataset_dir(SAMM, root)
    (sample,) = loaded.samples
    assert sample.annotated == KeyFrames(4896, None, 4970)  # not 4896: no motion onset -> apex
    (fix,) = loaded.fixes
    assert fix.rule == "apex-far-outside-missing" and "2966 frames outside" in fix.what


def test_gap_inside_a_clip_is_left_to_the_doctor(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [row("006", "006_1_2", 5562, 5570, 5578)])
    make_clip(root / "SAMM", "006", "006_1_2", [n for n in range(5562, 5579) if n != 5565])
    (sample,) = read_samm(root).samples
    assert 5565 not in sample.frame_numbers
    assert clip_problems(sample) == ["samm/006/006_1_2: frames missing inside the clip "
                                     "(5565..5565)"]


def test_spec_marks_samm_for_face_cropping() -> None:
    assert (SAMM.name, SAMM.folder, SAMM.fps, SAMM.face_crop) == ("samm", "SAMM", 200.0, True)
    assert SAMM.read is read_samm and SAMM.write_twin is not None and SAMM.twin_version
    assert [rule.name for rule in SAMM.errata] == [
        "offset-past-last-frame", "apex-outside-clamped", "apex-far-outside-missing"]


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_samm(tmp_path / "SAMM").samples
    assert_one_line(error, str(tmp_path / "SAMM"))


def test_missing_coding_file(tmp_path: Path) -> None:
    make_clip(tmp_path / "SAMM" / "SAMM", "006", "006_1_2", range(5562, 5579))
    with pytest.raises(DataError) as error:
        read_samm(tmp_path / "SAMM").samples
    assert_one_line(error, str(tmp_path / "SAMM"), "SAMM*Micro_FACS_Codes*.xlsx", CODING)


def test_several_coding_files_are_named(samm_dir: Path) -> None:
    write_coding(samm_dir, GOOD_ROWS, name="SAMM_20181215_Micro_FACS_Codes_v2.xlsx")
    with pytest.raises(DataError) as error:
        read_samm(samm_dir).samples
    assert_one_line(error, "SAMM_20181215_Micro_FACS_Codes_v2.xlsx", CODING, "keep one")
    assert len(read_samm(samm_dir, coding_file=Path(CODING)).samples) == 3


def test_excel_lock_file_is_ignored(samm_dir: Path) -> None:
    (samm_dir / f"~${CODING}").write_bytes(b"lock")
    assert len(read_samm(samm_dir).samples) == 3


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    header = [("Onset" if h == "Onset Frame" else h) for h in HEADER]
    write_coding(root, GOOD_ROWS, header=header)
    with pytest.raises(DataError) as error:
        read_samm(root).samples
    assert_one_line(error, CODING, "sheet MICRO_ONLY", "row 14", "'Onset Frame'")


def test_no_header_row_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, GOOD_ROWS, header=["Participant", "Clip", *HEADER[2:]])
    with pytest.raises(DataError) as error:
        read_samm(root).samples
    assert_one_line(error, CODING, "MICRO_ONLY", "'Subject' and 'Filename'")


BAD_ROWS = {
    "non_numeric_onset": (row("006", "006_1_2", "5562a", 5570, 5578), "Onset Frame '5562a'"),
    "non_numeric_offset": (row("006", "006_1_2", 5562, 5570, "end"), "Offset Frame 'end'"),
    "non_numeric_apex": (row("006", "006_1_2", 5562, "peak", 5578), "Apex Frame 'peak'"),
    "onset_after_offset": (row("006", "006_1_2", 5578, 5570, 5562), "after Offset Frame"),
    "unknown_emotion": (row("006", "006_1_2", 5562, 5570, 5578, "Angry"), "'Angry'"),
    "empty_emotion": (row("006", "006_1_2", 5562, 5570, 5578, None), "Estimated Emotion"),
    "onset_frame_absent": (row("006", "006_1_2", 5561, 5570, 5578), "Onset Frame 5561"),
    "apex_frame_in_a_gap": (row("006", "006_1_2", 5562, 5566, 5578), "Apex Frame 5566"),
    "clip_folder_missing": (row("006", "006_9_9", 5562, 5570, 5578), "006_9_9"),
    "bad_subject": (row("participant six", "006_1_2", 5562, 5570, 5578), "Subject"),
    "duplicate_clip": (row(6, "006_1_3", 120, 123, 126), "repeats row 15"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    bad, fragment = BAD_ROWS[case]
    root = tmp_path / "SAMM"
    # the bad row is the second data row: Excel row 16
    write_coding(root, [GOOD_ROWS[2], bad])
    make_clip(root / "SAMM", "006", "006_1_3", range(120, 127))
    make_clip(root / "SAMM", "006", "006_1_2", [n for n in range(5562, 5579) if n != 5566])
    loaded = load_dataset_dir(SAMM, root)
    assert_excluded(loaded, CODING, "row 16", fragment)
    assert [s.clip for s in loaded.samples] == ["006_1_3"]


def test_clip_folder_without_frames(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [GOOD_ROWS[1]])
    clip_dir = make_clip(root / "SAMM", "006", "006_1_2", [])
    (clip_dir / "Thumbs.db").write_bytes(b"")
    assert_excluded(read_samm(root), CODING, "row 15", "no <subject>_<N>.jpg frames")


def test_two_files_for_one_frame_number(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    write_coding(root, [GOOD_ROWS[1]])
    clip_dir = make_clip(root / "SAMM", "006", "006_1_2", range(5562, 5579))
    cv2.imwrite(str(clip_dir / "006_5570.jpg"), np.zeros((4, 4, 3), np.uint8))
    assert_excluded(read_samm(root), CODING, "row 15", "both frame 5570")


def test_unreadable_spreadsheet(tmp_path: Path) -> None:
    root = tmp_path / "SAMM"
    root.mkdir()
    (root / CODING).write_bytes(b"not a workbook")
    with pytest.raises(DataError) as error:
        read_samm(root).samples
    assert_one_line(error, CODING, "cannot read")
