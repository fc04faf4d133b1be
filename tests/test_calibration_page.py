"""The calibration page (results/calibration.md) and the reselection summary page."""

from __future__ import annotations

import dataclasses
import statistics

import pandas as pd
import pytest

from mer_bench.metrics import pooled_metrics
from mer_bench.report.calibration import (
    PUBLISHED,
    calibration_markdown,
    calibration_rows,
    current_twin_data,
    knobs_markdown,
)
from mer_bench.report.compare import build_comparison
from mer_bench.report.reselection_summary import summary_markdown
from mer_bench.store import JobResult, config_hash
from test_leaderboard import THREE, make_result

PARTS = ("smic-hs", "casme2", "samm")


def composite(model: str, seed: int, *, keyframes: str = "annotated", skill: int = 7,
              data: str | None = None, selection: str = "fixed-epochs") -> JobResult:
    """A megc2019-3class record whose config names ``data`` (default: today's full-size twins)."""
    result = make_result("megc2019-3class", model, keyframes, seed, skill=skill, datasets=PARTS,
                         selection=selection, subjects=6, samples=30)
    config = {**result.config, "data": data or current_twin_data()}
    return dataclasses.replace(result, config=config, config_hash=config_hash(config))


def part_uf1(run: JobResult, part: str) -> float:
    frame = run.predictions[run.predictions["sample_id"].str.startswith(part + "/")]
    return pooled_metrics(frame["y_true"], frame["y_pred"], THREE).uf1


def test_rows_pool_each_part_per_seed_and_compare_with_the_published_figures():
    runs = [composite("ststnet", seed) for seed in (0, 1, 2)]
    rows = {row["set"]: row for row in calibration_rows(runs)}
    assert set(rows) == {"composite", *PARTS}
    published = dict(PUBLISHED[0].scores)
    for part in PARTS:
        expected = statistics.fmean(part_uf1(run, part) for run in runs)
        assert rows[part]["uf1_twin"] == pytest.approx(expected)
        assert rows[part]["uf1_diff"] == pytest.approx(expected - published[part][0])
        assert rows[part]["within"] == (abs(expected - published[part][0]) <= 0.05)
        assert rows[part]["samples"] == 30 and rows[part]["seeds"] == 3
    assert rows["composite"]["uf1_twin"] == pytest.approx(
        statistics.fmean(run.metrics.uf1 for run in runs))


def test_only_honest_annotated_runs_on_the_current_twins_count():
    current = composite("ststnet", 0)
    stale = composite("ststnet", 1, skill=2, data="twin:smic-hs:v0:scale=1:seed=0 + older")
    others = [composite("ststnet", 2, keyframes="gamdss", skill=2),
              composite("ststnet", 2, selection="oracle", skill=10),
              composite("not-published", 0)]
    rows = calibration_rows([current, stale, *others])
    assert {row["seeds"] for row in rows} == {1}
    assert rows[0]["uf1_twin"] == pytest.approx(current.metrics.uf1)
    assert {row["model"] for row in rows} == {"ststnet"}


def test_the_page_says_which_rows_miss_their_tolerance():
    runs = [composite("ststnet", 0, skill=10), composite("offapexnet", 0, skill=7)]
    page = calibration_markdown(calibration_rows(runs), knobs_markdown())
    ststnet_composite = next(line for line in page.splitlines()
                             if line.startswith("| ststnet") and "composite" in line)
    assert "NO (±0.05)" in ststnet_composite  # a perfect score is far from 0.7353
    assert "check (not tuned to)" in page and "confusable share" in page


def truth_csv(tmp_path, verdict: str) -> None:
    rows = [{"dataset": d, "variant": "native", "strategy": "gamdss", "key_frame": frame,
             "change": -1.0, "verdict": verdict} for d in PARTS for frame in ("onset", "apex")]
    rows.append({"dataset": "casme2", "variant": "reversed", "strategy": "gamdss",
                 "key_frame": "offset", "change": 2.0, "verdict": "hurts"})
    (tmp_path / "reselection").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "reselection" / "truth-errors.csv", index=False)


def test_the_reselection_summary_puts_each_verdict_beside_the_truth_study(tmp_path):
    from mer_bench.report.reselection_summary import read_truth

    runs = [composite(model, seed, keyframes=kf, skill=skill)
            for model, kf, skill in (("ststnet", "annotated", 5), ("ststnet", "gamdss", 9),
                                     ("offapexnet", "annotated", 7), ("offapexnet", "gamdss", 7))
            for seed in (0, 1)]
    comparison = build_comparison(runs, "annotated", "gamdss", n_resamples=200)
    truth_csv(tmp_path, "helps")
    page = summary_markdown(comparison.table, read_truth(tmp_path))
    verdicts = dict(zip(comparison.table["model"], comparison.table["verdict"]))
    matrix_line = next(line for line in page.splitlines() if line.startswith("| megc2019-3class"))
    for model in ("ststnet", "offapexnet"):
        word = {"better": "helped", "worse": "hurt", "no evidence": "could not be told"}[verdicts[model]]
        assert word in matrix_line
    assert verdicts["offapexnet"] == "no evidence"  # identical predictions on both sides
    assert "casme2: onset helps (-1.00), apex helps (-1.00)" in page
    assert "offset hurts" not in page  # the reversed annotator is not the native one


def test_publishing_skips_a_comparison_whose_sides_come_from_different_twin_generators(tmp_path):
    """A gamdss record left from an older twin generator shares the records folder with a new
    annotated one: they are not a pair, and publishing says nothing about reselection rather than
    failing the run that wrote the new record."""
    from mer_bench.report.publish import publish
    from mer_bench.store import ResultStore

    new = composite("ststnet", 0)
    old = dataclasses.replace(composite("ststnet", 0, keyframes="gamdss"),
                              data_source="twin:smic-hs:v0:scale=1:seed=0 + older")
    store = ResultStore(tmp_path)
    for result in (new, old):
        store.write(result)
    index = publish(store.load_all(), tmp_path, records_dir=store.records_dir)
    assert index.is_file() and not (tmp_path / "reselection-summary.md").exists()
    assert (tmp_path / "calibration.md").is_file()


def reselection_runs() -> list[JobResult]:
    return [composite(model, seed, keyframes=kf, skill=skill)
            for model, kf, skill in (("ststnet", "annotated", 5), ("ststnet", "gamdss", 9),
                                     ("offapexnet", "annotated", 7), ("offapexnet", "gamdss", 7))
            for seed in (0, 1)]


def test_composite_parts_are_compared_on_their_own_samples_of_the_pooled_predictions():
    from mer_bench.report.pairing import part_table

    runs = reselection_runs()
    single = [make_result("casme2-3class", "ststnet", kf, 0, subjects=6) for kf in ("annotated", "gamdss")]
    table = part_table([*runs, *single], n_resamples=200)
    assert set(table["protocol"]) == {"megc2019-3class"}  # a one-dataset protocol has no parts
    assert sorted(zip(table["model"], table["part"])) == sorted(
        (model, part) for model in ("ststnet", "offapexnet") for part in PARTS)
    for _, row in table[table["model"] == "ststnet"].iterrows():
        side = {kf: [run for run in runs if run.cell.model == "ststnet" and run.cell.keyframes == kf]
                for kf in ("annotated", "gamdss")}
        annotated = statistics.fmean(part_uf1(run, row["part"]) for run in side["annotated"])
        gamdss = statistics.fmean(part_uf1(run, row["part"]) for run in side["gamdss"])
        assert row["uf1_annotated"] == pytest.approx(annotated, abs=1e-4)
        assert row["uf1_diff"] == pytest.approx(gamdss - annotated, abs=1e-4)
        assert (row["test_samples"], row["test_subjects"], row["seeds"]) == (30, 6, 2)
        assert row["uf1_diff_low"] <= row["uf1_diff"] <= row["uf1_diff_high"]
    offapexnet = table[table["model"] == "offapexnet"]
    assert (offapexnet["uf1_diff"] == 0).all() and (offapexnet["verdict"] == "no evidence").all()


def test_the_summary_gives_each_composite_part_its_row_and_its_own_truth(tmp_path):
    from mer_bench.report.pairing import part_table
    from mer_bench.report.reselection_summary import read_truth

    runs = reselection_runs()
    comparison = build_comparison(runs, "annotated", "gamdss", n_resamples=200)
    truth_csv(tmp_path, "helps")
    page = summary_markdown(comparison.table, read_truth(tmp_path), part_table(runs, n_resamples=200))
    samm_rows = [line for line in page.splitlines() if line.startswith("| megc2019-3class [samm part]")]
    assert len(samm_rows) == 3  # the matrix row, then one detail row per model
    assert all("casme2:" not in line for line in samm_rows[1:])
    assert "samm: onset helps (-1.00)" in samm_rows[1]
    assert "Over 2 protocol rows" in page and "Over the 6 rows of composite parts" in page


def test_summary_pages_go_when_the_records_no_longer_support_them(tmp_path):
    """Generated summary pages are removed by a publish whose records no longer support them; a
    person's file of the same name stays."""
    from mer_bench.report.publish import publish
    from mer_bench.store import ResultStore

    composite_store, single_store = ResultStore(tmp_path / "composite"), ResultStore(tmp_path / "single")
    for result in reselection_runs():
        composite_store.write(result)
    single_store.write(make_result("casme2-3class", "ststnet", "annotated", 0))
    out = tmp_path / "out"
    publish(composite_store.load_all(), out, records_dir=composite_store.records_dir)
    assert (out / "reselection-summary.md").is_file() and (out / "calibration.md").is_file()
    publish(single_store.load_all(), out, records_dir=single_store.records_dir)
    assert not (out / "reselection-summary.md").exists() and not (out / "calibration.md").exists()

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "calibration.md").write_text("# my own calibration notes\n", encoding="utf-8")
    publish(single_store.load_all(), mine, records_dir=single_store.records_dir)
    assert (mine / "calibration.md").read_text(encoding="utf-8") == "# my own calibration notes\n"
