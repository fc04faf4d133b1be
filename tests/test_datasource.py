"""Data sources: the data root option / environment, and twins regenerated when stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mer_bench.data.spec import DatasetSpec
from mer_bench.datasource import DATA_ENV, ensure_twin, resolve_data_source
from mer_bench.errors import DataError


def fake_dataset(calls: list, version: str) -> DatasetSpec:
    def write(out: Path, scale: float, seed: int) -> None:
        calls.append((scale, seed))
        out.mkdir(parents=True, exist_ok=True)
        (out / "twin_manifest.json").write_text(json.dumps(
            {"generator_version": version, "scale": scale}))

    return DatasetSpec("fake", "Fake", "FAKE", 30.0, read=lambda d: [], write_twin=write,
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
