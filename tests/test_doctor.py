"""The doctor: per-dataset verdicts, errata listed, problems found, never a traceback."""

from __future__ import annotations

from mer_bench.data.doctor import diagnose, diagnose_dataset
from mer_bench.data.spec import DATASETS, DatasetSpec


def test_twin_is_usable_and_a_missing_apex_is_not_listed_as_a_fix(twin_copy):
    from mer_bench.data.casme2 import read_casme2

    report = diagnose_dataset(DATASETS.get("casme2"), twin_copy)
    assert report.usable and report.status.startswith("usable")
    samples = read_casme2(twin_copy / "CASME2")
    assert report.samples == len(samples)
    # Filling a missing apex is not a correction of the annotation (mer_bench.missing_apex).
    assert not [f for f in report.fixes if "missing" in f.rule]


def test_absent_datasets_are_reported_absent(tmp_path):
    reports = {r.name: r for r in diagnose(tmp_path)}
    assert reports["casme2"].status == "absent" and not reports["casme2"].usable


def test_a_reader_error_becomes_the_verdict(twin_copy):
    (twin_copy / "CASME2" / "CASME2-coding-20190701.xlsx").write_bytes(b"not a spreadsheet")
    report = diagnose_dataset(DATASETS.get("casme2"), twin_copy)
    assert not report.usable and "CASME2-coding-20190701.xlsx" in report.error


def test_a_reader_crash_is_caught_and_named(tmp_path):
    (tmp_path / "X").mkdir()

    def crash(_):
        raise KeyError("boom")

    report = diagnose_dataset(DatasetSpec("x", "X", "X", 30.0, read=crash), tmp_path)
    assert report.error == "reader crashed: KeyError: 'boom'"


def test_missing_frames_inside_a_clip_are_reported(twin_copy):
    clip = sorted(p for p in (twin_copy / "CASME2" / "Cropped").glob("sub*/*") if p.is_dir())[0]
    frames = sorted(clip.iterdir(), key=lambda p: int(p.stem.removeprefix("reg_img")))
    frames[len(frames) // 2].unlink()
    report = diagnose_dataset(DATASETS.get("casme2"), twin_copy)
    assert any("frames missing inside the clip" in p and clip.name in p for p in report.problems)
