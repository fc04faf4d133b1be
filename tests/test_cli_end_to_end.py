"""The spine end to end: twin on disk -> reader -> protocol -> key frames -> flow -> STSTNet ->
records -> leaderboard, through the command line; and bad input stopping it cleanly."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from mer_bench.store import ResultStore


def run_args(data_root: Path, results: Path) -> list[str]:
    return ["run", "--protocol", "casme2-5class", "--data-root", str(data_root),
            "--results", str(results)]


@pytest.fixture(scope="module")
def finished_run(tiny_twin_root, tmp_path_factory):
    from mer_bench.cli import main
    import sys

    results = tmp_path_factory.mktemp("results")
    argv = sys.argv
    sys.argv = ["mer-bench", *run_args(tiny_twin_root, results)]
    try:
        main()
    finally:
        sys.argv = argv
    return results


def test_run_writes_records_and_a_leaderboard_for_both_strategies(finished_run):
    records = ResultStore(finished_run).load_all()
    assert sorted(r.cell.keyframes for r in records) == ["annotated", "gamdss"]
    for record in records:
        assert record.n_folds == record.predictions["subject"].nunique() >= 4
        assert record.param_count == 2485  # STSTNet at 5 classes
        assert record.config["keyframes"]["name"] == record.cell.keyframes
        assert record.protocol_hash and record.config_hash
    index = (finished_run / "LEADERBOARD.md").read_text()
    assert "leaderboards/casme2.md" in index  # the index links the family page
    page = (finished_run / "leaderboards" / "casme2.md").read_text()
    table_lines = [line for line in page.splitlines() if line.startswith("|")]
    assert any(set(line) <= set("|:- ") for line in table_lines), "markdown alignment row"
    assert any("| gamdss" in line for line in table_lines)
    assert any("| annotated" in line for line in table_lines)
    assert (finished_run / "leaderboard.csv").is_file()
    assert (finished_run / "leaderboards" / "casme2.csv").is_file()


def test_gamdss_changes_training_key_frames_only(finished_run):
    (record,) = [r for r in ResultStore(finished_run).load_all() if r.cell.keyframes == "gamdss"]
    used = record.keyframes_used
    assert (used["test_apex"] == used["annotated_apex"]).all()
    assert (used["test_onset"] == used["annotated_onset"]).all()
    moved = (used["train_apex"] != used["annotated_apex"]) | (
        used["train_onset"] != used["annotated_onset"])
    assert moved.any()


def test_leaderboard_regenerates_identically(finished_run, cli):
    before = (finished_run / "LEADERBOARD.md").read_text()
    code, out, _ = cli("leaderboard", "--results", finished_run)
    assert code == 0 and "LEADERBOARD.md" in out
    assert (finished_run / "LEADERBOARD.md").read_text() == before


def test_compare_with_reselection_prints_the_difference(finished_run, cli):
    code, out, err = cli("compare", "--with-reselection", "--results", finished_run)
    assert code == 0, err
    assert "casme2-5class" in out and "ststnet" in out


def test_missing_data_root_is_one_clear_line(tmp_path, cli):
    results = tmp_path / "results"
    code, _, err = cli(*run_args(tmp_path / "nowhere", results))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "nowhere" in err and "--data-root" in err
    assert not results.exists()


def coding_sheet(data_root: Path):
    (path,) = (data_root / "CASME2").glob("CASME2-coding-*.xlsx")
    book = openpyxl.load_workbook(path)
    return path, book, book.active


def header_column(sheet, name: str) -> int:
    for cell in sheet[1]:
        if cell.value == name:
            return cell.column
    raise AssertionError(f"no {name} column")


def break_missing_column(data_root: Path) -> str:
    path, book, sheet = coding_sheet(data_root)
    sheet.cell(1, header_column(sheet, "OffsetFrame")).value = "Offset"
    book.save(path)
    return "OffsetFrame"


def break_onset_after_offset(data_root: Path) -> str:
    path, book, sheet = coding_sheet(data_root)
    onset, offset = header_column(sheet, "OnsetFrame"), header_column(sheet, "OffsetFrame")
    sheet.cell(3, onset).value, sheet.cell(3, offset).value = (
        sheet.cell(3, offset).value, sheet.cell(3, onset).value)
    book.save(path)
    return "row 3"


def break_empty_clip_folder(data_root: Path) -> str:
    clip = sorted(p for p in (data_root / "CASME2" / "Cropped").glob("sub*/*") if p.is_dir())[0]
    for frame in clip.iterdir():
        frame.unlink()
    return clip.name


# A bad workbook stops every run; a bad row is excluded (the run says so) unless --strict.
@pytest.mark.parametrize(("damage", "options"), [
    (break_missing_column, ()), (break_onset_after_offset, ("--strict",)),
    (break_empty_clip_folder, ("--strict",))])
def test_bad_input_stops_before_anything_is_written(damage, options, twin_copy, tmp_path, cli):
    needle = damage(twin_copy)
    results = tmp_path / "results"
    code, _, err = cli(*run_args(twin_copy, results), *options)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert not results.exists()


def test_unknown_model_suggests_a_name(tmp_path, cli):
    code, _, err = cli("run", "--protocol", "casme2-5class", "--model", "ststnett",
                       "--results", tmp_path / "r")
    assert code == 2 and "did you mean ststnet" in err


def test_a_protocol_without_its_sample_list_is_skipped_on_real_data(tiny_twin_root, tmp_path, cli):
    code, _, err = cli("run", "--protocol", "casme2-3class-megc", "--data-root", tiny_twin_root,
                       "--results", tmp_path / "r")
    assert code == 2 and "MEGC2019/combined_3class_gt.csv" in err
    assert not (tmp_path / "r").exists()


def test_a_password_protected_coding_file_says_so(twin_copy, tmp_path, cli):
    (coding,) = (twin_copy / "CASME2").glob("CASME2-coding-*.xlsx")
    # an encrypted workbook is an OLE compound file, not a zip archive
    coding.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))
    code, _, err = cli(*run_args(twin_copy, tmp_path / "results"))
    assert code == 2 and "password-protected" in err and coding.name in err
    assert len(err.strip().splitlines()) == 1
