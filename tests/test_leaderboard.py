"""Leaderboard pages: golden files, traceable numbers, ranks, oracle marking, determinism, bad input.

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
from mer_bench.report.leaderboard import (
    confusion_paths,
    confusion_plots,
    data_label,
    human_count,
    leaderboard_table,
    write_leaderboard,
)
from mer_bench.report.plots import generated_png_key
from mer_bench.store import Cell, JobResult, ResultStore, config_hash

GOLDEN = Path(__file__).parent / "golden" / "leaderboard"
GOLDEN_FILES = ["LEADERBOARD.md", "leaderboard.csv", "leaderboards/casme2.md", "leaderboards/casme2.csv",
                "leaderboards/megc2019.md"]
UPDATE_GOLDEN = os.environ.get("MER_BENCH_UPDATE_GOLDEN") == "1"

THREE = ["negative", "positive", "surprise"]
FIVE = ["happiness", "repression", "disgust", "surprise", "others"]
TWIN = "twin:casme2:v2:scale=0.15:seed=0"
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
) -> JobResult:
    """A deterministic record: 12 samples per dataset over 3 subjects; about ``skill`` in 10 right."""
    salt = len(model) + 3 * len(keyframes)
    rows = []
    for dataset in datasets:
        for i in range(12):
            y_true = i % len(classes)
            right = (i * 7 + seed * 3 + salt) % 10 < skill
            y_pred = y_true if right else (y_true + 1 + seed) % len(classes)
            subject = f"{dataset}/s{i % 3 + 1}"
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


def golden_results() -> list[JobResult]:
    """Two protocols of the casme2 family plus the MEGC2019 composite; two models, two keyframe
    strategies, one to three seeds, one oracle row (the best UF1 of its protocol, yet unranked)."""
    casme2 = [
        *(make_result(keyframes="annotated", seed=s, skill=6, **STSTNET) for s in (0, 1, 2)),
        *(make_result(keyframes="gamdss", seed=s, skill=7, **STSTNET) for s in (0, 1, 2)),
        *(make_result(model="timm:resnet18", seed=s, skill=5, **RESNET) for s in (0, 1)),
        make_result(selection="oracle", skill=10, **STSTNET),
    ]
    five = [make_result("casme2-5class", keyframes=k, skill=skill, classes=FIVE,
                        protocol_hash="5eed0000c0ffee05", **STSTNET)
            for k, skill in (("annotated", 5), ("gamdss", 4))]
    megc = [make_result("megc2019-3class", keyframes=k, seed=s, skill=skill,
                        datasets=("smic-hs", "casme2", "samm"), protocol_hash="5eed0000c0ffee19", **STSTNET)
            for k, skill in (("annotated", 6), ("gamdss", 7)) for s in (0, 1)]
    return [*casme2, *five, *megc]


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
    start = markdown.index(f"\n## {protocol}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end != -1 else None]


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
    assert sorted(name for name in files if name.endswith(".png")) == [
        "plots/confusion/casme2-3class/ststnet__annotated__fixed-epochs.png",
        "plots/confusion/casme2-3class/ststnet__annotated__oracle.png",
        "plots/confusion/casme2-3class/ststnet__gamdss__fixed-epochs.png",
        "plots/confusion/casme2-3class/timm_resnet18__annotated__fixed-epochs.png",
        "plots/confusion/casme2-5class/ststnet__annotated__fixed-epochs.png",
        "plots/confusion/casme2-5class/ststnet__gamdss__fixed-epochs.png",
        "plots/confusion/megc2019-3class/ststnet__annotated__fixed-epochs.png",
        "plots/confusion/megc2019-3class/ststnet__gamdss__fixed-epochs.png",
    ]
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
    runs = [make_result(seed=s) for s in (0, 1, 2)]
    runs = [dataclasses.replace(run, metrics=dataclasses.replace(run.metrics, uf1=uf1))
            for run, uf1 in zip(runs, (0.5, 0.6, 0.8))]
    row = leaderboard_table(runs).iloc[0]
    assert row["uf1_mean"] == pytest.approx(0.6333333333333333)
    assert row["uf1_std"] == pytest.approx(0.15275252316519466), "ddof=1 (ddof=0 would be 0.1247)"
    single = leaderboard_table(runs[:1]).iloc[0]
    assert pd.isna(single["uf1_std"]), "no std from one seed"


def test_scores_show_mean_plus_minus_std_and_a_dash_for_one_seed(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    page = (generated / "leaderboards/casme2.md").read_text()
    three = table[(table["protocol"] == "casme2-3class") & (table["keyframes"] == "gamdss")].iloc[0]
    assert three["seeds"] == 3
    assert f"{three['uf1_mean']:.4f} ± {three['uf1_std']:.4f}" in section(page, "casme2-3class")
    one = table[(table["protocol"] == "casme2-5class") & (table["keyframes"] == "gamdss")].iloc[0]
    assert f"{one['uf1_mean']:.4f} ± –" in section(page, "casme2-5class")
    assert "ddof=1" in page and "`–` when only one seed ran" in page


def test_rows_are_ranked_by_uf1_with_honest_rows_only(generated: Path) -> None:
    table = leaderboard_table(ResultStore(generated).load_all())
    rows = table[(table["protocol"] == "casme2-3class") & (table["part"] == "")]
    honest = rows[rows["selection"] != "oracle"]
    assert list(honest["uf1_mean"]) == sorted(honest["uf1_mean"], reverse=True)
    assert list(honest["rank"]) == [1, 2, 3]
    oracle = rows[rows["selection"] == "oracle"]
    assert len(oracle) == 1 and pd.isna(oracle["rank"].iloc[0])
    assert oracle["uf1_mean"].iloc[0] > honest["uf1_mean"].max(), "best UF1 of all, yet not ranked"
    assert rows.index[-1] == oracle.index[0], "listed after the ranked rows"


def test_ties_share_a_rank_and_uar_breaks_uf1_ties() -> None:
    runs = [make_result(model=name, skill=6) for name in ("b-net", "a-net", "c-net")]
    metrics = {"a-net": (0.7, 0.6), "b-net": (0.7, 0.6), "c-net": (0.7, 0.65)}
    runs = [dataclasses.replace(run, metrics=dataclasses.replace(
        run.metrics, uf1=metrics[run.cell.model][0], uar=metrics[run.cell.model][1])) for run in runs]
    runs.append(dataclasses.replace(make_result(model="d-net"), metrics=dataclasses.replace(
        runs[0].metrics, uf1=0.5, uar=0.9)))
    table = leaderboard_table(runs)
    assert list(table["model"]) == ["c-net", "a-net", "b-net", "d-net"]
    assert list(table["rank"]) == [1, 2, 2, 4]


def test_oracle_rows_are_marked_unranked_and_never_best(generated: Path) -> None:
    page = (generated / "leaderboards/casme2.md").read_text()
    (table,) = tables(section(page, "casme2-3class"))
    (oracle,) = [cells(line) for line in table[2:] if "oracle" in line]
    assert oracle[0] == "–" and oracle[3] == "oracle ⚠"
    assert [cells(line)[0] for line in table[2:]] == ["1", "2", "3", "–"]
    assert "`oracle ⚠`" in page and "test subject" in page
    index = (generated / "LEADERBOARD.md").read_text()
    (best,) = [cells(line) for line in index.splitlines() if "| casme2-3class " in line]
    assert best[5:8] == ["ststnet", "gamdss", "fixed-epochs"]
    megc = (generated / "leaderboards/megc2019.md").read_text()
    assert "oracle" not in megc, "no oracle note without oracle rows"


def test_index_lists_families_protocols_records_and_best_rows(generated: Path) -> None:
    index = (generated / "LEADERBOARD.md").read_text()
    (table,) = tables(index)
    assert cells(table[0]) == ["family", "protocol", "version", "data", "records", "best model", "keyframes",
                               "selection", "UF1", "UAR"]
    rows = {cells(line)[1]: cells(line) for line in table[2:]}
    assert sorted(rows) == ["casme2-3class", "casme2-5class", "megc2019-3class"]
    assert rows["casme2-3class"][0] == "[casme2](leaderboards/casme2.md)"
    assert rows["megc2019-3class"][0] == "[megc2019](leaderboards/megc2019.md)"
    assert [rows[p][4] for p in sorted(rows)] == ["9", "2", "4"], "records = seeds of every row"
    assert rows["casme2-3class"][3] == "twin x0.15"


def test_family_page_heading_names_the_protocol(generated: Path) -> None:
    page = (generated / "leaderboards/casme2.md").read_text()
    heading = section(page, "casme2-5class").split("\n\n")[1]
    assert "CASME II 5-class" in heading and "version 1.0" in heading
    assert f"5 classes: {', '.join(FIVE)}" in heading and "data: twin x0.15" in heading


def test_composite_parts_score_each_dataset_of_the_pooled_predictions(generated: Path) -> None:
    results = ResultStore(generated).load_all()
    table = leaderboard_table(results)
    parts = table[(table["protocol"] == "megc2019-3class") & (table["part"] != "")]
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
    assert list(single["part"]) == [""], "single-dataset jobs have no part rows"


def test_params_and_flops_are_human_readable(generated: Path) -> None:
    assert [human_count(v) for v in (None, 42, 1_683, 679_776, 11_178_051, 13_400_000_000)] == [
        "–", "42", "1.68 K", "0.68 M", "11.2 M", "13.4 G"]
    page = (generated / "leaderboards/casme2.md").read_text()
    (resnet,) = [cells(line) for line in tables(section(page, "casme2-3class"))[0] if "timm:resnet18" in line]
    assert resnet[7:9] == ["11.2 M", "–"]


# ---------------------------------------------------------------------------------------------
# CSV and traceability


def test_every_csv_number_traces_to_the_records(generated: Path) -> None:
    csv = pd.read_csv(generated / "leaderboard.csv", dtype=str, keep_default_na=False)
    assert len(csv) == 8 + 6, "8 rows plus 3 datasets x 2 part rows of the composite"
    for _, row in csv.iterrows():
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
        for column, key in (("acc", "accuracy"), ("uf1", "uf1"), ("uar", "uar")):
            if row["part"]:
                values = []
                for d in directories:
                    p = pd.read_parquet(d / "predictions.parquet")
                    p = p[p["sample_id"].str.startswith(row["part"] + "/")]
                    values.append(getattr(pooled_metrics(p["y_true"], p["y_pred"], THREE),
                                          "accuracy" if column == "acc" else column))
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
    main = table[table["part"] == ""]
    assert sorted(main["confusion"]) == sorted(plots)
    for _, row in main.iterrows():
        path = generated / row["confusion"]
        assert generated_png_key(path.read_bytes()) is not None, path
        page = (generated / "leaderboards" / f"{row['family']}.md").read_text()
        assert f"[png](../{row['confusion']})" in section(page, row["protocol"])
        assert (generated / "leaderboards" / f"../{row['confusion']}").is_file()
    key = "plots/confusion/casme2-3class/ststnet__gamdss__fixed-epochs.png"
    runs = [r for r in results if r.cell.protocol == "casme2-3class" and r.cell.keyframes == "gamdss"]
    assert len(runs) == 3
    expected = [[sum(r.metrics.confusion[i][j] for r in runs) for j in range(3)] for i in range(3)]
    assert plots[key].confusion == expected and plots[key].classes == THREE
    assert sum(map(sum, expected)) == 36


def test_plot_names_are_sanitised_and_never_collide() -> None:
    paths = confusion_paths([("p", "timm:x", "annotated", "fixed-epochs"),
                             ("p", "timm_x", "annotated", "fixed-epochs"),
                             ("p", "ststnet", ".hidden", "oracle")])
    assert len(set(paths.values())) == 3
    assert all(re.fullmatch(r"plots/confusion/p/[A-Za-z0-9._+-]+\.png", p) for p in paths.values())
    assert paths[("p", "ststnet", ".hidden", "oracle")] == "plots/confusion/p/ststnet___hidden__oracle.png"
    assert paths[("p", "timm:x", "annotated", "fixed-epochs")].startswith("plots/confusion/p/timm_x__annotated")


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
    assert not (results_copy / "plots" / "confusion" / "megc2019-3class").exists()
    plots = results_copy / "plots/confusion/casme2-3class"
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
    assert "## retired-3class" in page and "data: twin x0.15" in page
    assert (root / "plots/confusion/retired-3class/ststnet__annotated__fixed-epochs.png").is_file()


def test_a_protocol_with_oracle_rows_only_has_no_best_row(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_store([make_result(selection="oracle", seed=s) for s in (0, 1)], root)
    generate(root)
    (table,) = tables((root / "LEADERBOARD.md").read_text())
    (row,) = [cells(line) for line in table[2:]]
    assert row[1] == "casme2-3class" and row[4] == "2" and row[5] == "– (oracle rows only)"
    assert row[6:] == ["", "", "", ""]


def test_the_cli_regenerates_the_pages_and_publishes_the_comparisons(results_copy: Path,
                                                                     cli) -> None:
    before = outputs(results_copy)
    code, out, err = cli("leaderboard", "--results", results_copy)
    assert code == 0, err
    assert "LEADERBOARD.md" in out
    after = outputs(results_copy)
    # the pages are those write_leaderboard made; the CLI adds the paired comparisons
    assert {k: v for k, v in after.items() if k != "LEADERBOARD.md" and
            not k.startswith("compare/")} == {k: v for k, v in before.items()
                                              if k != "LEADERBOARD.md"}
    assert {"compare/annotated-vs-gamdss.md", "compare/fixed-epochs-vs-oracle.md"} <= set(after)
    index = after["LEADERBOARD.md"].decode()
    assert index.startswith(before["LEADERBOARD.md"].decode().rstrip("\n"))
    assert "(compare/annotated-vs-gamdss.md)" in index
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
    stale = make_result(keyframes="gamdss", seed=7, version="0.9", protocol_hash="0ld0000c0ffee001")
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


def test_mixed_data_sources_are_refused() -> None:
    runs = [make_result(seed=0), make_result(seed=1, data_source="data:casme2:/data/CASME2")]
    with pytest.raises(DataError, match=r"records mix data \(real in real-data-00000000/casme2-3class/"
                                        r"ststnet/annotated/seed1; twin x0.15 in twin-scale0.15-seed0/"
                                        r"casme2-3class/ststnet/annotated/seed0\)"):
        leaderboard_table(runs)


def test_duplicate_cells_are_refused() -> None:
    with pytest.raises(DataError, match="two records for cell twin-scale0.15-seed0/casme2-3class/"
                                        "ststnet/annotated/seed0"):
        leaderboard_table([make_result(), make_result()])


# ---------------------------------------------------------------------------------------------
# Helpers kept for other modules


def test_data_label_names_twin_scales_and_real_data() -> None:
    assert data_label("twin:casme2:v2:scale=0.15:seed=0") == "twin x0.15"
    assert data_label("twin:smic-hs:v1:scale=1:seed=0 + twin:casme2:v2:scale=1:seed=0") == "twin x1"
    assert data_label("data:casme2:/data/CASME2") == "real"
