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
    code, out, err = cli("synth", "casme2", "--out", tmp_path, "--scale", "0.1", "--seed", "3")
    assert code == 0, err
    samples = read_casme2(tmp_path / "CASME2")
    assert len({s.subject for s in samples}) == 4


def test_synth_refuses_to_overwrite(cli, tmp_path):
    (tmp_path / "CASME2").mkdir()
    code, _, err = cli("synth", "casme2", "--out", tmp_path, "--scale", "0.1")
    assert code == 2 and "already exists" in err
