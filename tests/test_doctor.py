"""The doctor tells the whole truth: what it looked for, every bad row, labels no protocol maps,
frames that cannot be decoded; a verdict per dataset, never a traceback."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from mer_bench.data.doctor import Section, diagnose, diagnose_dataset, render
from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.sample import Rows
from mer_bench.data.spec import DATASETS, DatasetSpec

CASME2 = DATASETS.get("casme2")


def coding_file(root: Path) -> Path:
    (path,) = (root / "CASME2").glob("CASME2-coding-*.xlsx")
    return path


def edit_cells(path: Path, cells: dict[str, object]) -> None:
    workbook = load_workbook(path)
    sheet = workbook.active
    for ref, value in cells.items():
        sheet[ref] = value
    workbook.save(path)


def key_frame_path(root: Path, row: int = 2) -> tuple[str, Path]:
    """(sample id, path of its onset frame) of the sample on Excel ``row`` of the CASME II twin."""
    sample = next(s for s in load_dataset_dir(CASME2, root / "CASME2").samples
                  if s.extra["coding_row"] == str(row))
    return sample.sample_id, sample.path_of(sample.annotated.onset)


def test_twin_is_usable_and_its_fixes_are_listed(twin_copy):
    report = diagnose_dataset(CASME2, twin_copy)
    assert report.usable and report.status == "usable"
    loaded = load_dataset_dir(CASME2, twin_copy / "CASME2")
    assert (report.samples, report.fixes, report.excluded) == (len(loaded.samples), loaded.fixes,
                                                               [])
    # Filling a missing apex is not a correction of the annotation (mer_bench.missing_apex).
    assert not [f for f in report.fixes if "missing" in f.rule]


def test_nothing_found_says_where_it_looked(tmp_path):
    diagnosis = diagnose(tmp_path)
    assert not diagnosis.found and not diagnosis.ok
    assert all(r.status == "absent" for r in diagnosis.datasets)
    text = diagnosis.render()
    assert f"no dataset found under {tmp_path}; looked for:" in text
    for folder in ("CASME2/", "SAMM/", "CAS(ME)3/", "SMIC/SMIC_all_cropped/HS/",
                   "SMIC/SMIC_all_cropped/VIS/", "MMEW/", "4DME/", "CASME/", "CAS(ME)2/"):
        assert folder in text


def test_every_bad_row_is_listed_and_the_rest_is_usable(twin_copy):
    edit_cells(coding_file(twin_copy), {"D2": "x", "D3": 500, "F3": 10})
    report = diagnose_dataset(CASME2, twin_copy)
    assert report.usable and report.status == "usable, 2 rows excluded"
    first, second = (str(e) for e in report.excluded)
    assert "row 2: OnsetFrame 'x' is not a frame number" in first
    assert "row 3: OnsetFrame 500 is after OffsetFrame 10" in second
    assert report.samples == len(load_dataset_dir(CASME2, twin_copy / "CASME2").samples)
    assert not diagnose_dataset(CASME2, twin_copy, strict=True).usable


def test_a_label_no_protocol_maps_is_reported_not_dropped(twin_copy):
    edit_cells(coding_file(twin_copy), {"I2": "confusion??"})
    report = diagnose_dataset(CASME2, twin_copy)
    (line,) = [p for p in report.problems if "no protocol maps" in p]
    assert "1 samples with emotion 'confusion??'" in line and "row 2" in line


def test_a_corrupt_or_empty_key_frame_is_named_without_deep(twin_copy):
    corrupt_id, corrupt = key_frame_path(twin_copy, 2)
    empty_id, empty = key_frame_path(twin_copy, 3)
    corrupt.write_bytes(corrupt.read_bytes()[: corrupt.stat().st_size // 2])  # truncated JPEG
    empty.write_bytes(b"")
    problems = diagnose_dataset(CASME2, twin_copy).problems
    assert any(p.startswith(f"{corrupt_id}: {corrupt}: corrupt frame") for p in problems)
    assert any(p.startswith(f"{empty_id}: {empty}: empty frame file (0 bytes)") for p in problems)


def test_deep_decodes_every_frame(twin_copy):
    sample = load_dataset_dir(CASME2, twin_copy / "CASME2").samples[0]
    kf = sample.annotated
    inner = next(n for n in sample.frame_numbers if n not in (kf.onset, kf.apex, kf.offset))
    sample.path_of(inner).write_bytes(b"\xff\xd8 not really a jpeg")
    assert not any(str(sample.path_of(inner)) in p
                   for p in diagnose_dataset(CASME2, twin_copy).problems)
    assert any(str(sample.path_of(inner)) in p and "corrupt frame" in p
               for p in diagnose_dataset(CASME2, twin_copy, deep=True).problems)


def test_a_reader_error_becomes_the_verdict(twin_copy):
    coding_file(twin_copy).write_bytes(b"not a spreadsheet")
    report = diagnose_dataset(CASME2, twin_copy)
    assert not report.usable and "CASME2-coding-20190701.xlsx" in report.error


def test_a_reader_crash_is_caught_and_named(tmp_path):
    (tmp_path / "X").mkdir()

    def crash(_) -> Rows:
        raise KeyError("boom")

    report = diagnose_dataset(DatasetSpec("x", "X", "X", 30.0, read=crash), tmp_path)
    assert report.error == "reader crashed: KeyError: 'boom'"


def test_missing_frames_inside_a_clip_are_reported(twin_copy):
    clip = sorted(p for p in (twin_copy / "CASME2" / "Cropped").glob("sub*/*") if p.is_dir())[0]
    frames = sorted(clip.iterdir(), key=lambda p: int(p.stem.removeprefix("reg_img")))
    frames[len(frames) // 2].unlink()
    report = diagnose_dataset(CASME2, twin_copy)
    assert any("frames missing inside the clip" in p and clip.name in p for p in report.problems)


def test_normalisations_are_reported_apart_from_the_errata(twin_copy):
    edit_cells(coding_file(twin_copy), {"I2": "Others "})
    report = diagnose_dataset(CASME2, twin_copy)
    (item,) = report.normalised
    assert (item.written, item.canonical) == ("Others", "others")
    assert not any(f.rule == "label-spelling" for f in report.fixes)
    text = render(diagnose(twin_copy))
    assert "CASME II: labels normalised (case and spaces; not errata)" in text
    assert "'Others' -> 'others': 1 samples" in text


def test_other_checks_add_sections(twin_copy):
    diagnosis = diagnose(twin_copy)
    casme2 = next(r for r in diagnosis.datasets if r.name == "casme2")
    casme2.sections.append(Section("face detection", ["faces found in 41 of 41 clips"]))
    assert "CASME II: face detection\n  faces found in 41 of 41 clips" in diagnosis.render()


def test_a_missing_sample_list_is_a_note_not_an_error(twin_copy):
    diagnosis = diagnose(twin_copy)
    assert diagnosis.ok
    assert ("casme2-3class-megc: no sample list under" in diagnosis.render())


def test_a_sample_list_naming_a_missing_clip_is_an_error(twin_copy):
    (twin_copy / "MEGC2019").mkdir()
    (twin_copy / "MEGC2019" / "combined_3class_gt.csv").write_text("casme2,sub01,EP99_99,0\n")
    diagnosis = diagnose(twin_copy)
    assert not diagnosis.ok
    assert "casme2 sub01 EP99_99 matches no clip" in diagnosis.render()

