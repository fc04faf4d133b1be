"""The CASME II reader on hand-built trees in the exact native layout, quirks and bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.casme2 import CASME2, read_casme2
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.data.spec import DATASETS
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

# The real header: two blank cells, which pandas reads as 'Unnamed: 2' and 'Unnamed: 6'.
HEADER = [
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
]
CODING = "CASME2-coding-20190701.xlsx"


def write_coding(
    dataset_dir: Path,
    rows: list[list[object]],
    header: list[str | None] = HEADER,
    name: str = CODING,
) -> Path:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    path = dataset_dir / name
    workbook.save(path)
    return path


def make_clip(
    dataset_dir: Path,
    subject: str,
    clip: str,
    numbers: range | list[int],
    folder: str = "Cropped",
    prefix: str = "reg_img",
) -> Path:
    clip_dir = dataset_dir / folder / subject / clip
    clip_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(clip_dir / f"{prefix}{number}.jpg"), pixel)
    return clip_dir


GOOD_ROWS = [
    # deliberately not in (subject, clip) order: the reader sorts
    [12, "EP19_05f", None, 98, 100, 102, None, "R12", "happiness"],
    [1, "EP03_02", None, 46, "/", 50, None, "4", "others"],
    [1, "EP02_01f", None, 8, 10, 12, None, "4+L10", " disgust "],
]


@pytest.fixture()
def casme2_dir(tmp_path: Path) -> Path:
    root = tmp_path / "CASME2"
    write_coding(root, GOOD_ROWS)
    make_clip(
        root, "sub01", "EP02_01f", range(8, 13)
    )  # img8..img12: img10 sorts before img8 as text
    make_clip(root, "sub01", "EP03_02", range(46, 51))
    make_clip(root, "sub12", "EP19_05f", range(98, 103))  # img98, img99, img100 ...
    return root


def test_reads_samples_sorted_by_subject_and_clip(casme2_dir: Path) -> None:
    samples = read_casme2(casme2_dir).samples
    assert [s.sample_id for s in samples] == [
        "casme2/sub01/EP02_01f",
        "casme2/sub01/EP03_02",
        "casme2/sub12/EP19_05f",
    ]
    assert {s.subject for s in samples} == {"sub01", "sub12"}
    assert all(s.fps == 200.0 and s.dataset == "casme2" for s in samples)


def test_key_frames_labels_and_aus_kept_as_written(casme2_dir: Path) -> None:
    first, second, third = read_casme2(casme2_dir).samples
    assert first.annotated == KeyFrames(onset=8, apex=10, offset=12)
    assert first.action_units == "4+L10"
    assert first.emotion == "disgust"  # stripped, case left to the loading
    assert second.annotated == KeyFrames(onset=46, apex=None, offset=50)  # '/' is a missing apex
    assert third.annotated.apex == 100 and third.action_units == "R12"
    assert first.extra["coding_row"] == "4" and first.extra["coding_file"] == CODING


def test_frames_sorted_numerically_not_as_text(casme2_dir: Path) -> None:
    first = read_casme2(casme2_dir).samples[0]
    assert first.frame_numbers == (8, 9, 10, 11, 12)
    assert [p.name for p in first.frame_paths] == [f"reg_img{n}.jpg" for n in (8, 9, 10, 11, 12)]
    assert first.path_of(10).name == "reg_img10.jpg"
    last = read_casme2(casme2_dir).samples[2]
    assert last.frame_numbers == (98, 99, 100, 101, 102)


def test_raw_frames_read_when_asked_and_cropped_preferred_by_default(casme2_dir: Path) -> None:
    for clip, numbers in (("EP02_01f", range(8, 13)), ("EP03_02", range(46, 51))):
        make_clip(casme2_dir, "sub01", clip, numbers, folder="CASME2_RAW_selected", prefix="img")
    make_clip(
        casme2_dir, "sub12", "EP19_05f", range(98, 103), folder="CASME2_RAW_selected", prefix="img"
    )
    raw = read_casme2(casme2_dir, variant="raw").samples
    assert raw[0].frame_paths[0] == casme2_dir / "CASME2_RAW_selected/sub01/EP02_01f/img8.jpg"
    assert raw[0].frame_numbers == (8, 9, 10, 11, 12)
    assert read_casme2(casme2_dir).samples[0].frame_paths[0].name == "reg_img8.jpg"


def test_raw_only_tree_is_found_by_auto(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    write_coding(root, [[3, "EP01_11f", None, 9, 10, 11, None, "L2", "others"]])
    make_clip(root, "sub03", "EP01_11f", [9, 10, 11], folder="CASME2_RAW_selected", prefix="img")
    (sample,) = read_casme2(root).samples
    assert sample.frame_numbers == (9, 10, 11) and sample.extra["variant"] == "raw"


def test_apex_outside_onset_offset_is_left_for_errata(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    write_coding(root, [[1, "EP02_01f", None, 8, 20, 12, None, "4", "others"]])
    make_clip(root, "sub01", "EP02_01f", range(8, 13))
    assert read_casme2(root).samples[0].annotated.apex == 20
    # 8 frames past the offset at 200 fps (40 ms): a slip at the clip's edge, clamped
    (sample,) = load_dataset_dir(CASME2, root).samples
    assert sample.annotated.apex == 12


def test_blank_trailing_rows_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    write_coding(root, [GOOD_ROWS[2], [None] * 9])
    make_clip(root, "sub01", "EP02_01f", range(8, 13))
    assert len(read_casme2(root).samples) == 1


def test_registered_spec_points_at_this_reader() -> None:
    spec = DATASETS.get("casme2")
    assert spec is CASME2
    assert (spec.folder, spec.fps, spec.read) == ("CASME2", 200.0, read_casme2)
    assert spec.write_twin is not None


def test_explicit_coding_file_picks_one_of_several(casme2_dir: Path) -> None:
    write_coding(casme2_dir, GOOD_ROWS[:1], name="CASME2-coding-20140508.xlsx")
    samples = read_casme2(casme2_dir, coding_file=Path("CASME2-coding-20140508.xlsx")).samples
    assert [s.clip for s in samples] == ["EP19_05f"]


# --- bad inputs: one DataError, one line, naming the file (and row) and what to do ----------------


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_casme2(tmp_path / "nowhere").samples
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_coding_file(tmp_path: Path) -> None:
    make_clip(tmp_path / "CASME2", "sub01", "EP02_01f", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme2(tmp_path / "CASME2").samples
    assert_one_line(error, str(tmp_path / "CASME2"), "CASME2-coding-*.xlsx")


def test_several_coding_files_are_named(casme2_dir: Path) -> None:
    write_coding(casme2_dir, GOOD_ROWS, name="CASME2-coding-20140508.xlsx")
    with pytest.raises(DataError) as error:
        read_casme2(casme2_dir).samples
    assert_one_line(error, "CASME2-coding-20140508.xlsx", CODING, "keep one")


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    header = [("Onset" if h == "OnsetFrame" else h) for h in HEADER]
    write_coding(root, GOOD_ROWS, header=header)
    make_clip(root, "sub01", "EP02_01f", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme2(root).samples
    assert_one_line(error, CODING, "row 1", "'OnsetFrame'")


BAD_ROWS = {
    "non_numeric_onset": ([1, "EP02_01f", None, "8a", 10, 12, None, "4", "others"], "OnsetFrame"),
    "non_numeric_offset": ([1, "EP02_01f", None, 8, 10, "end", None, "4", "others"], "OffsetFrame"),
    "onset_after_offset": (
        [1, "EP02_01f", None, 12, 10, 8, None, "4", "others"],
        "after OffsetFrame",
    ),
    "non_numeric_apex": ([1, "EP02_01f", None, 8, "x", 12, None, "4", "others"], "ApexFrame"),
    "onset_frame_absent": ([1, "EP02_01f", None, 7, 10, 12, None, "4", "others"], "OnsetFrame 7"),
    "offset_frame_absent": (
        [1, "EP02_01f", None, 8, 10, 13, None, "4", "others"],
        "OffsetFrame 13",
    ),
    "clip_folder_missing": ([1, "EP09_09", None, 8, 10, 12, None, "4", "others"], "EP09_09"),
    "bad_subject": (["subject one", "EP02_01f", None, 8, 10, 12, None, "4", "others"], "Subject"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_excluded_naming_file_and_row(tmp_path: Path, case: str) -> None:
    row, fragment = BAD_ROWS[case]
    root = tmp_path / "CASME2"
    # the bad row is the second data row, i.e. Excel row 3
    write_coding(root, [GOOD_ROWS[1], row])
    make_clip(root, "sub01", "EP03_02", range(46, 51))
    make_clip(root, "sub01", "EP02_01f", range(8, 13))
    loaded = load_dataset_dir(CASME2, root)
    assert_excluded(loaded, CODING, "row 3", fragment)
    assert [s.clip for s in loaded.samples] == ["EP03_02"]  # one bad row does not sink the rest


def test_clip_folder_without_frames(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    write_coding(root, [GOOD_ROWS[2]])
    clip_dir = make_clip(root, "sub01", "EP02_01f", [])
    (clip_dir / "Thumbs.db").write_bytes(b"")
    assert_excluded(read_casme2(root), CODING, "row 2", "no reg_img<N>.jpg frames")


def test_duplicate_subject_and_clip_names_both_rows(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    write_coding(root, [GOOD_ROWS[2], GOOD_ROWS[1], GOOD_ROWS[2]])
    make_clip(root, "sub01", "EP02_01f", range(8, 13))
    make_clip(root, "sub01", "EP03_02", range(46, 51))
    rows = read_casme2(root)
    assert_excluded(rows, CODING, "row 4", "repeats row 2")
    assert len(rows.samples) == 2


def test_unreadable_spreadsheet(tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    root.mkdir()
    (root / CODING).write_bytes(b"not a workbook")
    make_clip(root, "sub01", "EP02_01f", range(8, 13))
    with pytest.raises(DataError) as error:
        read_casme2(root).samples
    assert_one_line(error, CODING)


def test_missing_frames_folder_for_variant(casme2_dir: Path) -> None:
    with pytest.raises(DataError) as error:
        read_casme2(casme2_dir, variant="raw").samples
    assert_one_line(error, "CASME2_RAW_selected")
