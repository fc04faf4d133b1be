"""Result records: round trip, atomic replacement, damaged records, config hashing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mer_bench.datasource import DataSource
from mer_bench.errors import DataError
from mer_bench.metrics import pooled_metrics
from mer_bench.store import (
    SCHEMA_VERSION,
    Cell,
    JobResult,
    ResultStore,
    config_hash,
    data_key,
    git_commit,
    package_versions,
)

CLASSES = ["negative", "positive", "surprise"]


def make_result(cell: Cell, y_pred: list[int] | None = None, *, with_keyframes: bool = True) -> JobResult:
    y_true = [0, 0, 1, 2, 1, 0]
    y_pred = y_pred if y_pred is not None else [0, 1, 1, 2, 0, 0]
    subjects = ["s1", "s1", "s2", "s2", "s3", "s3"]
    predictions = pd.DataFrame(
        {
            "sample_id": [f"casme2/{s}/clip{i}" for i, s in enumerate(subjects)],
            "subject": subjects,
            "fold": [0, 0, 1, 1, 2, 2],
            "y_true": y_true,
            "y_pred": y_pred,
            "true_label": [CLASSES[i] for i in y_true],
            "pred_label": [CLASSES[i] for i in y_pred],
        }
    )
    keyframes = None
    if with_keyframes:
        keyframes = pd.DataFrame(
            {
                "sample_id": predictions["sample_id"],
                "annotated_onset": [1, 2, 3, 4, 5, 6],
                "annotated_apex": pd.array([6, None, 7, 8, 9, 11], dtype="Int64"),
                "annotated_offset": [11, 12, 13, 14, 15, 16],
                "train_onset": [1, 2, 3, 4, 5, 6],
                "train_apex": pd.array([5, None, 7, 8, 9, 10], dtype="Int64"),
                "train_offset": [11, 12, 13, 14, 15, 16],
                "test_onset": [1, 2, 3, 4, 5, 6],
                "test_apex": pd.array([6, None, 7, 8, 9, 11], dtype="Int64"),
                "test_offset": [11, 12, 13, 14, 15, 16],
            }
        )
    config = {"model": {"name": cell.model, "dropout": 0.5}, "budget": {"epochs": 40}, "input": [28, 28]}
    return JobResult(
        cell=cell,
        protocol_version="1",
        protocol_hash="a" * 64,
        config=config,
        config_hash=config_hash(config),
        metrics=pooled_metrics(y_true, y_pred, CLASSES),
        param_count=1234,
        flops=5678,
        n_samples=6,
        n_folds=3,
        predictions=predictions,
        keyframes_used=keyframes,
        curves={"train_loss": [1.0, 0.5, 0.25]},
        git_commit="0123abc",
        package_versions={"python": "3.11.9"},
        wall_time_s=1.5,
        started_at="2026-01-01T00:00:00+00:00",
        data_source="twin:casme2",
    )


TWIN = "twin-scale0.15-seed0"
CELL = Cell("casme2-5class", "ststnet", "gamdss", 0, data=TWIN)


def test_cell_id_and_relpath() -> None:
    assert CELL.cell_id == "twin-scale0.15-seed0/casme2-5class/ststnet/gamdss/seed0"
    assert CELL.relpath == Path("twin-scale0.15-seed0/casme2-5class/ststnet/gamdss/seed0")
    odd = Cell("p", "timm:resnet/18", ".hidden", 2, data=TWIN)
    assert odd.relpath == Path(f"{TWIN}/p/timm%3Aresnet%2F18/%2Ehidden/seed2")
    with pytest.raises(ValueError, match="seed"):
        Cell("p", "m", "k", -1, data=TWIN)
    with pytest.raises(ValueError, match="data"):
        Cell("p", "m", "k", 0, data="")


def test_data_key_names_twins_by_scale_and_seed_and_real_roots_by_path(tmp_path: Path) -> None:
    assert data_key(DataSource(None, 0.15, 0)) == "twin-scale0.15-seed0"
    assert data_key(DataSource(None, 1.0, 3)) == "twin-scale1-seed3"
    first, second = tmp_path / "mer data", tmp_path / "other" / "mer data"
    assert data_key(DataSource(first)).startswith("real-mer-data-")
    assert data_key(DataSource(first)) != data_key(DataSource(second))
    assert data_key(DataSource(first)) == data_key(DataSource(tmp_path / "x" / ".." / "mer data"))


def test_records_of_different_data_sources_never_share_a_path(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    cells = [replace(CELL, data=data) for data in (TWIN, "twin-scale1-seed0", "real-mer-1234")]
    for cell in cells:
        store.write(make_result(cell))
    assert len({store.path_of(cell) for cell in cells}) == 3
    assert [r.cell for r in store.load_all()] == sorted(cells, key=lambda c: c.cell_id)
    assert [r.cell for r in store.load_all(data=TWIN)] == [CELL]
    assert store.data_sources() == sorted(c.data for c in cells)


def test_records_in_the_old_layout_fail_in_one_line(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    directory = store.write(make_result(CELL))
    old = tmp_path / "records" / "casme2-5class" / "ststnet" / "annotated" / "seed0"
    old.parent.mkdir(parents=True)
    directory.rename(old)
    with pytest.raises(DataError, match=r"1 records in the old layout.*move them out") as caught:
        store.load_all()
    assert "\n" not in str(caught.value)


def test_write_then_load_gives_an_equal_result(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    result = make_result(CELL)
    directory = store.write(result)
    assert directory == tmp_path / "records" / TWIN / "casme2-5class/ststnet/gamdss/seed0"
    assert sorted(p.name for p in directory.iterdir()) == ["keyframes.parquet", "predictions.parquet", "record.json"]
    assert store.has(CELL)
    loaded = store.load(CELL)
    assert loaded == result
    pd.testing.assert_frame_equal(loaded.predictions, result.predictions)
    pd.testing.assert_frame_equal(loaded.keyframes_used, result.keyframes_used)
    assert loaded.metrics == result.metrics
    assert json.loads((directory / "record.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_load_all_is_sorted_by_cell_id_and_handles_missing_keyframes(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    cells = [Cell("p", "m", "gamdss", 1, data=TWIN), Cell("p", "m", "annotated", 0, data=TWIN),
             Cell("p", "m", "gamdss", 0, data=TWIN)]
    for cell in cells:
        store.write(make_result(cell, with_keyframes=False))
    loaded = store.load_all()
    assert [r.cell.cell_id for r in loaded] == sorted(c.cell_id for c in cells)
    assert all(r.keyframes_used is None for r in loaded)


def test_failed_write_leaves_no_record_and_keeps_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    store = ResultStore(tmp_path)
    other_cell = Cell("casme2-5class", "ststnet", "gamdss", 1, data=TWIN)
    previous = make_result(CELL)
    store.write(previous)

    real_to_parquet = pd.DataFrame.to_parquet

    def crash_after_a_partial_file(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash_after_a_partial_file)
    with pytest.raises(OSError, match="disk full"):
        store.write(make_result(other_cell))
    with pytest.raises(OSError, match="disk full"):
        store.write(make_result(CELL, y_pred=[0, 0, 1, 2, 1, 0]))

    assert not store.path_of(other_cell).exists()
    assert not store.has(other_cell)
    assert store.load(CELL) == previous
    siblings = sorted(p.name for p in store.path_of(CELL).parent.iterdir())
    assert siblings == ["seed0"], "no temporary directories are left behind"

    monkeypatch.setattr(pd.DataFrame, "to_parquet", real_to_parquet)
    replacement = make_result(CELL, y_pred=[0, 0, 1, 2, 1, 0])
    store.write(replacement)
    assert store.load(CELL) == replacement
    assert store.load(CELL) != previous
    assert sorted(p.name for p in store.path_of(CELL).parent.iterdir()) == ["seed0"]


def test_broken_json_raises_data_error_naming_the_file(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    directory = store.write(make_result(CELL))
    (directory / "record.json").write_text('{"schema_version": 1, "cell": ')
    with pytest.raises(DataError, match=r"record\.json: broken JSON.*re-run"):
        store.load_all()
    with pytest.raises(DataError, match=str(directory / "record.json")):
        store.load(CELL)


def test_newer_schema_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    directory = store.write(make_result(CELL))
    record = json.loads((directory / "record.json").read_text())
    record["schema_version"] = SCHEMA_VERSION + 1
    (directory / "record.json").write_text(json.dumps(record))
    with pytest.raises(DataError, match="newer than this mer-bench reads.*upgrade mer-bench"):
        store.load(CELL)


def test_hand_edited_config_is_detected(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    directory = store.write(make_result(CELL))
    record = json.loads((directory / "record.json").read_text())
    record["config"]["budget"]["epochs"] = 400
    (directory / "record.json").write_text(json.dumps(record))
    with pytest.raises(DataError, match="config does not match config_hash"):
        store.load(CELL)


def test_write_rejects_a_config_hash_that_does_not_match(tmp_path: Path) -> None:
    result = make_result(CELL)
    result.config_hash = "0" * 64
    with pytest.raises(ValueError, match="config_hash"):
        ResultStore(tmp_path).write(result)
    assert not ResultStore(tmp_path).has(CELL)


def test_config_hash_is_stable_under_key_order() -> None:
    first = {"model": {"name": "ststnet", "dropout": 0.5}, "budget": {"epochs": 40}}
    second = {"budget": {"epochs": 40}, "model": {"dropout": 0.5, "name": "ststnet"}}
    assert config_hash(first) == config_hash(second)
    assert len(config_hash(first)) == 64
    assert config_hash(first) != config_hash({**first, "budget": {"epochs": 41}})


def test_config_hash_refuses_values_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="PosixPath|Path"):
        config_hash({"data_root": Path("/data")})


def test_provenance_helpers_never_raise() -> None:
    commit = git_commit()
    assert commit is None or len(commit) == 40
    versions = package_versions()
    assert {"python", "mer_bench", "pandas", "numpy", "scikit-learn", "torch", "torchvision",
            "timm", "scipy", "opencv", "optuna", "pyarrow", "openpyxl"} <= set(versions)
