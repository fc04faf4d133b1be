"""The Python API: run, load_records, load_predictions, compare, leaderboard, plan; and the
top-level package exporting them."""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest
from rich.console import Console

import mer_bench
from mer_bench import api
from mer_bench.errors import ConfigError, DataError
from mer_bench.store import ResultStore

MODEL = "ststnet[epochs=1]"


@pytest.fixture(scope="module")
def finished(tiny_twin_root, tmp_path_factory):
    """One API run: annotated and gamdss key frames, one seed, one epoch per fold."""
    results = tmp_path_factory.mktemp("api") / "results"
    scores = mer_bench.run(["casme2-5class"], models=[MODEL], keyframes=["annotated", "gamdss"],
                           data_root=tiny_twin_root, results=results,
                           console=Console(file=io.StringIO()))
    return results, scores


def test_the_package_exports_the_api():
    assert mer_bench.run is api.run and mer_bench.load_records is api.load_records
    assert {"run", "load_records", "load_predictions", "compare", "leaderboard"} <= set(dir(mer_bench))
    for name in api.__all__:
        doc = getattr(api, name).__doc__
        assert "Parameters" in doc and "Returns" in doc and "Examples" in doc, name


def test_run_returns_one_row_per_cell_matching_the_stored_records(finished):
    results, scores = finished
    assert list(scores.columns) == list(api.RECORD_COLUMNS)
    assert sorted(scores["keyframes"]) == ["annotated", "gamdss"]
    assert set(scores["model"]) == {MODEL} and set(scores["seed"]) == {0}
    for row in scores.itertuples():
        record = ResultStore(results).load_all(data=row.data)
        (match,) = [r for r in record if r.cell.keyframes == row.keyframes]
        assert row.uf1 == match.metrics.uf1 and row.n_samples == match.n_samples
        assert row.path.endswith(match.cell.relpath.as_posix())
    assert scores["data"].str.startswith("real-").all()  # a real data root: its own folder


def test_load_records_filters_by_cell_fields(finished):
    results, scores = finished
    everything = api.load_records(results)
    pd.testing.assert_frame_equal(everything, scores)
    only = api.load_records(results, keyframes="gamdss", protocol="casme2-5class")
    assert list(only["keyframes"]) == ["gamdss"]
    assert api.load_records(results, model="nosuch").empty
    assert list(api.load_records(results, model="nosuch").columns) == list(api.RECORD_COLUMNS)


def test_load_predictions_has_every_test_sample_once_per_record(finished):
    results, scores = finished
    predictions = api.load_predictions(results)
    assert len(predictions) == scores["n_samples"].sum()
    assert list(predictions.columns[:6]) == list(api.CELL_COLUMNS)
    gamdss = api.load_predictions(results, keyframes="gamdss")
    assert gamdss["sample_id"].is_unique and set(gamdss["keyframes"]) == {"gamdss"}
    accuracy = (gamdss["y_true"] == gamdss["y_pred"]).mean()
    assert accuracy == pytest.approx(scores.set_index("keyframes").loc["gamdss", "accuracy"])


def test_compare_and_leaderboard_return_tables(finished, tmp_path):
    results, _ = finished
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    comparison = api.compare(copy, baseline="annotated", other="gamdss", resamples=20)
    assert list(comparison.table["protocol"]) == ["casme2-5class"]
    assert (copy / "compare" / "annotated-vs-gamdss.md").is_file()
    rows = api.leaderboard(copy, write=False)
    models = rows[(rows["protocol"] == "casme2-5class") & (rows["kind"] != "reference")]
    assert set(models["keyframes"]) == {"annotated", "gamdss"}
    # every protocol table carries its chance references (majority class, uniform guessing)
    assert (rows["kind"] == "reference").sum() >= 2


def test_compare_asks_which_data_source_when_there_are_several(finished, tmp_path):
    results, scores = finished
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    (data,) = set(scores["data"])
    shutil.copytree(copy / "records" / data, copy / "records" / "real-other-00000000")
    with pytest.raises(ConfigError, match="2 data sources .*choose one with --data"):
        api.compare(copy, resamples=20, write=False)
    assert api.compare(copy, data=data, resamples=20, write=False).table.shape[0] == 1
    with pytest.raises(DataError, match="no records of data source 'nosuch'"):
        api.compare(copy, data="nosuch", write=False)


def test_plan_drops_duplicates_with_a_note_and_lists_skipped_protocols(tiny_twin_root, tmp_path):
    plan = api.plan(suite="megc2019", models=["ststnet", "ststnet"],
                    keyframes=["gamdss", "gamdss[window_fraction=0.1]"], seeds=[0],
                    data_root=tiny_twin_root, results=tmp_path / "r")
    assert [(c.protocol, c.model, c.keyframes) for c in plan.cells] == [
        ("casme2-5class", "ststnet", "gamdss")]
    assert plan.notes == ["note: --model ststnet given twice; running it once",
                          "note: --keyframes gamdss[window_fraction=0.1] given twice (the same as "
                          "gamdss); running it once"]
    assert plan.skipped["samm-3class"].startswith("no SAMM/ under ")
    assert "MEGC2019/combined_3class_gt.csv" in plan.skipped["megc2019-3class"]
    assert not (tmp_path / "r").exists()


def test_the_dry_run_prints_skipped_protocols_and_notes(tiny_twin_root, tmp_path, cli):
    code, out, err = cli("run", "--suite", "megc2019", "--model", "ststnet", "--model", "ststnet",
                         "--data-root", tiny_twin_root, "--results", tmp_path / "r", "--dry-run")
    assert code == 0, err
    assert "note: --model ststnet given twice; running it once" in err
    assert "6 jobs on real data under" in out  # casme2-5class x (annotated, gamdss) x 3 seeds
    assert any(line.startswith("skipped samm-3class: no SAMM/") for line in out.splitlines())
    assert not (tmp_path / "r").exists()
