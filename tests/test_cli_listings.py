"""The listing and twin-writing commands."""

from __future__ import annotations

from mer_bench.data.casme2 import read_casme2


def test_protocols_lists_casme2_5class_with_its_counts(cli):
    code, out, _ = cli("protocols")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("casme2-5class"))
    assert "249" in line and "26" in line and "loso" in line


def test_models_lists_ststnet_with_its_parameter_count(cli):
    code, out, _ = cli("models")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("ststnet"))
    assert "1683" in line and "flow-strain 28x28" in line


def test_synth_writes_a_twin_the_real_reader_reads(cli, tmp_path):
    code, out, err = cli("synth", "casme2", "--out", tmp_path, "--twin-scale", "0.1", "--twin-seed", "3")
    assert code == 0, err
    samples = read_casme2(tmp_path / "CASME2").samples
    assert len({s.subject for s in samples}) == 4


def test_synth_refuses_to_overwrite(cli, tmp_path):
    (tmp_path / "CASME2").mkdir()
    code, _, err = cli("synth", "casme2", "--out", tmp_path, "--twin-scale", "0.1")
    assert code == 2 and "already exists" in err


def test_doctor_reports_the_twin_usable_and_others_absent(cli, tiny_twin_root):
    code, out, err = cli("doctor", "--data-root", tiny_twin_root)
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalnum()}
    assert "usable" in rows["casme2"] and "absent" in rows["samm"]


def test_doctor_exit_status_says_a_dataset_is_unusable(cli, twin_copy):
    (coding,) = (twin_copy / "CASME2").glob("CASME2-coding-*.xlsx")
    coding.write_bytes(b"\x00 not a workbook")
    code, out, _ = cli("doctor", "--data-root", twin_copy)
    assert code == 1 and coding.name in out


def test_doctor_without_a_data_root_is_one_clear_line(cli, tmp_path):
    code, _, err = cli("doctor", "--data-root", tmp_path / "nowhere")
    assert code == 2 and "nowhere" in err and len(err.strip().splitlines()) == 1


def test_protocol_check_on_a_scaled_twin_does_not_fail(cli, tiny_twin_root):
    code, out, err = cli("protocols", "--check", "--data-root", tiny_twin_root)
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("casme2-5class"))
    assert "scaled twin" in line
    assert "data absent" in next(l for l in out.splitlines() if l.startswith("samm-5class"))
