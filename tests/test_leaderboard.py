"""Leaderboard pages: golden files, traceable numbers, data behind each row, chance references,
honest ranks, data-source grouping, oracle marking, determinism, bad input.

The golden files under ``tests/golden/leaderboard/`` are the pages generated from ``golden_results()``.
After an intended change of the output, regenerate them and review the diff before committing:

    MER_BENCH_UPDATE_GOLDEN=1 python -m pytest -q tests/test_leaderboard.py -k golden
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest

from mer_bench.errors import DataError
from mer_bench.metrics import pooled_metrics
from mer_bench.report.chance import majority_class_scores, uniform_guess_scores
from mer_bench.report.figures import generated_png_key
from mer_bench.report.leaderboard import confusion_plots, write_leaderboard
from mer_bench.report.cells import human_count
from mer_bench.report.markdown import family_markdown, leaderboard_markdown
from mer_bench.report.sources import data_source_group
from mer_bench.report.tables import confusion_paths, index_table, leaderboard_table
from mer_bench.store import Cell, JobResult, ResultStore, config_hash

GOLDEN = Path(__file__).parent / "golden" / "leaderboard"
GOLDEN_FILES = ["LEADERBOARD.md", "leaderboard.csv", "leaderboards/casme2.md", "leaderboards/casme2.csv",
                "leaderboards/megc2019.md"]
UPDATE_GOLDEN = os.environ.get("MER_BENCH_UPDATE_GOLDEN") == "1"

THREE = ["negative", "positive", "surprise"]
FIVE = ["happiness", "repression", "disgust", "surprise", "others"]
TWIN = "twin:casme2:v2:scale=0.15:seed=0"
REAL = "data:casme2:/data/CASME2"
PACKAGES = {"python": "3.11.7", "mer_bench": "0.1.0", "numpy": "2.4.6", "torch": "2.14.1"}
STSTNET = {"params": 1_683, "flops": 679_776}
RESNET = {"params": 11_178_051, "flops": None}


def data_key_of(data_source: str) -> str:
    """The records folder of a data source (what `store.data_key` names its source)."""
    if not data_source.startswith("twin:"):
        return "real-data-00000000"
    fields = dict(part.split("=") for part in data_source.split(":") if "=" in part)
    return f"twin-scale{fields['scale']}-seed{fields['seed']}"


def make_result(
    protocol: str = "casme2-3class",
    model: str = "ststnet",
    keyframes: str = "annotated",
    seed: int = 0,
    *,
    selection: str = "fixed-epochs",
    skill: int = 6,
    classes: list[str] = THREE,
    datasets: tuple[str, ...] = ("casme2",),
    version: str = "1.0",
    protocol_hash: str = "5eed0000c0ffee01",
    data_source: str = TWIN,
    params: int = 1_683,
    flops: int | None = 679_776,
    subjects: int = 3,
    samples: int = 12,
    constant: int | None = None,
) -> JobResult:
    """A deterministic record: ``samples`` per dataset over ``subjects`` subjects; about ``skill`` in
    10 right, or class ``constant`` predicted for every sample."""
    salt = len(model) + 3 * len(keyframes)
    rows = []
    for dataset in datasets:
        for i in range(samples):
            y_true = i % len(classes)
            right = (i * 7 + seed * 3 + salt) % 10 < skill
            y_pred = y_true if right else (y_true + 1 + seed) % len(classes)
            if constant is not None:
                y_pred = constant
            subject = f"{dataset}/s{i % subjects + 1}"
            rows.append({"sample_id": f"{subject}/clip{i}", "subject": subject, "fold": 0,
                         "y_true": y_true, "y_pred": y_pred, "true_label": classes[y_true],
                         "pred_label": classes[y_pred]})
    predictions = pd.DataFrame(rows)
    predictions["fold"] = predictions["subject"].rank(method="dense").astype("int64") - 1
    config = {"protocol": protocol, "model": model, "keyframes": keyframes, "seed": seed,
              "selection": selection}
    return JobResult(
        cell=Cell(protocol, model, keyframes, seed, selection, data=data_key_of(data_source)),
        protocol_version=version,
        protocol_hash=protocol_hash,
        config=config,
        config_hash=config_hash(config),
        selection_mode=selection,
        metrics=pooled_metrics(predictions["y_true"], predictions["y_pred"], classes),
        param_count=params,
        flops=flops,
        n_samples=len(predictions),
        n_folds=int(predictions["fold"].nunique()),
        predictions=predictions,
        git_commit="c0ffee" * 6 + "abcd",
        package_versions=dict(PACKAGES),
        wall_time_s=2.0,
        started_at="2026-01-01T00:00:00+00:00",
        data_source=data_source,
    )


SIX = {"subjects": 6, "samples": 36}  # enough subjects for paired tests


def golden_results() -> list[JobResult]:
    """Three protocols of the casme2 family, one of them on real data, plus the MEGC2019 composite.

    casme2-3class (twin, 6 subjects): two keyframe strategies over three seeds (the top rows), a
    two-seed model (another comparable group), a model that predicts one class for every sample
    (flagged, never ranked) and an oracle row (the best UF1 of its protocol, yet unranked).
    casme2-5class (3 subjects): too few for a paired test. casme2-3class-megc on real data: its own
    section and ranking. megc2019-3class: a composite with per-dataset rows.
    """
    casme2 = [
        *(make_result(keyframes="annotated", seed=s, skill=6, **SIX, **STSTNET) for s in (0, 1, 2)),
        *(make_result(keyframes="gamdss", seed=s, skill=7, **SIX, **STSTNET) for s in (0, 1, 2)),
        *(make_result(model="timm:resnet18", seed=s, skill=5, **SIX, **RESNET) for s in (0, 1)),
        *(make_result(model="constant-net", seed=s, constant=0, **SIX, **STSTNET) for s in (0, 1, 2)),
        make_result(selection="oracle", skill=10, **SIX, **STSTNET),
    ]
    five = [make_result("casme2-5class", keyframes=k, skill=skill, classes=FIVE,
                        protocol_hash="5eed0000c0ffee05", **STSTNET)
            for k, skill in (("annotated", 5), ("gamdss", 4))]
    real = [make_result("casme2-3class-megc", keyframes=k, skill=skill, data_source=REAL,
                        protocol_hash="5eed0000c0ffee0e", **SIX, **STSTNET)
            for k, skill in (("annotated", 9), ("gamdss", 5))]
    megc = [make_result("megc2019-3class", keyframes=k, seed=s, skill=skill,
                        datasets=("smic-hs", "casme2", "samm"), protocol_hash="5eed0000c0ffee19",
                        data_source=" + ".join(f"twin:{d}:v1:scale=0.15:seed=0" for d in ("smic-hs", "casme2", "samm")),
                        **STSTNET)
            for k, skill in (("annotated", 6), ("gamdss", 7)) for s in (0, 1)]
    return [*casme2, *five, *real, *megc]


def write_store(results: list[JobResult], root: Path) -> ResultStore:
    store = ResultStore(root)
    for result in results:
        store.write(result)
    return store


def generate(root: Path) -> Path:
    store = ResultStore(root)
    return write_leaderboard(store.load_all(), root, records_dir=store.records_dir)


def outputs(root: Path) -> dict[str, bytes]:
    """Every generated file below ``root`` (records excluded), by relative path."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and "records" not in path.relative_to(root).parts}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A results folder holding the golden records and the pages generated from them (read-only)."""
    root = tmp_path_factory.mktemp("golden") / "results"
    write_store(golden_results(), root)
    generate(root)
    return root


@pytest.fixture
def results_copy(generated: Path, tmp_path: Path) -> Path:
    """A private copy of ``generated`` that a test may change."""
    return Path(shutil.copytree(generated, tmp_path / "results"))


def tables(markdown: str) -> list[list[str]]:
    """The Markdown tables of a page, each as its lines."""
    found: list[list[str]] = []
    previous_was_table = False
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous_was_table:
                found.append([])
            found[-1].append(line)
        previous_was_table = line.startswith("|")
    return found


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("|").split("|")]


def section(markdown: str, protocol: str) -> str:
    start = markdown.index(f"\n### {protocol}\n")
    end = markdown.find("\n##", start + 1)
    return markdown[start:end if end != -1 else None]


def main_rows(table: pd.DataFrame, protocol: str, kind: str = "run") -> pd.DataFrame:
    return table[(table["protocol"] == protocol) & (table["part"] == "") & (table["kind"] == kind)]


def replace_metrics(run: JobResult, **values: float) -> JobResult:
    return dataclasses.replace(run, metrics=dataclasses.replace(run.metrics, **values))


# ---------------------------------------------------------------------------------------------
# Golden files


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_pages(generated: Path, name: str) -> None:
    produced = (generated / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8", newline="\n")
    assert golden.is_file(), f"no golden file {golden}; run with MER_BENCH_UPDATE_GOLDEN=1 to create it"
    assert produced == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if the change is intended, regenerate with MER_BENCH_UPDATE_GOLDEN=1")


def test_layout_and_nothing_machine_specific(generated: Path) -> None:
    files = outputs(generated)
    assert sorted(name for name in files if not name.endswith(".png")) == [
        "LEADERBOARD.md", "leaderboard.csv", "leaderboards/casme2.csv", "leaderboards/casme2.md",
        "leaderboards/megc2019.csv", "leaderboards/megc2019.md",
    ]
    real = data_source_group(REAL).slug
    assert sorted(name for name in files if name.endswith(".png")) == sorted([
        "plots/confusion/twin-x0.15-seed0/casme2-3class/constant-net__annotated__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/casme2-3class/ststnet__annotated__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/casme2-3class/ststnet__annotated__oracle.png",
        "plots/confusion/twin-x0.15-seed0/casme2-3class/ststnet__gamdss__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/casme2-3class/timm_resnet18__annotated__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/casme2-5class/ststnet__annotated__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/casme2-5class/ststnet__gamdss__fixed-epochs.png",
        f"plots/confusion/{real}/casme2-3class-megc/ststnet__annotated__fixed-epochs.png",
        f"plots/confusion/{real}/casme2-3class-megc/ststnet__gamdss__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/megc2019-3class/ststnet__annotated__fixed-epochs.png",
        "plots/confusion/twin-x0.15-seed0/megc2019-3class/ststnet__gamdss__fixed-epochs.png",
    ])
    for name, data in files.items():
        assert str(generated).encode() not in data and str(Path.home()).encode() not in data, name
        assert b"2026-01-01" not in data, f"{name}: no timestamps from the records"
        assert b"Matplotlib" not in data, f"{name}: no software version in the PNG"


# ---------------------------------------------------------------------------------------------
# Markdown


def test_every_markdown_table_has_an_alignment_row(generated: Path) -> None:
    pages = [generated / "LEADERBOARD.md", *sorted((generated / "leaderboards").glob("*.md"))]
    for page in pages:
        found = tables(page.read_text())
        assert found, page
        for table in found:
            alignment = table[1]
            assert re.fullmatch(r"\|(:?-+:?\|)+", alignment), (page, alignment)
            assert "|:" in alignment and ":|" in alignment, "left-aligned text, right-aligned numbers"
            assert all(line.count("|") == alignment.count("|") for line in table), page


def test_mean_and_sample_std_over_seeds() -> None:
    runs = [replace_metrics(make_result(seed=s), uf1=uf1) for s, uf1 in zip((0, 1, 2), (0.5, 0.6, 0.8))]
    row = leaderboard_table(runs).iloc[0]
    assert row["uf1_mean"] == pytest.approx(0.6333333333333333)
    assert row["uf1_std"] == pytest.approx(0.15275252316519466), "ddof=1 (ddof=0 would be 0.1247)"
    single = leaderboard_table(runs[:1]).iloc[0]
    assert pd.isna(single["uf1_std"]), "no std from one seed"


def test_scores_show_mean_plus_minus_std_and_a_dash_for_one_seed(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    page = (generated / "leaderboards/casme2.md").read_text()
    three = main_rows(table, "casme2-3class").query("keyframes == 'gamdss'").iloc[0]
    assert three["seeds"] == 3
    assert f"{three['uf1_mean']:.4f} ± {three['uf1_std']:.4f}" in section(page, "casme2-3class")
    one = main_rows(table, "casme2-5class").query("keyframes == 'gamdss'").iloc[0]
    assert f"{one['uf1_mean']:.4f} ± –" in section(page, "casme2-5class")
    assert "ddof=1" in page and "`–` when only one seed ran" in page


def test_every_row_says_how_much_data_stands_behind_it(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    runs = table[table["kind"] == "run"]
    expected = {"casme2-3class": (36, 6), "casme2-5class": (12, 3), "casme2-3class-megc": (36, 6),
                "megc2019-3class": (36, 9)}
    for protocol, (samples, subjects) in expected.items():
        rows = main_rows(table, protocol)
        assert set(rows["test_samples"]) == {samples} and set(rows["test_subjects"]) == {subjects}, protocol
    parts = runs[runs["part"] != ""]
    assert set(parts["test_samples"]) == {12} and set(parts["test_subjects"]) == {3}, "per dataset of the composite"
    page = (generated / "leaderboards/casme2.md").read_text()
    assert "Test set: 36 samples from 6 subjects; class counts negative: 12, positive: 12, surprise: 12." in page
    header = cells(tables(section(page, "casme2-3class"))[0][0])
    assert header[5:7] == ["samples", "subjects"]
    megc = (generated / "leaderboards/megc2019.md").read_text()
    part_header, *part_lines = [cells(line) for line in tables(megc)[1] if not line.startswith("|:")]
    assert part_header[5:7] == ["samples", "subjects"]
    assert {(line[5], line[6]) for line in part_lines} == {("12", "3")}


def test_each_table_carries_unranked_chance_references(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    references = main_rows(table, "casme2-5class", kind="reference")
    assert list(references["model"]) == ["majority class (happiness)", "uniform guessing (expected)"]
    assert references["rank"].isna().all() and set(references["vs_top"]) == {""}
    counts = [3, 3, 2, 2, 2]
    majority, uniform = majority_class_scores(counts), uniform_guess_scores(counts)
    for row, scores in zip(references.itertuples(), (majority, uniform)):
        assert (row.acc_mean, row.uf1_mean, row.uar_mean) == pytest.approx(
            (scores.accuracy, scores.uf1, scores.uar), abs=1e-15)
    page = (generated / "leaderboards/casme2.md").read_text()
    lines = [cells(line) for line in tables(section(page, "casme2-5class"))[0][2:]]
    assert [line[1] for line in lines[-2:]] == ["majority class (happiness)", "uniform guessing (expected)"]
    assert lines[-1][0] == "–" and lines[-1][2] == "reference" and lines[-1][8] == f"{uniform.uf1:.4f}"
    assert "E[UF1]" in page and "Bin(n_c, 1/K)" in page
    parts = table[(table["protocol"] == "megc2019-3class") & (table["part"] != "") & (table["kind"] == "reference")]
    assert len(parts) == 6, "two references per dataset of the composite"


def test_rows_are_ranked_within_comparable_groups_only(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    rows = main_rows(table, "casme2-3class")
    three = rows[rows["group"] == "fixed-epochs · 3 seeds"]
    ranked = three[three["rank"].notna()]
    assert list(ranked["uf1_mean"]) == sorted(ranked["uf1_mean"], reverse=True)
    assert list(ranked["rank"]) == [1, 2] and list(ranked["keyframes"]) == ["gamdss", "annotated"]
    two = rows[rows["group"] == "fixed-epochs · 2 seeds"]
    assert list(two["model"]) == ["timm:resnet18"] and list(two["rank"]) == [1], "ranks restart per group"
    assert list(two["vs_top"]) == ["top"]
    oracle = rows[rows["selection"] == "oracle"]
    assert len(oracle) == 1 and pd.isna(oracle["rank"].iloc[0]) and oracle["flags"].iloc[0] == "oracle"
    assert oracle["uf1_mean"].iloc[0] > ranked["uf1_mean"].max(), "best UF1 of all, yet not ranked"
    assert rows.index[-1] == oracle.index[0], "listed after the other rows"


def test_ties_share_a_rank_and_uar_breaks_uf1_ties() -> None:
    runs = [make_result(model=name, skill=6) for name in ("b-net", "a-net", "c-net")]
    metrics = {"a-net": (0.7, 0.6), "b-net": (0.7, 0.6), "c-net": (0.7, 0.65)}
    runs = [replace_metrics(run, uf1=metrics[run.cell.model][0], uar=metrics[run.cell.model][1]) for run in runs]
    runs.append(replace_metrics(make_result(model="d-net"), uf1=0.5, uar=0.9))
    table = leaderboard_table(runs)
    rows = main_rows(table, "casme2-3class")
    assert list(rows["model"]) == ["c-net", "a-net", "b-net", "d-net"]
    assert list(rows["rank"]) == [1, 2, 2, 4]


def test_oracle_rows_are_marked_unranked_and_never_best(generated: Path) -> None:
    page = (generated / "leaderboards/casme2.md").read_text()
    (table,) = tables(section(page, "casme2-3class"))
    (oracle,) = [cells(line) for line in table[2:] if "oracle" in line]
    assert oracle[0] == "–" and oracle[3] == "oracle ⚠" and oracle[11] == "⚠ oracle"
    assert [cells(line)[0] for line in table[2:]] == ["1", "2", "–", "1", "–", "–", "–"]
    assert "`oracle ⚠`" in page and "test subject" in page
    index = (generated / "LEADERBOARD.md").read_text()
    assert "oracle" not in " ".join(line for line in index.splitlines() if "| casme2-3class " in line)
    megc = (generated / "leaderboards/megc2019.md").read_text()
    assert "oracle" not in megc, "no oracle note without oracle rows"


def test_a_single_class_row_is_flagged_unranked_and_never_best(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    (constant,) = main_rows(table, "casme2-3class").query("model == 'constant-net'").itertuples()
    assert pd.isna(constant.rank) and constant.vs_top == ""
    assert constant.flags == "one class; ≤ majority; ≤ chance"
    page = (generated / "leaderboards/casme2.md").read_text()
    assert "⚠ one class; ≤ majority; ≤ chance" in section(page, "casme2-3class")
    index = (generated / "LEADERBOARD.md").read_text()
    assert "constant-net" not in index


def test_a_row_that_does_not_beat_the_majority_class_is_never_best() -> None:
    # The only honest row scores no better than predicting the majority class: nothing is best,
    # although it is first by UF1; the degenerate "model" beside it is flagged as well.
    weak = [replace_metrics(make_result(model="weak-net", seed=s, **SIX), uf1=0.16) for s in (0, 1)]
    degenerate = [make_result(model="one-class-net", seed=s, constant=1, **SIX) for s in (0, 1)]
    table = leaderboard_table([*weak, *degenerate])
    rows = main_rows(table, "casme2-3class")
    assert rows["rank"].isna().all()
    assert dict(zip(rows["model"], rows["flags"])) == {
        "weak-net": "≤ majority; ≤ chance", "one-class-net": "one class; ≤ majority; ≤ chance"}
    (line,) = index_table(table).itertuples()
    assert line.result == "no row beats chance" and line.rows == ""


def clear_winner(subjects: int) -> list[JobResult]:
    """A model right on 9 in 10 samples and one right on 5 in 10, both over two seeds."""
    shape = {"subjects": subjects, "samples": 8 * subjects}
    return [*(make_result(model="good-net", seed=s, skill=9, **shape) for s in (0, 1)),
            *(make_result(model="fair-net", seed=s, skill=5, **shape) for s in (0, 1))]


def test_the_index_names_a_best_row_only_when_it_clearly_beats_the_runner_up() -> None:
    table = leaderboard_table(clear_winner(12))
    rows = main_rows(table, "casme2-3class")
    assert list(rows["model"]) == ["good-net", "fair-net"] and list(rows["vs_top"]) == ["top", "below"]
    fair = rows.iloc[1]
    assert fair["top_diff_low"] > 0 and fair["top_p_holm"] < 0.05 and fair["top_mde_uf1"] > 0
    (line,) = index_table(table).itertuples()
    assert line.result == "best" and line.rows == "good-net · annotated · fixed-epochs"
    index = leaderboard_markdown(table)
    assert "| best " in index and "good-net · annotated · fixed-epochs" in index


def test_close_rows_are_tied_and_the_index_lists_them() -> None:
    # equally skilled, right on different samples (another salt): a small difference either way
    close = [make_result(model=name, seed=s, skill=7, subjects=12, samples=96)
             for name in ("a-net", "bbb-net") for s in (0, 1)]
    table = leaderboard_table(close)
    rows = main_rows(table, "casme2-3class")
    assert list(rows["rank"]) == [1, 2] and list(rows["vs_top"]) == ["top", "tied"]
    assert rows.iloc[1]["top_diff_low"] < 0 < rows.iloc[1]["top_diff_high"]
    (line,) = index_table(table).itertuples()
    assert line.result == "tied"
    assert line.rows == "a-net · annotated · fixed-epochs; bbb-net · annotated · fixed-epochs"


def test_an_interval_above_zero_is_not_enough_without_the_mcnemar_test() -> None:
    # a-net is right on 7 in 10 samples and bbb-net on 6 in 10, on partly different samples: the
    # subject bootstrap puts ΔUF1 above 0, but the discordant samples go both ways too often for
    # the exact McNemar test
    runs = [make_result(model=name, seed=s, skill=skill, subjects=12, samples=96)
            for name, skill in (("a-net", 7), ("bbb-net", 6)) for s in (0, 1)]
    rows = main_rows(leaderboard_table(runs), "casme2-3class")
    runner_up = rows.iloc[1]
    assert runner_up["top_diff_low"] > 0 and runner_up["top_p_holm"] >= 0.05
    assert runner_up["vs_top"] == "tied"


def test_under_five_subjects_the_top_rows_are_tied_without_a_test() -> None:
    table = leaderboard_table(clear_winner(4))
    rows = main_rows(table, "casme2-3class")
    assert list(rows["vs_top"]) == ["top", "too few subjects"]
    assert rows["top_p_holm"].isna().all() and rows["top_diff_low"].isna().all()
    (line,) = index_table(table).itertuples()
    assert line.result == "tied (too few subjects)"


def test_rows_of_different_seed_counts_or_selection_modes_are_never_ranked_together() -> None:
    runs = [*(make_result(keyframes="annotated", seed=s, skill=6, **SIX) for s in (0, 1, 2)),
            make_result(keyframes="annotated", seed=0, skill=9, selection="optuna-nested", **SIX),
            make_result(keyframes="gamdss", seed=0, skill=8, **SIX)]
    table = leaderboard_table(runs)
    rows = main_rows(table, "casme2-3class")
    assert list(zip(rows["group"], rows["rank"], rows["vs_top"])) == [
        ("fixed-epochs · 3 seeds", 1, "top"), ("fixed-epochs · 1 seed", 1, "top"), ("optuna-nested · 1 seed", 1, "top")]
    assert [line.result for line in index_table(table).itertuples()] == ["only row"] * 3


def test_each_data_source_gets_its_own_table_and_ranking() -> None:
    twin = [make_result(keyframes=k, seed=0, skill=skill, **SIX) for k, skill in (("annotated", 6), ("gamdss", 7))]
    real = [make_result(keyframes=k, seed=0, skill=skill, data_source=REAL, **SIX)
            for k, skill in (("annotated", 9), ("gamdss", 5))]
    other_twin = [make_result(keyframes="annotated", seed=0, skill=8, **SIX,
                              data_source="twin:casme2:v2:scale=1:seed=0")]
    table = leaderboard_table([*real, *twin, *other_twin])
    runs = main_rows(table, "casme2-3class")
    assert list(runs["data"]) == ["twin x0.15 seed 0"] * 2 + ["twin x1 seed 0"] + ["real data /data"] * 2
    assert list(runs["rank"]) == [1, 2, 1, 1, 2], "one ranking per data source"
    assert list(runs["data_source"].drop_duplicates()) == [TWIN, "twin:casme2:v2:scale=1:seed=0", REAL]
    index = index_table(table)
    assert list(index["data"]) == ["twin x0.15 seed 0", "twin x1 seed 0", "real data /data"]
    page = family_markdown(table, "casme2")
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings == ["## Synthetic twins at scale 0.15, twin seed 0", "## Synthetic twins at scale 1, twin seed 0",
                        "## Real data under /data"]
    assert page.count("### casme2-3class") == 3
    assert f"data: `{REAL}`" in page and f"data: `{TWIN}`" in page
    plots = [path for path in runs["confusion"]]
    assert len(set(plots)) == 5 and all("/casme2-3class/" in path for path in plots)


def test_data_source_groups_name_twin_scale_and_seed_or_the_real_root() -> None:
    twin = data_source_group("twin:casme2:v2:scale=0.15:seed=0")
    assert (twin.label, twin.title, twin.slug) == (
        "twin x0.15 seed 0", "Synthetic twins at scale 0.15, twin seed 0", "twin-x0.15-seed0")
    composite = data_source_group("twin:smic-hs:v1:scale=1:seed=3 + twin:casme2:v2:scale=1.0:seed=3")
    assert composite.label == "twin x1 seed 3"
    real = data_source_group("data:casme2:/data/CASME2 + data:samm:/data/SAMM")
    assert real.label == "real data /data" and real.slug.startswith("real-data-")
    assert data_source_group("data:casme2:/mnt/CASME2").slug != real.slug
    assert sorted([real, composite, twin]) == [twin, composite, real], "twins first, by scale"
    odd = data_source_group("somewhere else")
    assert odd.label == "somewhere else" and odd.slug.startswith("data-")


def test_index_lists_data_sources_families_protocols_groups_and_results(generated: Path) -> None:
    index = (generated / "LEADERBOARD.md").read_text()
    assert [line for line in index.splitlines() if line.startswith("## ")] == [
        "## Synthetic twins at scale 0.15, twin seed 0", "## Real data under /data"]
    twin_table, real_table = tables(index)
    assert cells(twin_table[0]) == ["family", "protocol", "version", "group", "records", "samples", "subjects",
                                    "result", "rows", "UF1", "UAR", "majority UF1", "chance UF1"]
    rows = [cells(line) for line in twin_table[2:]]
    assert [(r[1], r[3], r[4], r[7]) for r in rows] == [
        ("casme2-3class", "fixed-epochs · 3 seeds", "9", "tied"),
        ("casme2-3class", "fixed-epochs · 2 seeds", "2", "only row"),
        ("casme2-5class", "fixed-epochs · 1 seed", "2", "tied (too few subjects)"),
        ("megc2019-3class", "fixed-epochs · 2 seeds", "4", "tied"),
    ]
    assert rows[0][0] == "[casme2](leaderboards/casme2.md)"
    assert rows[0][8] == "ststnet · gamdss · fixed-epochs; ststnet · annotated · fixed-epochs"
    assert rows[3][0] == "[megc2019](leaderboards/megc2019.md)"
    (real,) = [cells(line) for line in real_table[2:]]
    assert (real[1], real[7], real[8]) == ("casme2-3class-megc", "best", "ststnet · annotated · fixed-epochs")


def test_family_page_heading_names_the_protocol(generated: Path) -> None:
    page = (generated / "leaderboards/casme2.md").read_text()
    heading = section(page, "casme2-5class").split("\n\n")[1]
    assert "CASME II 5-class" in heading and "version 1.0" in heading
    assert f"5 classes: {', '.join(FIVE)}" in heading and f"data: `{TWIN}`" in heading


def test_composite_parts_score_each_dataset_of_the_pooled_predictions(generated: Path) -> None:
    results = ResultStore(generated).load_all()
    table = leaderboard_table(results)
    parts = table[(table["protocol"] == "megc2019-3class") & (table["part"] != "") & (table["kind"] == "run")]
    assert sorted(set(parts["part"])) == ["casme2", "samm", "smic-hs"]
    assert parts["rank"].isna().all()
    row = parts[(parts["part"] == "samm") & (parts["keyframes"] == "gamdss")].iloc[0]
    runs = [r for r in results if r.cell.protocol == "megc2019-3class" and r.cell.keyframes == "gamdss"]
    expected = [pooled_metrics(p["y_true"], p["y_pred"], THREE).uf1
                for p in (r.predictions[r.predictions["sample_id"].str.startswith("samm/")] for r in runs)]
    assert row["uf1_mean"] == pytest.approx(statistics.fmean(expected))
    page = (generated / "leaderboards/megc2019.md").read_text()
    assert len(tables(page)) == 2, "ranked table, then the per-dataset table"
    assert cells(tables(page)[1][0])[0] == "dataset"
    single = leaderboard_table([make_result()])
    assert set(single["part"]) == {""}, "single-dataset jobs have no part rows"


def test_params_and_flops_are_human_readable(generated: Path) -> None:
    assert [human_count(v) for v in (None, 42, 1_683, 679_776, 11_178_051, 13_400_000_000)] == [
        "–", "42", "1.68 K", "0.68 M", "11.2 M", "13.4 G"]
    page = (generated / "leaderboards/casme2.md").read_text()
    (resnet,) = [cells(line) for line in tables(section(page, "casme2-3class"))[0] if "timm:resnet18" in line]
    assert resnet[12:14] == ["11.2 M", "–"]


# ---------------------------------------------------------------------------------------------
# CSV and traceability


def test_every_csv_number_traces_to_the_records(generated: Path) -> None:
    csv = pd.read_csv(generated / "leaderboard.csv", dtype=str, keep_default_na=False)
    runs = csv[csv["kind"] == "run"]
    assert len(runs) == 11 + 6, "11 rows plus 3 datasets x 2 part rows of the composite"
    assert len(csv) - len(runs) == 2 * (4 + 3), "two references per table and per composite part"
    for _, row in runs.iterrows():
        directories = [generated / path for path in row["records"].split()]
        seeds = [int(seed) for seed in row["seed_list"].split()]
        assert len(directories) == len(seeds) == int(row["seeds"])
        records = [json.loads((d / "record.json").read_text()) for d in directories]
        assert [r["cell"]["seed"] for r in records] == seeds
        assert [r["config_hash"] for r in records] == row["config_hashes"].split()
        assert {r["protocol_hash"] for r in records} == {row["protocol_hash"]}
        assert {r["git_commit"] for r in records} == set(row["git_commits"].split())
        assert {r["cell"]["model"] for r in records} == {row["model"]}
        assert {r["cell"].get("selection", "fixed-epochs") for r in records} == {row["selection"]}
        assert {r["data_source"] for r in records} == {row["data_source"]}
        predictions = [pd.read_parquet(d / "predictions.parquet") for d in directories]
        if row["part"]:
            predictions = [p[p["sample_id"].str.startswith(row["part"] + "/")] for p in predictions]
        assert {len(p) for p in predictions} == {int(row["test_samples"])}
        assert {p["subject"].nunique() for p in predictions} == {int(row["test_subjects"])}
        for column, key in (("acc", "accuracy"), ("uf1", "uf1"), ("uar", "uar")):
            if row["part"]:
                values = [getattr(pooled_metrics(p["y_true"], p["y_pred"], THREE), key) for p in predictions]
            else:
                values = [r["metrics"][key] for r in records]
            assert float(row[f"{column}_mean"]) == pytest.approx(statistics.fmean(values), abs=1e-15)
            if len(values) > 1:
                assert float(row[f"{column}_std"]) == pytest.approx(statistics.stdev(values), abs=1e-15)
            else:
                assert row[f"{column}_std"] == ""


def test_family_csv_holds_the_family_rows_of_the_full_csv(generated: Path) -> None:
    full = pd.read_csv(generated / "leaderboard.csv", dtype=str, keep_default_na=False)
    family = pd.read_csv(generated / "leaderboards/casme2.csv", dtype=str, keep_default_na=False)
    expected = full[full["family"] == "casme2"].reset_index(drop=True)
    pd.testing.assert_frame_equal(family, expected)
    assert set(family["protocol_version"]) == {"1.0"}, "versions stay text"


# ---------------------------------------------------------------------------------------------
# Confusion plots


def test_confusion_plots_exist_are_referenced_and_sum_the_seeds(generated: Path) -> None:
    results = ResultStore(generated).load_all()
    table = leaderboard_table(results)
    plots = confusion_plots(results)
    main = table[(table["part"] == "") & (table["kind"] == "run")]
    assert sorted(main["confusion"]) == sorted(plots)
    for _, row in main.iterrows():
        path = generated / row["confusion"]
        assert generated_png_key(path.read_bytes()) is not None, path
        page = (generated / "leaderboards" / f"{row['family']}.md").read_text()
        assert f"[png](../{row['confusion']})" in section(page, row["protocol"])
        assert (generated / "leaderboards" / f"../{row['confusion']}").is_file()
    key = "plots/confusion/twin-x0.15-seed0/casme2-3class/ststnet__gamdss__fixed-epochs.png"
    runs = [r for r in results if r.cell.protocol == "casme2-3class" and r.cell.keyframes == "gamdss"]
    assert len(runs) == 3
    expected = [[sum(r.metrics.confusion[i][j] for r in runs) for j in range(3)] for i in range(3)]
    assert plots[key].confusion == expected and plots[key].classes == THREE
    assert sum(map(sum, expected)) == 108
    assert "twin x0.15 seed 0" in plots[key].title


def test_plot_names_are_sanitised_and_never_collide() -> None:
    paths = confusion_paths([(TWIN, "p", "timm:x", "annotated", "fixed-epochs"),
                             (TWIN, "p", "timm_x", "annotated", "fixed-epochs"),
                             (TWIN, "p", "ststnet", ".hidden", "oracle"),
                             (REAL, "p", "ststnet", ".hidden", "oracle")])
    assert len(set(paths.values())) == 4
    assert all(re.fullmatch(r"plots/confusion/[A-Za-z0-9._+-]+/p/[A-Za-z0-9._+-]+\.png", p) for p in paths.values())
    assert paths[(TWIN, "p", "ststnet", ".hidden", "oracle")] == \
        "plots/confusion/twin-x0.15-seed0/p/ststnet___hidden__oracle.png"
    assert paths[(TWIN, "p", "timm:x", "annotated", "fixed-epochs")].startswith(
        "plots/confusion/twin-x0.15-seed0/p/timm_x__annotated")


# ---------------------------------------------------------------------------------------------
# Determinism and regeneration


def test_regenerating_gives_identical_bytes(generated: Path, results_copy: Path, tmp_path: Path) -> None:
    before = outputs(generated)
    generate(results_copy)
    assert outputs(results_copy) == before, "regenerating in place changes nothing"
    fresh = tmp_path / "fresh"
    shutil.copytree(generated / "records", fresh / "records")
    # from scratch (every plot drawn again), with the records in another order
    write_leaderboard(list(reversed(ResultStore(fresh).load_all())), fresh, records_dir=fresh / "records")
    assert outputs(fresh) == before


def test_stale_pages_and_plots_are_removed_but_other_files_stay(results_copy: Path) -> None:
    own_page = results_copy / "leaderboards" / "NOTES.md"
    own_page.write_text("my notes\n")
    own_plot = results_copy / "plots" / "confusion" / "mine.png"
    own_plot.write_bytes(b"\x89PNG not generated")
    records = results_copy / "records" / "twin-scale0.15-seed0"
    shutil.rmtree(records / "megc2019-3class")
    shutil.rmtree(records / "casme2-3class" / "timm%3Aresnet18")
    generate(results_copy)
    assert not (results_copy / "leaderboards" / "megc2019.md").exists()
    assert not (results_copy / "leaderboards" / "megc2019.csv").exists()
    assert not (results_copy / "plots" / "confusion" / "twin-x0.15-seed0" / "megc2019-3class").exists()
    plots = results_copy / "plots/confusion/twin-x0.15-seed0/casme2-3class"
    assert not (plots / "timm_resnet18__annotated__fixed-epochs.png").exists()
    assert (plots / "ststnet__gamdss__fixed-epochs.png").is_file()
    assert own_page.read_text() == "my notes\n" and own_plot.is_file()
    assert "megc2019" not in (results_copy / "LEADERBOARD.md").read_text()


def test_a_protocol_no_longer_registered_goes_to_family_other(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_store([make_result("retired-3class", seed=s) for s in (0, 1)], root)
    generate(root)
    assert (root / "leaderboards" / "other.md").is_file()
    page = (root / "leaderboards" / "other.md").read_text()
    assert "### retired-3class" in page and f"data: `{TWIN}`" in page
    assert (root / "plots/confusion/twin-x0.15-seed0/retired-3class/ststnet__annotated__fixed-epochs.png").is_file()


def test_a_protocol_with_oracle_rows_only_has_no_best_row(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_store([make_result(selection="oracle", seed=s) for s in (0, 1)], root)
    generate(root)
    (table,) = tables((root / "LEADERBOARD.md").read_text())
    (row,) = [cells(line) for line in table[2:]]
    assert row[1] == "casme2-3class" and row[3] == "oracle · 2 seeds" and row[4] == "2"
    assert row[7] == "oracle rows only" and row[8:11] == ["–", "–", "–"]


def test_the_cli_regenerates_the_pages_and_publishes_the_comparisons(results_copy: Path,
                                                                     cli) -> None:
    before = outputs(results_copy)
    code, out, err = cli("leaderboard", "--results", results_copy)
    assert code == 0, err
    assert "LEADERBOARD.md" in out
    after = outputs(results_copy)
    # the pages are those write_leaderboard made; the CLI adds the paired comparisons, the site
    # and the reselection summary
    assert {k: v for k, v in after.items() if k not in ("LEADERBOARD.md", "reselection-summary.md")
            and not k.startswith(("compare/", "site/"))} == {k: v for k, v in before.items()
                                                             if k != "LEADERBOARD.md"}
    assert {"compare/annotated-vs-gamdss.md", "compare/fixed-epochs-vs-oracle.md", "site/index.html",
            "reselection-summary.md"} <= set(after)
    index = after["LEADERBOARD.md"].decode()
    tables_part = before["LEADERBOARD.md"].decode().rsplit("\n\n", 1)[0]  # all but the closing line
    assert index.startswith(tables_part + "\n\n## Paired comparisons\n\n")
    assert "(compare/annotated-vs-gamdss.md)" in index and "(site/index.html)" in index
    assert "(reselection-summary.md)" in index
    assert index.endswith(before["LEADERBOARD.md"].decode().rsplit("\n\n", 1)[1])
    code, _, err = cli("leaderboard", "--results", results_copy)
    assert code == 0, err
    assert outputs(results_copy) == after  # regenerating is deterministic


# ---------------------------------------------------------------------------------------------
# Bad input: one clear line, nothing written


def test_no_records_say_how_to_make_some(tmp_path: Path, cli) -> None:
    store = ResultStore(tmp_path / "results")
    with pytest.raises(DataError, match=r"no result records under .*records; run `mer-bench run --all` first"):
        write_leaderboard(store.load_all(), tmp_path / "results", records_dir=store.records_dir)
    code, _, err = cli("leaderboard", "--results", tmp_path / "results")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "mer-bench run" in err
    assert not (tmp_path / "results").exists()


def test_mixed_protocol_versions_are_refused_and_nothing_changes(results_copy: Path, cli) -> None:
    before = outputs(results_copy)
    stale = make_result(keyframes="gamdss", seed=7, version="0.9", protocol_hash="0ld0000c0ffee001", **SIX)
    ResultStore(results_copy).write(stale)
    with pytest.raises(DataError) as error:
        generate(results_copy)
    message = str(error.value)
    assert "casme2-3class" in message and "protocol versions" in message
    assert "twin-scale0.15-seed0/casme2-3class/ststnet/gamdss/seed7" in message
    assert "version 0.9" in message
    assert "re-run" in message and "delete" in message
    code, _, err = cli("leaderboard", "--results", results_copy)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert outputs(results_copy) == before, "nothing half-written"


def test_same_version_with_another_hash_is_refused() -> None:
    # the hashes differ in their last character only: compared whole, not as shown prefixes
    runs = [make_result(seed=0), make_result(seed=1, protocol_hash="5eed0000c0ffee0f")]
    with pytest.raises(DataError, match=r"records mix protocol versions .*"
                                        r"hash 5eed0000c0ffee0f in twin-scale0.15-seed0/casme2-3class/"
                                        r"ststnet/annotated/seed1"):
        leaderboard_table(runs)


def test_records_on_different_data_are_grouped_not_refused() -> None:
    # Before data sources were grouped, this publish step stopped with "records mix data".
    runs = [make_result(seed=0), make_result(seed=1, data_source=REAL)]
    table = leaderboard_table(runs)
    assert list(main_rows(table, "casme2-3class")["data_source"]) == [TWIN, REAL]


def test_different_test_sets_in_one_table_are_refused() -> None:
    runs = [make_result(seed=0), make_result(seed=1, samples=15)]
    with pytest.raises(DataError, match=r"twin-scale0.15-seed0/casme2-3class/ststnet/annotated/seed0 and "
                                        r"twin-scale0.15-seed0/casme2-3class/ststnet/annotated/"
                                        r"seed1 scored different test samples"):
        leaderboard_table(runs)


def test_duplicate_cells_are_refused() -> None:
    with pytest.raises(DataError, match="two records for cell twin-scale0.15-seed0/casme2-3class/"
                                        "ststnet/annotated/seed0"):
        leaderboard_table([make_result(), make_result()])
