"""mer-bench compare: paired rows with intervals, McNemar, Holm and a verdict; files and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_bench.errors import MerBenchError
from mer_bench.metrics import pooled_metrics
from mer_bench.report.compare import build_comparison, comparison_markdown, write_comparison
from mer_bench.report.pairing import compare_table
from mer_bench.report.stats import holm
from mer_bench.store import Cell, JobResult, ResultStore, config_hash

CLASSES = ["negative", "positive", "surprise"]
SUBJECTS = [f"s{i:02d}" for i in range(12) for _ in range(4)]
Y_TRUE = [i % 3 for i in range(len(SUBJECTS))]
ALL_RIGHT = list(Y_TRUE)
HALF_RIGHT = [y if i % 2 else (y + 1) % 3 for i, y in enumerate(Y_TRUE)]
FAST = 300  # bootstrap resamples in tests


def make_result(
    keyframes: str,
    seed: int,
    y_pred: list[int],
    *,
    model: str = "ststnet",
    selection: str = "fixed-epochs",
    protocol: str = "casme2-3class",
    version: str = "1",
    protocol_hash: str = "b" * 64,
    sample_prefix: str = "clip",
    data_source: str = "twin:casme2:v2:scale=1:seed=0",
    subjects: list[str] = SUBJECTS,
) -> JobResult:
    predictions = pd.DataFrame({
        "sample_id": [f"casme2/{s}/{sample_prefix}{i}" for i, s in enumerate(subjects)],
        "subject": subjects,
        "fold": [int(s[1:]) for s in subjects],
        "y_true": Y_TRUE,
        "y_pred": y_pred,
        "true_label": [CLASSES[i] for i in Y_TRUE],
        "pred_label": [CLASSES[i] for i in y_pred],
    })
    config = {"model": model, "keyframes": keyframes, "epochs": 40, "selection": selection}
    return JobResult(
        cell=Cell(protocol, model, keyframes, seed, selection, data="twin-scale1-seed0"),
        protocol_version=version,
        protocol_hash=protocol_hash,
        config=config,
        config_hash=config_hash(config),
        selection_mode=selection,
        metrics=pooled_metrics(Y_TRUE, y_pred, CLASSES),
        param_count=1000,
        n_samples=len(Y_TRUE),
        n_folds=12,
        predictions=predictions,
        git_commit="c" * 40,
        wall_time_s=1.0,
        started_at="2026-01-01T00:00:00+00:00",
        data_source=data_source,
    )


def flipped(y_pred: list[int], every: int) -> list[int]:
    """Some predictions moved to another class, so seeds differ a little."""
    return [(p + 1) % 3 if i % every == 0 else p for i, p in enumerate(y_pred)]


def two_sided(model: str, base: list[int], other: list[int], seeds=(0, 1)) -> list[JobResult]:
    runs = []
    for seed in seeds:
        runs.append(make_result("annotated", seed, flipped(base, 7 + seed), model=model))
        runs.append(make_result("gamdss", seed, flipped(other, 11 + seed), model=model))
    return runs


def test_identical_predictions_show_no_difference_and_no_evidence() -> None:
    results = [make_result(k, 0, HALF_RIGHT) for k in ("annotated", "gamdss")]
    row = compare_table(results, n_resamples=FAST).iloc[0]
    for score in ("acc", "uf1", "uar"):
        assert (row[f"{score}_diff"], row[f"{score}_diff_low"], row[f"{score}_diff_high"]) == (0.0, 0.0, 0.0)
    assert (row["n01"], row["n10"], row["p_mcnemar"], row["p_holm"]) == (0, 0, 1.0, 1.0)
    assert row["verdict"] == "no evidence"
    assert np.isnan(row["uf1_annotated_std"]), "one seed: no std"
    assert (row["test_samples"], row["test_subjects"], row["subjects_differing"]) == (48, 12, 0)
    assert np.isnan(row["uf1_mde"]), "sides that never disagree have no spread to measure"


def test_a_clearly_better_side_is_better_and_the_reverse_worse() -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT) + two_sided("htnet", ALL_RIGHT, HALF_RIGHT)
    table = compare_table(results, n_resamples=FAST).set_index("model")
    assert table.loc["ststnet", "verdict"] == "better"
    assert table.loc["ststnet", "uf1_diff_low"] > 0 and table.loc["ststnet", "n10"] > table.loc["ststnet", "n01"]
    assert table.loc["htnet", "verdict"] == "worse"
    assert table.loc["htnet", "uf1_diff_high"] < 0
    np.testing.assert_allclose(table["p_holm"], holm(table["p_mcnemar"]))
    for model in ("ststnet", "htnet"):
        row = table.loc[model]
        assert row["seeds"] == 2
        assert row["uf1_diff_low"] <= row["uf1_diff"] <= row["uf1_diff_high"]
        runs = [r for r in results if r.cell.model == model]
        base = [r.metrics.uf1 for r in runs if r.cell.keyframes == "annotated"]
        other = [r.metrics.uf1 for r in runs if r.cell.keyframes == "gamdss"]
        assert row["uf1_diff"] == round(np.mean(other) - np.mean(base), 4)
        assert row["uf1_annotated_std"] == round(float(np.std(base, ddof=1)), 4)


def test_only_seeds_run_on_both_sides_are_paired() -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT) + [make_result("gamdss", 5, ALL_RIGHT)]
    row = compare_table(results, n_resamples=FAST).iloc[0]
    assert row["seeds"] == 2 and row["seed_list"] == "0 1"
    assert "seed5" not in row["cells_gamdss"]


def test_the_same_rows_give_the_same_numbers() -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT)
    assert compare_table(results, n_resamples=FAST).equals(compare_table(list(reversed(results)), n_resamples=FAST))


def test_markdown_has_alignment_row_signed_deltas_and_mean_std() -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT)
    comparison = build_comparison(results, "annotated", "gamdss", n_resamples=FAST)
    lines = comparison.markdown_table.splitlines()
    assert lines[1].startswith("|:") and "-:|" in lines[1], "text left, numbers right"
    assert "ΔUF1 [95% CI]" in lines[0] and "p (Holm)" in lines[0] and "verdict" in lines[0]
    assert " ± " in lines[2] and "| better" in lines[2]
    row = comparison.table.iloc[0]
    assert f"+{row['uf1_diff']:.4f} [+{row['uf1_diff_low']:.4f}, +{row['uf1_diff_high']:.4f}]" in lines[2]
    assert "more than half" in comparison.note and "Holm" in comparison.note


def test_samples_must_match_exactly() -> None:
    results = [make_result("annotated", 0, ALL_RIGHT), make_result("gamdss", 0, ALL_RIGHT, sample_prefix="x")]
    with pytest.raises(MerBenchError, match=r"predicted different samples \(48 only in the first"):
        compare_table(results, n_resamples=FAST)


def test_oracle_comparison_pairs_selection_modes_and_says_it_measures_inflation() -> None:
    results = [
        make_result(keyframes, 0, pred, selection=selection)
        for keyframes in ("annotated", "gamdss")
        for selection, pred in (("fixed-epochs", HALF_RIGHT), ("oracle", ALL_RIGHT))
    ]
    comparison = build_comparison(results, "fixed-epochs", "oracle", kind="selection", n_resamples=FAST)
    assert comparison.name == "fixed-epochs-vs-oracle"
    assert list(comparison.table["keyframes"]) == ["annotated", "gamdss"]
    assert set(comparison.table["verdict"]) == {"better"}
    markdown = comparison_markdown(comparison)
    assert markdown.startswith("# Oracle inflation: fixed-epochs vs oracle")
    assert "measures inflation" in markdown


def test_oracle_rows_of_a_keyframe_comparison_are_flagged() -> None:
    results = [make_result(k, 0, pred, selection=selection)
               for selection in ("fixed-epochs", "oracle")
               for k, pred in (("annotated", HALF_RIGHT), ("gamdss", ALL_RIGHT))]
    comparison = build_comparison(results, "annotated", "gamdss", n_resamples=FAST)
    assert list(comparison.table["selection"]) == ["fixed-epochs", "oracle"], "never pooled"
    assert "`oracle` picked the best epoch on the test subject" in comparison_markdown(comparison)


def test_runs_on_different_data_are_not_paired() -> None:
    other = make_result("gamdss", 0, ALL_RIGHT, data_source="data:casme2:/data/CASME2")
    with pytest.raises(MerBenchError, match="run the missing cells first"):
        compare_table([make_result("annotated", 0, ALL_RIGHT), other], n_resamples=FAST)


def test_each_data_source_gets_its_own_rows() -> None:
    real = "data:casme2:/data/CASME2"
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT) + [
        make_result(k, 0, pred, data_source=real) for k, pred in (("annotated", ALL_RIGHT), ("gamdss", HALF_RIGHT))]
    table = compare_table(results, n_resamples=FAST)
    assert list(table["data"]) == ["twin x1 seed 0", "real data /data"], "twins first, never pooled"
    assert list(table["data_source"]) == ["twin:casme2:v2:scale=1:seed=0", real]
    assert list(table["seeds"]) == [2, 1]
    assert list(table["verdict"]) == ["better", "worse"]


FOUR_SUBJECTS = [f"s{i:02d}" for i in range(4) for _ in range(12)]


def test_fewer_than_five_subjects_print_too_few_subjects_instead_of_an_interval() -> None:
    results = [make_result(k, 0, pred, subjects=FOUR_SUBJECTS)
               for k, pred in (("annotated", HALF_RIGHT), ("gamdss", ALL_RIGHT))]
    comparison = build_comparison(results, "annotated", "gamdss", n_resamples=FAST)
    row = comparison.table.iloc[0]
    assert row["test_subjects"] == 4 and row["verdict"] == "too few subjects"
    assert row["uf1_diff"] > 0, "the difference of the means is still shown"
    for column in ("uf1_diff_low", "uf1_diff_high", "uar_diff_low", "acc_diff_high", "uf1_mde", "p_holm"):
        assert np.isnan(row[column]), column
    line = comparison.markdown_table.splitlines()[2]
    assert f"{row['uf1_diff']:+.4f} [too few subjects]" in line and line.rstrip(" |").endswith("too few subjects")
    assert "better" not in line and "no evidence" not in line, "no verdict beyond that"


def test_too_few_subject_rows_are_left_out_of_the_holm_family() -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT) + [
        make_result(k, 0, pred, model="htnet", subjects=FOUR_SUBJECTS)
        for k, pred in (("annotated", HALF_RIGHT), ("gamdss", ALL_RIGHT))]
    comparison = build_comparison(results, "annotated", "gamdss", n_resamples=FAST)
    table = comparison.table.set_index("model")
    assert table.loc["ststnet", "p_holm"] == table.loc["ststnet", "p_mcnemar"], "one test: nothing to adjust"
    assert "across the 1 of this table's 2 row(s)" in comparison.note


def test_each_row_states_its_minimum_detectable_difference() -> None:
    results = two_sided("ststnet", HALF_RIGHT, flipped(HALF_RIGHT, 3))
    comparison = build_comparison(results, "annotated", "gamdss", n_resamples=FAST)
    row = comparison.table.iloc[0]
    assert row["subjects_differing"] >= 5
    assert row["uf1_mde"] == pytest.approx(2.8016 * row["uf1_se"], abs=2e-4)
    assert row["uf1_mde"] > 0
    header, _, line = comparison.markdown_table.splitlines()[:3]
    assert "MDE ΔUF1" in header and f" {row['uf1_mde']:.4f} |" in line
    assert "(z_0.975 + z_0.80) × SE" in comparison.note and "80% power" in comparison.note


def test_write_comparison_writes_traceable_csv_markdown_and_a_deterministic_plot(tmp_path: Path) -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT) + two_sided("htnet", ALL_RIGHT, HALF_RIGHT)
    path = write_comparison(results, tmp_path / "a", "annotated", "gamdss", n_resamples=FAST)
    assert path == tmp_path / "a" / "annotated-vs-gamdss.md"
    markdown = path.read_text()
    assert "](annotated-vs-gamdss.png)" in markdown
    csv = pd.read_csv(tmp_path / "a" / "annotated-vs-gamdss.csv", dtype=str)
    ststnet = csv.set_index("model").loc["ststnet"]
    assert ststnet["cells_annotated"] == ("twin-scale1-seed0/casme2-3class/ststnet/annotated/seed0 "
                                          "twin-scale1-seed0/casme2-3class/ststnet/annotated/seed1")
    expected_hashes = [r.config_hash for r in results if r.cell.model == "ststnet" and r.cell.keyframes == "gamdss"]
    assert ststnet["config_hashes_gamdss"].split() == expected_hashes
    assert ststnet["protocol_version"] == "1" and ststnet["protocol_hash"] == "b" * 64
    png = (tmp_path / "a" / "annotated-vs-gamdss.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    write_comparison(results, tmp_path / "b", "annotated", "gamdss", n_resamples=FAST)
    assert (tmp_path / "b" / "annotated-vs-gamdss.png").read_bytes() == png
    assert (tmp_path / "b" / "annotated-vs-gamdss.md").read_text() == markdown


# --- the command line ---


def stored(root: Path, results: list[JobResult]) -> Path:
    store = ResultStore(root)
    for result in results:
        store.write(result)
    return root


def test_cli_compare_prints_and_writes_the_table(tmp_path: Path, cli) -> None:
    root = stored(tmp_path / "results", two_sided("ststnet", HALF_RIGHT, ALL_RIGHT))
    code, out, err = cli("compare", "--with-reselection", "--results", root, "--resamples", FAST)
    assert code == 0, err
    table_lines = [line for line in out.splitlines() if line.startswith("|")]
    assert set(table_lines[1]) <= set("|:- ") and ":|" in table_lines[1]
    assert "casme2-3class" in table_lines[2] and "better" in table_lines[2]
    markdown = (root / "compare" / "annotated-vs-gamdss.md").read_text()
    assert table_lines[1] in markdown.splitlines()
    assert {p.name for p in (root / "compare").iterdir()} == {
        "annotated-vs-gamdss.md", "annotated-vs-gamdss.csv", "annotated-vs-gamdss.png"}


def test_cli_oracle_mode_writes_the_inflation_table(tmp_path: Path, cli) -> None:
    root = stored(tmp_path / "results", [make_result("annotated", 0, HALF_RIGHT),
                                         make_result("annotated", 0, ALL_RIGHT, selection="oracle")])
    code, out, err = cli("compare", "--oracle", "--results", root, "--resamples", FAST)
    assert code == 0, err
    assert "Oracle inflation" in (root / "compare" / "fixed-epochs-vs-oracle.md").read_text()


def assert_one_line_error(result: tuple[int, str, str], *needles: str) -> None:
    code, _, err = result
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err


def test_cli_empty_results_folder(tmp_path: Path, cli) -> None:
    root = tmp_path / "results"
    assert_one_line_error(cli("compare", "--with-reselection", "--results", root), "no result records")
    assert not (root / "compare").exists()


def test_cli_strategy_never_run_names_the_present_ones(tmp_path: Path, cli) -> None:
    root = stored(tmp_path / "results", two_sided("ststnet", HALF_RIGHT, ALL_RIGHT))
    assert_one_line_error(cli("compare", "--keyframes", "annotated", "--keyframes", "truth",
                              "--results", root),
                          "'truth'", "strategies present: annotated, gamdss")
    assert not (root / "compare").exists()


def test_cli_mixed_protocol_versions_name_the_cells(tmp_path: Path, cli) -> None:
    results = two_sided("ststnet", HALF_RIGHT, ALL_RIGHT)
    results[0] = make_result("annotated", 0, HALF_RIGHT, version="2", protocol_hash="d" * 64)
    root = stored(tmp_path / "results", results)
    assert_one_line_error(cli("compare", "--with-reselection", "--results", root),
                          "casme2-3class", "version 2 hash dddddddddddd in twin-scale1-seed0/casme2-3class/ststnet/annotated/seed0",
                          "re-run the stale cells or remove their records")
    assert not (root / "compare").exists()


def test_cli_nothing_to_pair(tmp_path: Path, cli) -> None:
    root = stored(tmp_path / "results", [make_result("annotated", 0, ALL_RIGHT), make_result("gamdss", 1, ALL_RIGHT)])
    assert_one_line_error(cli("compare", "--with-reselection", "--results", root), "run the missing cells first")
    assert not (root / "compare").exists()


@pytest.mark.parametrize("args", [(), ("--with-reselection", "--oracle"), ("--oracle", "--keyframes", "a", "--keyframes", "b")])
def test_cli_needs_exactly_one_mode(tmp_path: Path, cli, args) -> None:
    assert_one_line_error(cli("compare", *args, "--results", tmp_path), "exactly one of")
