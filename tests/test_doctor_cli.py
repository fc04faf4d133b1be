"""`mer-bench doctor` on the command line: exit statuses as documented, one-line usage errors."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from mer_bench.data.loading import load_dataset_dir
from mer_bench.data.spec import DATASETS


def test_help_documents_the_exit_statuses(cli):
    code, out, _ = cli("doctor", "--help")
    assert code == 0
    text = " ".join(out.split())
    for phrase in ("Exit status: 0 every dataset found is usable", "1 a dataset found is unusable",
                   "no dataset was found", "2 bad usage (e.g. --data-root is not a folder)",
                   "--deep", "--strict"):
        assert phrase in text


def test_an_empty_root_says_what_it_looked_for_and_exits_1(cli, tmp_path):
    code, out, _ = cli("doctor", "--data-root", tmp_path)
    assert code == 1
    assert f"no dataset found under {tmp_path}; looked for: 4DME/ (4DME)" in out
    assert "SMIC/SMIC_all_cropped/HS/ (SMIC-HS)" in out and "CASME2/ (CASME II)" in out


def test_a_file_given_as_data_root_says_it_is_a_file(cli, tmp_path):
    path = tmp_path / "CASME2-coding-20190701.xlsx"
    path.write_bytes(b"a workbook, not a folder")
    code, _, err = cli("doctor", "--data-root", path)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"data root {path} is a file, not a folder" in err


def test_a_missing_root_is_one_clear_line(cli, tmp_path):
    code, _, err = cli("doctor", "--data-root", tmp_path / "nowhere")
    assert code == 2 and "nowhere" in err and "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_an_excluded_row_is_listed_and_strict_makes_it_unusable(cli, twin_copy):
    (coding,) = (twin_copy / "CASME2").glob("CASME2-coding-*.xlsx")
    workbook = load_workbook(coding)
    workbook.active["D2"] = "x"
    workbook.save(coding)
    code, out, _ = cli("doctor", "--data-root", twin_copy)
    assert code == 0
    assert "CASME II: rows excluded (1;" in out and "row 2: OnsetFrame 'x'" in out
    row = next(line for line in out.splitlines() if line.startswith("casme2 "))
    assert "usable, 1 rows excluded" in row
    code, out, _ = cli("doctor", "--data-root", twin_copy, "--strict")
    assert code == 1 and "error: 1 rows excluded (--strict)" in out


def test_deep_names_a_corrupt_frame_between_the_key_frames(cli, twin_copy):
    sample = load_dataset_dir(DATASETS.get("casme2"), twin_copy / "CASME2").samples[0]
    kf = sample.annotated
    inner = next(p for n, p in zip(sample.frame_numbers, sample.frame_paths)
                 if n not in (kf.onset, kf.apex, kf.offset))
    inner.write_bytes(b"")
    code, out, _ = cli("doctor", "--data-root", twin_copy)
    assert code == 0 and str(inner) not in out
    code, out, _ = cli("doctor", "--data-root", twin_copy, "--deep")
    assert code == 0 and f"{sample.sample_id}: {inner}: empty frame file (0 bytes)" in out


def test_a_corrupt_key_frame_is_named_without_deep(cli, twin_copy):
    sample = load_dataset_dir(DATASETS.get("casme2"), twin_copy / "CASME2").samples[0]
    apex = sample.path_of(sample.annotated.apex)
    Path(apex).write_bytes(apex.read_bytes()[:200])
    code, out, _ = cli("doctor", "--data-root", twin_copy)
    assert code == 0 and f"{sample.sample_id}: {apex}: corrupt frame" in out
