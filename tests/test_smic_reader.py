"""The SMIC reader on hand-built trees in the exact cropped layout, quirks and bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from mer_bench.data.doctor import clip_problems, diagnose
from mer_bench.data.errata import apply_errata
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import KeyFrames
from mer_bench.data.smic import (
    SMIC_HS,
    SMIC_NIR,
    SMIC_VIS,
    read_smic,
    read_smic_hs,
    read_smic_nir,
    read_smic_vis,
)
from mer_bench.errors import DataError
from reader_checks import assert_excluded, assert_one_line

CROPPED = "SMIC_all_cropped"


def make_clip(smic: Path, camera: str, subject: str, emotion: str, clip: str,
              numbers: range | list[int], name: str = "reg_image{:06d}.bmp",
              micro: str = "micro") -> Path:
    clip_dir = smic / CROPPED / camera / subject / micro / emotion / clip
    clip_dir.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((4, 4, 3), np.uint8)
    for number in numbers:
        cv2.imwrite(str(clip_dir / name.format(number)), pixel)
    return clip_dir


def write_sheet(path: Path, header: list[str | None], rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


@pytest.fixture()
def smic(tmp_path: Path) -> Path:
    root = tmp_path / "SMIC"
    make_clip(root, "HS", "s1", "negative", "s1_ne_01", range(36230, 36241))
    # the frame count crosses a digit: reg_image99999 sorts after reg_image100000 as text
    make_clip(root, "HS", "s1", "positive", "s1_po_01", [99998, 99999, 100000, 100001],
              name="reg_image{}.bmp")
    make_clip(root, "HS", "s3", "surprise", "s3_sur_01", range(1205, 1212))
    # not micro-expressions: never read
    make_clip(root, "HS", "s1", "negative", "s1_ne_01_nm", range(10, 20), micro="non_micro")
    # a recorded subject without a micro-expression has no micro/ folder
    (root / CROPPED / "HS" / "s7" / "non_micro").mkdir(parents=True)
    vis = make_clip(root, "VIS", "s11", "negative", "s11_ne_01", range(6387, 6395),
                    name="reg_{:05d}.bmp")
    (vis / "Thumbs.db").write_bytes(b"")
    make_clip(root, "NIR", "s11", "negative", "s11_ne_01", range(6387, 6395),
              name="reg_{:05d}.bmp")
    return root


def test_reads_hs_samples_sorted_with_subjects_labels_and_fps(smic: Path) -> None:
    samples = read_smic(smic, "HS").samples
    assert [s.sample_id for s in samples] == [
        "smic-hs/s01/s1_ne_01", "smic-hs/s01/s1_po_01", "smic-hs/s03/s3_sur_01"]
    assert [s.emotion for s in samples] == ["negative", "positive", "surprise"]
    assert {s.subject for s in samples} == {"s01", "s03"}
    assert all(s.fps == 100.0 and s.dataset == "smic-hs" for s in samples)
    assert samples[0].extra["camera"] == "HS" and samples[0].extra["keyframes_from"] == "folder"


def test_onset_offset_are_the_folder_extent_and_no_apex_is_made_up(smic: Path) -> None:
    first, second, third = read_smic(smic, "HS").samples
    assert first.annotated == KeyFrames(onset=36230, apex=None, offset=36240)
    assert second.annotated == KeyFrames(onset=99998, apex=None, offset=100001)
    assert third.annotated == KeyFrames(onset=1205, apex=None, offset=1211)
    fixed, applied = apply_errata([first, second, third], SMIC_HS.errata)
    assert applied == [] and all(s.annotated.apex is None for s in fixed)


def test_frames_sorted_numerically_not_as_text(smic: Path) -> None:
    second = read_smic(smic, "HS").samples[1]
    assert second.frame_numbers == (99998, 99999, 100000, 100001)
    assert [p.name for p in second.frame_paths] == [
        "reg_image99998.bmp", "reg_image99999.bmp", "reg_image100000.bmp", "reg_image100001.bmp"]
    assert read_smic(smic, "HS").samples[0].path_of(36237).name == "reg_image036237.bmp"


def test_vis_and_nir_read_reg_n_frames_at_25_fps(smic: Path) -> None:
    for camera, read in (("VIS", read_smic_vis), ("NIR", read_smic_nir)):
        (sample,) = read(smic).samples
        assert sample.sample_id == f"smic-{camera.lower()}/s11/s11_ne_01"
        assert sample.fps == 25.0
        assert sample.frame_numbers == tuple(range(6387, 6395))
        assert sample.frame_paths[0].name == "reg_06387.bmp"
        assert sample.annotated == KeyFrames(6387, None, 6394)


def test_three_specs_share_one_folder_reader_and_twin() -> None:
    specs = (SMIC_HS, SMIC_VIS, SMIC_NIR)
    assert [s.name for s in specs] == ["smic-hs", "smic-vis", "smic-nir"]
    assert [s.title for s in specs] == ["SMIC-HS", "SMIC-VIS", "SMIC-NIR"]
    assert [s.fps for s in specs] == [100.0, 25.0, 25.0]
    assert [s.read for s in specs] == [read_smic_hs, read_smic_vis, read_smic_nir]
    assert {s.folder for s in specs} == {"SMIC"}
    assert len({s.twin_version for s in specs}) == 1 and len({s.write_twin for s in specs}) == 1
    assert all(s.errata == () and not s.face_crop for s in specs)
    assert [s.looked_for for s in specs] == [
        "SMIC/SMIC_all_cropped/HS/", "SMIC/SMIC_all_cropped/VIS/", "SMIC/SMIC_all_cropped/NIR/"]


def test_folder_label_spelling_is_normalised_on_loading(smic: Path) -> None:
    shutil.move(smic / CROPPED / "HS" / "s3" / "micro" / "surprise",
                smic / CROPPED / "HS" / "s3" / "micro" / "Surprise")
    samples = read_smic(smic, "HS").samples
    assert samples[2].emotion == "Surprise"
    loaded = load_dataset_dir(SMIC_HS, smic)
    assert loaded.samples[2].emotion == "surprise" and loaded.fixes == []
    assert [n.written for n in loaded.normalised] == ["Surprise"]


def test_a_camera_that_is_not_there_is_absent_not_broken(smic: Path) -> None:
    """Many users hold SMIC-HS only (the part MEGC2019 uses)."""
    shutil.rmtree(smic / CROPPED / "VIS")
    shutil.rmtree(smic / CROPPED / "NIR")
    assert SMIC_HS.present_in(smic) and not SMIC_VIS.present_in(smic)
    diagnosis = diagnose(smic.parent)
    status = {r.name: r.status for r in diagnosis.datasets}
    assert (status["smic-hs"], status["smic-vis"], status["smic-nir"]) == (
        "usable", "absent", "absent")
    assert diagnosis.ok


def test_an_uncropped_camera_counts_as_present_and_says_what_to_unpack(tmp_path: Path) -> None:
    (tmp_path / "SMIC" / "NIR" / "s11").mkdir(parents=True)
    assert SMIC_NIR.present_in(tmp_path / "SMIC") and not SMIC_HS.present_in(tmp_path / "SMIC")
    with pytest.raises(DataError) as error:
        read_smic(tmp_path / "SMIC", "NIR")
    assert_one_line(error, "only the uncropped NIR/ folder", "SMIC_all_cropped/NIR/")


def test_meb_sheet_gives_onset_and_offset_for_hs(smic: Path) -> None:
    # MEB's smic.xlsx: a pandas index column, then subject, material, emotion, onset, offset
    write_sheet(smic / "smic.xlsx", [None, "subject", "material", "emotion", "onset", "offset"], [
        [0, "s1", "s1_ne_01", "negative", 36231, 36239],
        [1, 1, "s1_po_01", "positive", 99998, 100001],
        [2, "s03", "s3_sur_01", "surprise", 1206, 1210],
    ])
    first, second, third = read_smic(smic, "HS").samples
    assert first.annotated == KeyFrames(36231, None, 36239)
    assert third.annotated == KeyFrames(1206, None, 1210)
    assert first.extra["keyframes_from"] == "smic.xlsx" and first.extra["annotation_row"] == "2"
    # the HS sheet says nothing about VIS
    assert read_smic(smic, "VIS").samples[0].extra["keyframes_from"] == "folder"


def test_camera_sheet_with_filename_column(smic: Path) -> None:
    write_sheet(smic / "smic-vis.xlsx", ["Subject", "Filename", "Onset", "Offset"],
                [["s11", "s11_ne_01", 6388, 6393]])
    assert read_smic(smic, "VIS").samples[0].annotated == KeyFrames(6388, None, 6393)


# --- bad inputs: one DataError, one line, naming the folder or file and row, and what to do ------


def test_missing_dataset_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_smic(tmp_path / "nowhere", "HS").samples
    assert_one_line(error, str(tmp_path / "nowhere"))


def test_missing_camera_folder_and_uncropped_release(tmp_path: Path) -> None:
    root = tmp_path / "SMIC"
    (root / "HS" / "s1" / "micro").mkdir(parents=True)
    with pytest.raises(DataError) as error:
        read_smic(root, "HS").samples
    assert_one_line(error, "uncropped", "SMIC_all_cropped/HS")
    with pytest.raises(DataError) as error:
        read_smic(root, "NIR").samples
    assert_one_line(error, str(root / CROPPED / "NIR"))


def test_unknown_emotion_folder_is_named(smic: Path) -> None:
    make_clip(smic, "HS", "s3", "happy", "s3_ha_01", range(5, 9))
    with pytest.raises(DataError) as error:
        read_smic(smic, "HS").samples
    assert_one_line(error, str(smic / CROPPED / "HS" / "s3" / "micro" / "happy"), "'happy'")


def test_one_clip_in_two_emotion_folders_names_both(smic: Path) -> None:
    make_clip(smic, "HS", "s1", "surprise", "s1_ne_01", range(5, 9))
    with pytest.raises(DataError) as error:
        read_smic(smic, "HS").samples
    assert_one_line(error, "surprise/s1_ne_01", "negative/s1_ne_01")


def test_missing_frame_in_the_middle_is_left_to_the_doctor(smic: Path) -> None:
    clip = smic / CROPPED / "HS" / "s3" / "micro" / "surprise" / "s3_sur_01"
    (clip / "reg_image001208.bmp").unlink()
    sample = read_smic(smic, "HS").samples[2]
    assert sample.frame_numbers == (1205, 1206, 1207, 1209, 1210, 1211)
    assert clip_problems(sample) == [
        "smic-hs/s03/s3_sur_01: frames missing inside the clip (1208..1208)"]
    # a row of the sheet with a key frame in the gap is excluded
    in_gap = ["s3", "s3_sur_01", 1208, 1210]
    write_sheet(smic / "smic-hs.xlsx", SHEET_HEADER, GOOD_SHEET[:2] + [in_gap])
    assert_excluded(load_dataset_dir(SMIC_HS, smic), "smic-hs.xlsx", "row 4",
                    "onset 1208 has no frame")


def test_clip_folder_without_frames(smic: Path) -> None:
    clip = make_clip(smic, "HS", "s3", "surprise", "s3_sur_02", [])
    (clip / "Thumbs.db").write_bytes(b"")
    rows = read_smic(smic, "HS")
    assert_excluded(rows, str(clip), "reg_image<N>.bmp")
    assert len(rows.samples) == 3  # the camera's other clips are read


def test_two_frames_with_one_number(smic: Path) -> None:
    clip = smic / CROPPED / "HS" / "s3" / "micro" / "surprise" / "s3_sur_01"
    shutil.copy(clip / "reg_image001208.bmp", clip / "reg_image1208.bmp")
    assert_excluded(read_smic(smic, "HS"), "both frame 1208")


def test_unexpected_subject_folders(smic: Path) -> None:
    (smic / CROPPED / "HS" / "subject2").mkdir()
    with pytest.raises(DataError) as error:
        read_smic(smic, "HS").samples
    assert_one_line(error, "subject2", "not a subject folder")
    (smic / CROPPED / "HS" / "subject2").rmdir()
    make_clip(smic, "HS", "s01", "negative", "s1_ne_02", range(3))
    with pytest.raises(DataError) as error:
        read_smic(smic, "HS").samples
    assert_one_line(error, "both subject s01")


def test_camera_without_any_clip(tmp_path: Path) -> None:
    (tmp_path / "SMIC" / CROPPED / "VIS" / "s11" / "non_micro").mkdir(parents=True)
    with pytest.raises(DataError) as error:
        read_smic(tmp_path / "SMIC", "VIS").samples
    assert_one_line(error, "no clip folders")


GOOD_SHEET = [["s1", "s1_ne_01", 36231, 36239], ["s1", "s1_po_01", 99998, 100001],
              ["s3", "s3_sur_01", 1206, 1210]]
SHEET_HEADER = ["subject", "filename", "onset", "offset"]

BAD_SHEETS = {
    "non_numeric_onset": ([["s3", "s3_sur_01", "start", 1210]], "onset 'start'"),
    "onset_after_offset": ([["s3", "s3_sur_01", 1210, 1206]], "after offset"),
    "offset_outside_folder": ([["s3", "s3_sur_01", 1206, 1290]], "offset 1290 has no frame"),
    "clip_not_on_disk": ([["s3", "s3_sur_09", 1206, 1210]], "s03/s3_sur_09"),
    "duplicate_row": ([["s1", "s1_ne_01", 36231, 36239]], "repeats row 2"),
    "bad_subject": ([["three", "s3_sur_01", 1206, 1210]], "subject 'three'"),
}


@pytest.mark.parametrize("case", sorted(BAD_SHEETS))
def test_a_bad_sheet_row_is_excluded_naming_file_and_row(smic: Path, case: str) -> None:
    rows, fragment = BAD_SHEETS[case]
    # the bad row is the third data row, i.e. Excel row 4
    write_sheet(smic / "smic-hs.xlsx", SHEET_HEADER, GOOD_SHEET[:2] + rows)
    loaded = load_dataset_dir(SMIC_HS, smic)
    reasons = [str(e) for e in loaded.excluded]
    assert any("smic-hs.xlsx: row 4" in r and fragment in r for r in reasons), reasons
    assert all("\n" not in r for r in reasons)
    assert [s.clip for s in loaded.samples] == ["s1_ne_01", "s1_po_01"]


def test_sheet_emotion_must_agree_with_folder(smic: Path) -> None:
    rows = [row[:2] + [label] + row[2:] for row, label in
            zip(GOOD_SHEET, ["negative", "positive", "positive"], strict=True)]
    write_sheet(smic / "smic-hs.xlsx", ["subject", "filename", "emotion", "onset", "offset"], rows)
    reasons = [str(e) for e in read_smic(smic, "HS").excluded]
    assert any("row 4" in r and "'positive'" in r and "'surprise'" in r for r in reasons)


def test_sheet_missing_a_column_or_a_clip(smic: Path) -> None:
    write_sheet(smic / "smic-hs.xlsx", ["subject", "filename", "onset", "end"], GOOD_SHEET)
    with pytest.raises(DataError) as error:
        read_smic(smic, "HS").samples
    assert_one_line(error, "smic-hs.xlsx", "row 1", "'offset'")
    write_sheet(smic / "smic-hs.xlsx", SHEET_HEADER, GOOD_SHEET[:2])
    assert_excluded(read_smic(smic, "HS"), "smic-hs.xlsx", "no row for clip s03/s3_sur_01")


def test_two_sheets_for_one_camera(smic: Path) -> None:
    write_sheet(smic / "smic-hs.xlsx", SHEET_HEADER, GOOD_SHEET)
    write_sheet(smic / "smic.xlsx", SHEET_HEADER, GOOD_SHEET)
    with pytest.raises(DataError) as error:
        read_smic(smic, "HS").samples
    assert_one_line(error, "smic-hs.xlsx", "smic.xlsx", "keep one")


def test_unknown_camera(smic: Path) -> None:
    with pytest.raises(DataError) as error:
        read_smic(smic, "IR").samples  # type: ignore[arg-type]
    assert_one_line(error, "'IR'", "HS, VIS or NIR")
