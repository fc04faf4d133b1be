"""Shift summaries, the truth study on the tiny twin, and the two CLI commands that publish them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gamdss.analysis import change_verdict, subject_bootstrap_mean
from gamdss.selection import Reselection
from gamdss.shifts import shift_summary, shift_table, summary_markdown, uncertainty_ratio
from gamdss.study import VARIANTS, native_annotator, reannotate, run_study, twin_datasets
from gamdss.study_report import write_study
from mer_bench.data.casme2 import read_casme2
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.synth.truth import load_truth


def sample(clip: str, apex: int | None = 20) -> Sample:
    return Sample(dataset="twin", subject="s01", clip=clip, frame_paths=(), frame_numbers=(),
                  fps=200.0, annotated=KeyFrames(10, apex, 40), emotion="happiness")


def hand_table() -> pd.DataFrame:
    # Shifts: a: onset +1, apex -2, offset 0; b: onset 0, apex -1, offset -3 (apex filled, no window).
    a, b = sample("a"), sample("b", apex=None)
    results = [
        Reselection(a.sample_id, a.annotated, a.annotated, KeyFrames(11, 18, 40), windows=(2, 2)),
        Reselection(b.sample_id, b.annotated, KeyFrames(10, 25, 40), KeyFrames(10, 24, 37),
                    fallback="no-onset-apex-window", apex_filled="apex-finder", windows=(0, 3)),
    ]
    return shift_table([a, b], results)


def test_shift_table_has_annotated_reselected_and_shifts() -> None:
    table = hand_table()
    assert list(table["onset_shift"]) == [1, 0]
    assert list(table["apex_shift"]) == [-2, -1]
    assert list(table["offset_shift"]) == [0, -3]
    assert table["annotated_apex"].isna().tolist() == [False, True]
    assert list(table["fallback"]) == ["", "no-onset-apex-window"]


def test_shift_summary_and_offset_onset_ratio_by_hand() -> None:
    summary = shift_summary(hand_table()).set_index("key_frame")
    assert summary.loc["onset", "mean_shift"] == 0.5
    assert summary.loc["apex", "median_shift"] == -1.5
    assert summary.loc["offset", "mean_abs_shift"] == 1.5
    assert list(summary["moved"]) == [0.5, 1.0, 0.5]
    ratio = uncertainty_ratio(shift_summary(hand_table())).iloc[0]
    assert ratio["offset/onset mean abs shift"] == 3.0  # 1.5 frames vs 0.5
    assert ratio["offset/onset moved"] == 1.0


def test_summary_markdown_tables_are_well_formed() -> None:
    table = hand_table()
    text = summary_markdown(shift_summary(table), table, title="t", plots=["shifts-twin.png"])
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        assert len({line.count("|") for line in rows}) <= 1, block
    assert "no-onset-apex-window: 1 of 2 samples" in text
    assert "apex filled by apex-finder: 1 of 2 samples" in text
    assert "![shifts](shifts-twin.png)" in text


def test_subject_bootstrap_resamples_subjects_not_samples() -> None:
    # Subject "a" has 20 samples 3 frames closer to the truth; four others one unchanged sample
    # each. Resampling samples would call this a clear gain (every resample near -2.5); resampling
    # subjects, a third of the draws leave "a" out and give 0, so the interval reaches 0.
    values = np.array([-3.0] * 20 + [0.0] * 4)
    subjects = ["a"] * 20 + ["b", "c", "d", "e"]
    interval = subject_bootstrap_mean(values, subjects)
    assert interval.estimate == pytest.approx(-2.5)
    assert interval.low < -2 and interval.high == 0.0
    assert change_verdict(interval, 5) == "no change"
    assert subject_bootstrap_mean(values, subjects) == interval  # deterministic


def test_verdicts_need_an_interval_that_excludes_zero_and_enough_subjects() -> None:
    subjects = [f"s{i}" for i in range(6) for _ in range(3)]
    closer = subject_bootstrap_mean(np.array([-1.0, -2.0, 0.0] * 6), subjects)
    farther = subject_bootstrap_mean(np.array([1.0, 0.0, 2.0] * 6), subjects)
    mixed = subject_bootstrap_mean(np.array([-2.0] * 9 + [2.0] * 9), subjects)
    assert (closer.high < 0, farther.low > 0, mixed.low < 0 < mixed.high) == (True, True, True)
    assert [change_verdict(i, 6) for i in (closer, farther, mixed)] == ["helps", "hurts", "no change"]
    assert change_verdict(closer, 4) == "too few subjects"
    with pytest.raises(ValueError, match="one subject per value"):
        subject_bootstrap_mean(np.array([1.0]), ["a", "b"])


def test_study_variants_reannotate_deterministically(tiny_twin_root: Path) -> None:
    directory = tiny_twin_root / "CASME2"
    samples, truth = read_casme2(directory).samples, load_truth(directory)
    native = native_annotator(directory)
    assert native is not None and native.apex_bias > 0 > native.onset_bias
    exact = next(v for v in VARIANTS if v.name == "exact").derive(native)
    redrawn = reannotate(samples, truth, exact, seed=0, variant="exact")
    for before, after in zip(samples, redrawn, strict=True):
        true = truth[before.sample_id]
        assert (after.annotated.onset, after.annotated.offset) == (true.onset, true.offset)
        assert (after.annotated.apex is None) == (before.annotated.apex is None)
    symmetric = next(v for v in VARIANTS if v.name == "symmetric").derive(native)
    assert reannotate(samples, truth, symmetric, seed=0, variant="symmetric") == reannotate(
        samples, truth, symmetric, seed=0, variant="symmetric")


def test_every_twin_dataset_takes_part() -> None:
    assert "casme2" in [spec.name for spec in twin_datasets()]


@pytest.fixture(scope="module")
def study(tiny_twin_root: Path):
    return run_study(strategies=["gamdss", "gamdss-symmetric"], twins_root=tiny_twin_root)


def test_gamdss_helps_the_apex_only_under_the_bias_it_assumes(study) -> None:
    apex = study.table[(study.table["strategy"] == "gamdss") & (study.table["key_frame"] == "apex")]
    by_variant = apex.set_index("variant")
    assert set(by_variant.index) == {v.name for v in VARIANTS}
    native, reversed_ = by_variant.loc["native"], by_variant.loc["reversed"]
    assert native["strategy_mae"] < native["annotated_mae"]
    assert reversed_["strategy_mae"] > reversed_["annotated_mae"]
    assert by_variant.loc["exact", "annotated_mae"] == 0
    assert 0 < native["strategy_mae_span"] < native["annotated_mae_span"] < 1


def test_study_verdicts_follow_their_intervals(study) -> None:
    for _, row in study.table.iterrows():
        assert row["change_low"] <= row["change"] <= row["change_high"]
        assert row["change"] == pytest.approx(row["strategy_mae"] - row["annotated_mae"])
        expected = ("too few subjects" if row["subjects"] < 5 else "helps" if row["change_high"] < 0
                    else "hurts" if row["change_low"] > 0 else "no change")
        assert row["verdict"] == expected


def test_study_report_says_where_the_bias_comes_from_and_prints_the_intervals(study, tmp_path: Path
                                                                              ) -> None:
    text = write_study(study, tmp_path, command="mer-bench reselection-study --test").read_text()
    assert "was put there by us" in text and "mer_bench/synth/annotator.py" in text
    assert "round(true + bias + N(0, sd))" in text
    native_apex = study.table.query("variant == 'native' and strategy == 'gamdss' and key_frame == 'apex'"
                                    ).iloc[0]
    assert (f"change {native_apex['change']:+.2f} (95% interval {native_apex['change_low']:+.2f} to "
            f"{native_apex['change_high']:+.2f}, {int(native_apex['subjects'])} subjects): "
            f"{native_apex['verdict']}") in text
    # No verdict without its interval: every "helps" / "hurts" in a table cell follows one.
    for line in text.splitlines():
        for word in ("helps", "hurts"):
            if line.startswith("|") and word in line:
                assert "] " + word in line


def test_study_report_is_written_with_its_plots(study, tmp_path: Path) -> None:
    path = write_study(study, tmp_path, command="mer-bench reselection-study --test")
    text = path.read_text()
    assert "`mer-bench reselection-study --test`" in text
    assert "## casme2" in text and "| symmetric |" in text.replace("  ", " ")
    for link in [part.split(")")[0] for part in text.split("](")[1:]]:
        assert (tmp_path / link).is_file(), link
    native_apex = study.table.query("variant == 'native' and strategy == 'gamdss' and key_frame == 'apex'")
    assert f"{native_apex['strategy_mae'].iloc[0]:.2f}" in text
    assert (tmp_path / "reselection" / "truth-errors.csv").is_file()


def test_cli_reselect_writes_samples_summary_and_plots(cli, tiny_twin_root: Path, tmp_path: Path) -> None:
    code, out, err = cli("reselect", "--protocol", "casme2-5class", "--data-root", tiny_twin_root,
                         "--results", tmp_path)
    assert code == 0, err
    folder = tmp_path / "reselect" / "casme2-5class-gamdss"
    table = pd.read_csv(folder / "samples.csv")
    assert {"annotated_onset", "reselected_apex", "offset_shift", "fallback"} <= set(table.columns)
    assert (table["apex_shift"] <= 0).all() and (table["onset_shift"] >= 0).all()
    assert (folder / "shifts-casme2.png").stat().st_size > 1000
    assert "Offset vs onset uncertainty" in (folder / "summary.md").read_text()
    assert "fallbacks and filled apexes, of" in out


def test_cli_reselect_takes_strategy_options(cli, tiny_twin_root: Path, tmp_path: Path) -> None:
    code, _, err = cli("reselect", "--protocol", "casme2-5class", "--data-root", tiny_twin_root,
                       "--keyframes", "gamdss-symmetric[window_fraction=0.05]", "--results", tmp_path)
    assert code == 0, err
    folder = tmp_path / "reselect" / "casme2-5class-gamdss-symmetric_window_fraction_0.05"
    assert (folder / "samples.csv").is_file()


@pytest.mark.parametrize("args, message", [
    (("--protocol", "casme2-9class"), "unknown protocol"),
    (("--protocol", "casme2-5class", "--keyframes", "gamdss[distance=sound]"), "distance 'sound'"),
    (("--protocol", "casme2-5class", "--keyframes", "annotated"), "does not report reselections"),
])
def test_cli_reselect_bad_input_is_one_line(cli, tiny_twin_root: Path, tmp_path: Path,
                                            args: tuple[str, ...], message: str) -> None:
    code, _, err = cli("reselect", *args, "--data-root", tiny_twin_root, "--results", tmp_path)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_cli_reselection_study_publishes_markdown(cli, tiny_twin_root: Path, tmp_path: Path) -> None:
    code, out, err = cli("reselection-study", "--twins-root", tiny_twin_root, "--keyframes", "gamdss",
                         "--dataset", "casme2", "--results", tmp_path)
    assert code == 0, err
    assert "casme2 / native / gamdss" in err
    text = (tmp_path / "reselection.md").read_text()
    assert "--dataset casme2 --keyframes 'gamdss'" in text
    assert (tmp_path / "reselection" / "truth-errors-casme2.png").is_file()


def test_cli_reselection_study_on_a_folder_without_twins(cli, tmp_path: Path) -> None:
    code, _, err = cli("reselection-study", "--twins-root", tmp_path, "--results", tmp_path / "out")
    assert code == 2 and "no synthetic twin found" in err


def test_cli_reselection_study_unknown_dataset(cli, tiny_twin_root: Path, tmp_path: Path) -> None:
    code, _, err = cli("reselection-study", "--twins-root", tiny_twin_root, "--dataset", "casme22",
                       "--results", tmp_path)
    assert code == 2 and "did you mean" in err


def test_a_twin_without_recorded_annotator_is_studied_as_written(
        tiny_twin_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "twin_manifest.json").write_text(json.dumps({"dataset": "x"}))
    assert native_annotator(tmp_path) is None
    assert native_annotator(tmp_path / "absent") is None
    monkeypatch.setattr("gamdss.study.native_annotator", lambda directory: None)
    result = run_study(strategies=["gamdss"], twins_root=tiny_twin_root)
    assert set(result.table["variant"]) == {"native"}
