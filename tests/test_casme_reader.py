"""The CASME (I) reader on hand-built trees in the exact native layout, quirks and bad inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.casme import CASME, CASME_ERRATA, read_casme
from mer_bench.data.doctor import clip_problems
from mer_bench.data.errata import apply_errata
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

# The release's header: blank cells at positions 2 and 7, durations 'Onset' / 'Total' in ms.
HEADER = ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Onset",
          "Total", "AU", "Emotion"]
CODING = "casme.xlsx"


def write_coding(dataset_dir: Path, rows: list[list[object]], header: list[str | None] = HEADER,
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


def make_clip(dataset_dir: Path, subject: str, clip: str, numbers: range | list[int],
              folder: str | None = "Cropped", name: str = "reg_{clip}-{n}.jpg") -> Path:
    clip_dir = (dataset_dir / folder if folder else dataset_dir) / subject / clip
    clip_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(clip_dir / name.format(clip=clip, n=number)), pixel)
    return clip_dir


GOOD_ROWS = [
    # deliberately not in (subject, clip) order: the reader sorts
    [12, "EP03_1", None, 98, "/", None, 102, None, 83.3, 83.3, "4+17", "repression"],
    [1, "EP01_5", None, 8, 10, 11, 12, None, 50.0, 83.3, "12", "happiness"],
    [1, "EP01_12", None, 46, 48, "\\", 50, None, 50.0, 83.3, "4", " tense "],
]


@pytest.fixture()
def casme_dir(tmp_path: Path) -> Path:
    root = tmp_path / "CASME"
    write_coding(root, GOOD_ROWS)
    make_clip(root, "sub01", "EP01_5", range(8, 13))  # -8..-12: '-10' sorts before '-8' as text
    make_clip(root, "sub01", "EP01_12", range(46, 51))
    make_clip(root, "sub12", "EP03_1", range(98, 103))  # 98, 99, 100 ...
    return root


def test_reads_samples_sorted_by_subject_and_clip(casme_dir: Path) -> None:
    samples = read_casme(casme_dir).samples
    assert [s.sample_id for s in samples] == [
        "casme/sub01/EP01_12", "casme/sub01/EP01_5", "casme/sub12/EP03_1"]
    assert {s.subject for s in samples} == {"sub01", "sub12"}
    assert all(s.fps == 60.0 and s.dataset == "casme" for s in samples)


def test_key_frames_second_apex_labels_and_aus_as_written(casme_dir: Path) -> None:
    ep12, ep5, ep3 = read_casme(casme_dir).samples
    assert ep5.annotated == KeyFrames(onset=8, apex=10, offset=12)
    assert ep5.extra["apex2"] == "11" and ep5.action_units == "12" and ep5.emotion == "happiness"
    assert ep12.extra["apex2"] == ""  # the release writes a backslash for no ApexF2
    assert ep12.emotion == "tense"  # stripped; case is left to the errata / protocol
    assert ep3.annotated == KeyFrames(onset=98, apex=None, offset=102)  # '/' is a missing apex
    assert ep3.action_units == "4+17"
    assert ep5.extra["coding_row"] == "3" and ep5.extra["coding_file"] == CODING
    assert ep5.extra["variant"] == "cropped"


def test_frames_sorted_numerically_not_as_text(casme_dir: Path) -> None:
    ep12, ep5, ep3 = read_casme(casme_dir).samples
    assert ep5.frame_numbers == (8, 9, 10, 11, 12)
    assert [p.name for p in ep5.frame_paths] == [f"reg_EP01_5-{n}.jpg" for n in range(8, 13)]
    assert ep3.frame_numbers == (98, 99, 100, 101, 102)
    assert ep3.path_of(100).name == "reg_EP03_1-100.jpg"


def test_any_name_ending_in_a_number_is_a_frame_and_subfolders_may_sit_at_the_top(
        tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    write_coding(root, [GOOD_ROWS[1]], name="CASME-coding-20190721.xlsx")
    make_clip(root, "sub01", "EP01_5", range(8, 13), folder=None, name="img{n}.jpg")
    (sample,) = read_casme(root).samples
    assert sample.frame_numbers == (8, 9, 10, 11, 12) and sample.extra["variant"] == "plain"
    assert sample.frame_paths[0] == root / "sub01" / "EP01_5" / "img8.jpg"


def test_empty_apex_cells_are_missing(tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    write_coding(root, [[1, "EP01_5", None, 8, None, "", 12, None, 0, 0, "12", "amusement"]])
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    (sample,) = read_casme(root).samples
    assert sample.annotated.apex is None and sample.extra["apex2"] == ""
    fixed, applied = apply_errata([sample], CASME.errata)
    assert fixed[0].annotated.apex is None and applied == []  # left to the fill rule


def test_onset_and_offset_outside_the_folder_are_moved_by_the_casme_erratum(
        tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    write_coding(root, [[1, "EP01_5", None, 3, 14, 15, 20, None, 0, 0, "12", "Happiness"]])
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    (sample,) = read_casme(root).samples
    assert sample.annotated == KeyFrames(3, 14, 20)  # as written
    loaded = load_dataset_dir(CASME, root)
    (fixed,) = loaded.samples
    assert fixed.annotated == KeyFrames(8, 12, 12) and fixed.emotion == "happiness"
    assert [f.rule for f in loaded.fixes] == [
        "casme-onset-offset-from-folder", "apex-outside-clamped"]
    assert "onset 3 -> 8, offset 20 -> 12" in loaded.fixes[0].what


def test_a_row_with_onset_after_offset_is_not_moved_to_the_folder_but_excluded(
        tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    write_coding(root, [[1, "EP01_5", None, 30, 14, 15, 2, None, 0, 0, "12", "happiness"]])
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    loaded = load_dataset_dir(CASME, root)
    assert loaded.fixes == [] and not loaded.samples
    assert_excluded(loaded, CODING, "row 2", "OnsetF 30 is after OffsetF 2")


def test_registered_spec_points_at_this_reader() -> None:
    assert (CASME.name, CASME.title, CASME.folder, CASME.fps) == ("casme", "CASME", "CASME", 60.0)
    assert CASME.read is read_casme and CASME.write_twin is not None and CASME.twin_version
    assert CASME.errata == CASME_ERRATA and not CASME.face_crop


def test_explicit_coding_file_picks_one_of_several(casme_dir: Path) -> None:
    write_coding(casme_dir, GOOD_ROWS[:1], name="CASME-coding-20140508.xlsx")
    samples = read_casme(casme_dir, coding_file=Path("CASME-coding-20140508.xlsx")).samples
    assert [s.clip for s in samples] == ["EP03_1"]


def test_excel_lock_file_is_not_a_version(casme_dir: Path) -> None:
    (casme_dir / "~$CASME-coding-20190721.xlsx").write_bytes(b"lock")
    assert len(read_casme(casme_dir).samples) == 3


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_casme(tmp_path / "nowhere").samples
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_coding_file(tmp_path: Path) -> None:
    make_clip(tmp_path / "CASME", "sub01", "EP01_5", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme(tmp_path / "CASME").samples
    assert_one_line(error, str(tmp_path / "CASME"), "casme.xlsx", "CASME-cod*.xls*")


def test_several_coding_files_are_named(casme_dir: Path) -> None:
    write_coding(casme_dir, GOOD_ROWS, name="CASME-coding-20190721.xlsx")
    with pytest.raises(DataError) as error:
        read_casme(casme_dir).samples
    assert_one_line(error, "CASME-coding-20190721.xlsx", CODING, "keep one")


@pytest.mark.skipif(importlib.util.find_spec("xlrd") is not None, reason="xlrd is installed")
def test_release_xls_without_xlrd_says_what_to_install(tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    root.mkdir()
    (root / "CASME-coded-20190721.xls").write_bytes(b"\xd0\xcf\x11\xe0not really")
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme(root).samples
    assert_one_line(error, "CASME-coded-20190721.xls", "xlrd", ".xlsx")


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    write_coding(root, GOOD_ROWS, header=[("Start" if h == "OnsetF" else h) for h in HEADER])
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme(root).samples
    assert_one_line(error, CODING, "row 1", "'OnsetF'")


def test_no_frames_folder(tmp_path: Path) -> None:
    write_coding(tmp_path / "CASME", GOOD_ROWS)
    with pytest.raises(DataError) as error:
        read_casme(tmp_path / "CASME").samples
    assert_one_line(error, "Cropped/", "subNN/")


BAD_ROWS = {
    "non_numeric_onset": ([1, "EP01_5", None, "8a", 10, 11, 12, None, 0, 0, "12", "happiness"],
                          "OnsetF '8a'"),
    "non_numeric_offset": ([1, "EP01_5", None, 8, 10, 11, "end", None, 0, 0, "12", "happiness"],
                           "OffsetF 'end'"),
    "non_numeric_apex": ([1, "EP01_5", None, 8, "x", 11, 12, None, 0, 0, "12", "happiness"],
                         "ApexF1 'x'"),
    "non_numeric_apex2": ([1, "EP01_5", None, 8, 10, "peak", 12, None, 0, 0, "12", "happiness"],
                          "ApexF2 'peak'"),
    "onset_after_offset": ([1, "EP01_5", None, 12, 10, 11, 8, None, 0, 0, "12", "happiness"],
                           "after OffsetF"),
    "unknown_emotion": ([1, "EP01_5", None, 8, 10, 11, 12, None, 0, 0, "12", "joy"],
                        "Emotion 'joy'"),
    "empty_emotion": ([1, "EP01_5", None, 8, 10, 11, 12, None, 0, 0, "12", None],
                      "Emotion (empty)"),
    "clip_folder_missing": ([1, "EP09_9", None, 8, 10, 11, 12, None, 0, 0, "12", "happiness"],
                            "EP09_9"),
    "bad_subject": (["subject one", "EP01_5", None, 8, 10, 11, 12, None, 0, 0, "12", "happiness"],
                    "Subject 'subject one'"),
    "empty_filename": ([1, None, None, 8, 10, 11, 12, None, 0, 0, "12", "happiness"],
                       "Filename is empty"),
    "duplicate_row": (GOOD_ROWS[2], "repeats row 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    row, fragment = BAD_ROWS[case]
    root = tmp_path / "CASME"
    # the bad row is the second data row, i.e. Excel row 3
    write_coding(root, [GOOD_ROWS[2], row])
    make_clip(root, "sub01", "EP01_12", range(46, 51))
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    loaded = load_dataset_dir(CASME, root)
    assert_excluded(loaded, CODING, "row 3", fragment)
    assert [s.clip for s in loaded.samples] == ["EP01_12"]


def test_missing_frame_in_the_middle_is_left_to_the_doctor(casme_dir: Path) -> None:
    (casme_dir / "Cropped" / "sub12" / "EP03_1" / "reg_EP03_1-100.jpg").unlink()
    sample = read_casme(casme_dir).samples[2]
    assert sample.frame_numbers == (98, 99, 101, 102)
    assert clip_problems(sample) == ["casme/sub12/EP03_1: frames missing inside the clip "
                                     "(100..100)"]


@pytest.mark.parametrize(("cells", "fragment"), [
    ([46, 48, "\\", 50], "OnsetF 46"), ([45, 46, "\\", 50], "ApexF1 46"),
    ([44, 45, "\\", 46], "OffsetF 46")])
def test_key_frame_in_a_gap_names_the_row(tmp_path: Path, cells: list[object],
                                          fragment: str) -> None:
    root = tmp_path / "CASME"
    onset, apex, apex2, offset = cells
    write_coding(root, [[1, "EP01_12", None, onset, apex, apex2, offset, None, 0, 0, "4",
                         "tense"]])
    make_clip(root, "sub01", "EP01_12", [44, 45, 47, 48, 49, 50])
    assert_excluded(load_dataset_dir(CASME, root), CODING, "row 2", fragment, "gap")


def test_clip_folder_without_frames(tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    write_coding(root, [GOOD_ROWS[1]])
    clip_dir = make_clip(root, "sub01", "EP01_5", [])
    (clip_dir / "Thumbs.db").write_bytes(b"")
    assert_excluded(read_casme(root), CODING, "row 2", "has no <name><N>.jpg frames")


def test_two_frame_namings_in_one_folder(casme_dir: Path) -> None:
    clip_dir = casme_dir / "Cropped" / "sub01" / "EP01_5"
    cv2.imwrite(str(clip_dir / "img13.jpg"), np.zeros((4, 4, 3), np.uint8))
    assert_excluded(read_casme(casme_dir), "row 3", "mixes two frame namings", "img13.jpg")


def test_unreadable_spreadsheet(tmp_path: Path) -> None:
    root = tmp_path / "CASME"
    root.mkdir()
    (root / CODING).write_bytes(b"not a workbook")
    make_clip(root, "sub01", "EP01_5", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme(root).samples
    assert_one_line(error, CODING, "cannot read")
