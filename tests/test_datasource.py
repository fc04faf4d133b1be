"""Data sources: the data root option / environment, and twins regenerated when stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mer_bench.data.sample import Rows
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.datasource import (DATA_ENV, ensure_twin, list_base, load_dataset, protocol_data,
                                  resolve_data_source)
from mer_bench.errors import DataError


def fake_dataset(calls: list, version: str) -> DatasetSpec:
    def write(out: Path, scale: float, seed: int) -> None:
        calls.append((scale, seed))
        out.mkdir(parents=True, exist_ok=True)
        (out / "twin_manifest.json").write_text(json.dumps(
            {"generator_version": version, "scale": scale}))

    return DatasetSpec("fake", "Fake", "FAKE", 30.0, read=lambda d: Rows([]), write_twin=write,
                       twin_version=version)


def test_twin_is_generated_once_and_again_when_the_generator_changes():
    calls: list = []
    source = resolve_data_source(None, twin_scale=0.5, twin_seed=7)
    ensure_twin(fake_dataset(calls, "1"), source)
    ensure_twin(fake_dataset(calls, "1"), source)
    assert calls == [(0.5, 7)]
    ensure_twin(fake_dataset(calls, "2"), source)
    assert len(calls) == 2


def test_data_root_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert resolve_data_source(None).root == tmp_path.resolve()


def test_explicit_data_root_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "missing"))
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    assert resolve_data_source(chosen).root == chosen.resolve()


def test_twin_scale_out_of_range_is_rejected():
    with pytest.raises(DataError, match="twin scale 2"):
        resolve_data_source(None, twin_scale=2)


def test_a_file_as_data_root_says_it_is_a_file(tmp_path):
    (tmp_path / "root.txt").write_text("")
    with pytest.raises(DataError, match="is a file, not a folder"):
        resolve_data_source(tmp_path / "root.txt")


def test_strict_makes_an_excluded_row_an_error(twin_copy):
    from openpyxl import load_workbook

    (coding,) = (twin_copy / "CASME2").glob("CASME2-coding-*.xlsx")
    workbook = load_workbook(coding)
    workbook.active["F3"] = 1  # offset before onset
    workbook.save(coding)
    casme2 = DATASETS.get("casme2")
    loaded = load_dataset(casme2, resolve_data_source(twin_copy))
    assert [e.sample_id for e in loaded.excluded] == [
        next(s.sample_id for s in casme2.read(twin_copy / "CASME2").samples
             if s.extra["coding_row"] == "3")]
    with pytest.raises(DataError, match=r"CASME II: 1 rows excluded on loading, and --strict "
                                        r"allows none \(the first: .*row 3: OnsetFrame \d+ is after OffsetFrame 1"):
        load_dataset(casme2, resolve_data_source(twin_copy, strict=True))


def test_records_carry_rows_excluded_and_the_sample_list_with_its_hash(twin_copy):
    from openpyxl import load_workbook

    from mer_bench.execute.job import Job, job_config, make_strategy
    from mer_bench.models import MODELS
    from mer_bench.protocols import get_protocol
    from mer_bench.store import Cell, data_key

    protocol = get_protocol("casme2-3class-megc")
    twin = resolve_data_source(None, twin_scale=0.15)
    data = protocol_data(protocol, twin)  # writes the twins' lists
    (twin_copy / "MEGC2019").mkdir()
    for spec in protocol.sample_lists:
        listed = list_base(protocol, twin) / spec.file
        (twin_copy / spec.file).write_bytes(listed.read_bytes())
    (coding,) = (twin_copy / "CASME2").glob("CASME2-coding-*.xlsx")
    workbook = load_workbook(coding)
    workbook.active["D2"] = "x"
    workbook.save(coding)

    def config(source) -> dict:
        job = Job(Cell(protocol.id, "ststnet", "annotated", 0, data=data_key(source)), source)
        return job_config(job, protocol, MODELS.get("ststnet"), make_strategy("annotated"))

    real = config(resolve_data_source(twin_copy))
    assert real["excluded_rows"] == {"casme2": 1}
    assert real["sample_list"] == {"file": "MEGC2019/combined_3class_gt.csv",
                                   "sha256": data.sample_list.sha256}
    assert config(twin)["sample_list"]["sha256"] == data.sample_list.sha256
    assert "excluded_rows" not in config(twin)
    plain = Job(Cell("casme2-5class", "ststnet", "annotated", 0, data=data_key(twin)), twin)
    assert not {"excluded_rows", "sample_list"} & set(job_config(
        plain, get_protocol("casme2-5class"), MODELS.get("ststnet"), make_strategy("annotated")))
