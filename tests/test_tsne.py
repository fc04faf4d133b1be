"""mer-bench visualize tsne: each LOSO fold's model embeds only its held-out subject, as the
benchmark job trains it; the plot and coordinates are written once, deterministically; bad input
stops before anything is written."""

from __future__ import annotations

import contextlib
import io
import struct
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from torch import nn

from mer_bench.datasource import protocol_samples, resolve_data_source
from mer_bench.models import MODELS
from mer_bench.protocols import get_protocol
from mer_bench.report import tsne

PROTOCOL = "casme2-5class"
STEM = f"{PROTOCOL}__ststnet__annotated__seed0"


def tsne_args(data_root: Path, results: Path, *extra: str) -> list[str]:
    return ["visualize", "tsne", "--protocol", PROTOCOL, "--model", "ststnet",
            "--data-root", str(data_root), "--results", str(results), *extra]


def labelled_ids(data_root: Path) -> dict[str, str]:
    """sample id -> true class name of every sample the protocol labels."""
    protocol = get_protocol(PROTOCOL)
    samples = protocol_samples(protocol, resolve_data_source(data_root))
    return {item.sample.sample_id: protocol.classes[item.label]
            for item in protocol.label_samples(samples)}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def tsne_run(tiny_twin_root, tmp_path_factory):
    """The real path once: the command with the model's own training budget."""
    from mer_bench.cli import main

    results = tmp_path_factory.mktemp("results")
    out = results / "plots" / "tsne"
    argv, sys.argv = sys.argv, ["mer-bench", *tsne_args(tiny_twin_root, results)]
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            main()
    finally:
        sys.argv = argv
    return out, stdout.getvalue()


@pytest.fixture
def fast_ststnet(monkeypatch):
    """STSTNet with a two-epoch budget, for tests about plumbing rather than learning."""
    spec = MODELS.get("ststnet")
    monkeypatch.setitem(MODELS._resolved, "ststnet",
                        replace(spec, budget=replace(spec.budget, epochs=2)))


def test_command_writes_the_plot_and_its_coordinates(tsne_run):
    out, stdout = tsne_run
    png, csv = out / f"{STEM}.png", out / f"{STEM}.csv"
    assert f"wrote {png}" in stdout and f"wrote {csv}" in stdout
    assert png_size(png.read_bytes())[0] > 0
    assert b"Software" not in png.read_bytes()  # no version tag: same plot, same bytes
    assert sorted(p.name for p in out.iterdir()) == [csv.name, png.name]


def test_every_protocol_sample_appears_once_with_its_true_label_and_loso_fold(tsne_run,
                                                                              tiny_twin_root):
    out, _ = tsne_run
    table = pd.read_csv(out / f"{STEM}.csv")
    truth = labelled_ids(tiny_twin_root)
    assert len(table) == len(truth) and table["sample_id"].is_unique
    assert set(table["sample_id"]) == set(truth)
    assert (table["label"] == table["sample_id"].map(truth)).all()
    # LOSO: fold k tests the k-th subject in sorted order, and only that subject.
    subjects = sorted(table["subject"].unique())
    assert (table["fold"] == table["subject"].map(subjects.index)).all()
    classes = set(get_protocol(PROTOCOL).classes)
    assert set(table["predicted"]) <= classes
    assert (table["dataset"] == "casme2").all()
    assert np.isfinite(table[["tsne_x", "tsne_y"]].to_numpy()).all()


def test_predictions_are_those_of_the_benchmark_job(tsne_run, tiny_twin_root):
    """Same seeds per fold, inputs and budget as run_job: the fold models predict the same."""
    from mer_bench.execute.job import Job, run_job
    from mer_bench.store import Cell, data_key

    out, _ = tsne_run
    table = pd.read_csv(out / f"{STEM}.csv").set_index("sample_id")
    source = resolve_data_source(tiny_twin_root)
    record = run_job(Job(Cell(PROTOCOL, "ststnet", "annotated", 0, data=data_key(source)), source))
    job = record.predictions.set_index("sample_id")
    assert sorted(job.index) == sorted(table.index)
    assert (table.loc[job.index, "predicted"] == job["pred_label"]).all()
    assert (table.loc[job.index, "fold"] == job["fold"]).all()


def test_features_are_the_classifier_inputs_of_each_folds_test_side(fast_ststnet, tiny_twin_root,
                                                                     monkeypatch):
    from mer_bench.execute import cell

    calls = []  # per fold: (seed, test rows handed to training, rows the hook saw)
    real_train, real_features = cell.train_and_predict, tsne.penultimate_features

    def train_spy(spec, num_classes, x_train, y_train, x_test, **kwargs):
        calls.append([kwargs["seed"], len(x_test[0]), len(x_train[0])])
        assert kwargs["keep_model"] and kwargs["budget"] == spec.budget
        return real_train(spec, num_classes, x_train, y_train, x_test, **kwargs)

    def features_spy(model, head, inputs):
        features = real_features(model, head, inputs)
        calls[-1].append(len(features))
        return features

    monkeypatch.setattr(cell, "train_and_predict", train_spy)
    monkeypatch.setattr(tsne, "penultimate_features", features_spy)
    features, table = tsne.tsne_features(PROTOCOL, "ststnet", "annotated", 3,
                                         resolve_data_source(tiny_twin_root))
    n = len(labelled_ids(tiny_twin_root))
    assert features.shape == (n, 16 * 5 * 5) and len(table) == n  # STSTNet's head takes 400
    fold_sizes = table.groupby("fold").size()
    assert [c[0] for c in calls] == [3000 + k for k in range(len(calls))]
    for k, (_, n_test, n_train, hooked) in enumerate(calls):
        assert n_test == hooked == fold_sizes[k] and n_train == n - n_test
    assert list(table["label"].cat.categories) == list(get_protocol(PROTOCOL).classes)


def test_final_linear_is_the_head_and_models_without_one_are_refused():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    assert tsne.final_linear(model, "m", 3) is model[2]
    with pytest.raises(tsne.ConfigError, match="no nn.Linear"):
        tsne.final_linear(nn.Sequential(nn.Conv2d(3, 3, 1)), "conv-only", 3)
    with pytest.raises(tsne.ConfigError, match="not the classifier head"):
        tsne.final_linear(nn.Sequential(nn.Linear(3, 5), nn.ReLU()), "m", 3)


def composite_table(n: int) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(0)
    classes = ["negative", "positive", "surprise"]
    table = pd.DataFrame({
        "sample_id": [f"d{i % 2}/s{i}/c" for i in range(n)], "subject": [f"s{i}" for i in range(n)],
        "dataset": [f"d{i % 2}" for i in range(n)], "fold": range(n),
        "label": pd.Categorical([classes[i % 3] for i in range(n)], categories=classes),
        "predicted": pd.Categorical([classes[0]] * n, categories=classes)})
    return rng.normal(size=(n, 6)), table


def test_writing_is_deterministic_and_composites_get_a_dataset_panel(tmp_path):
    features, table = composite_table(12)
    write = dict(protocol_id="megc2019-3class", model_name="timm:resnet18", keyframes="annotated",
                 seed=1)
    first = tsne.write_tsne(features, table, tmp_path / "a", **write)
    second = tsne.write_tsne(features, table, tmp_path / "b", **write)
    assert first.name == "megc2019-3class__timm_resnet18__annotated__seed1.png"
    assert first.read_bytes() == second.read_bytes()
    assert first.with_suffix(".csv").read_text() == second.with_suffix(".csv").read_text()
    single = tsne.write_tsne(features, table.assign(dataset="d0"), tmp_path / "c", **write)
    assert png_size(first.read_bytes())[0] > 1.5 * png_size(single.read_bytes())[0]


def test_perplexity_is_capped_for_few_samples():
    features, _ = composite_table(5)  # sklearn refuses perplexity >= n; 30 is capped to 4/3
    assert tsne.embed(features, seed=0, perplexity=30).shape == (5, 2)
    with pytest.raises(tsne.DataError, match="at least 5"):
        tsne.embed(features[:4], seed=0)


@pytest.mark.parametrize("flag, name, needle", [
    ("--protocol", "casme2-5clas", "did you mean casme2-5class"),
    ("--model", "ststnett", "did you mean ststnet"),
    ("--keyframes", "gamdsss", "did you mean gamdss"),
    ("--perplexity", "0", "'--perplexity': 0"),
])
def test_bad_names_are_one_line_and_write_nothing(flag, name, needle, tiny_twin_root, tmp_path,
                                                  cli):
    args = tsne_args(tiny_twin_root, tmp_path / "out")
    if flag in args:
        args[args.index(flag) + 1] = name
    else:
        args += [flag, name]
    code, _, err = cli(*args)
    assert code == 2, err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_too_few_samples_is_one_line_and_writes_nothing(tiny_twin_root, tmp_path, cli,
                                                        monkeypatch):
    real = tsne.protocol_samples
    monkeypatch.setattr(tsne, "protocol_samples",
                        lambda protocol, source: real(protocol, source)[:4])
    code, _, err = cli(*tsne_args(tiny_twin_root, tmp_path / "out"))
    assert code == 2 and "at least 5" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_model_without_linear_layer_is_one_line_and_writes_nothing(tiny_twin_root, tmp_path,
                                                                     cli, monkeypatch):
    def conv_only(num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, num_classes, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    spec = replace(MODELS.get("ststnet"), name="conv-only", build=conv_only)
    monkeypatch.setitem(MODELS._resolved, "conv-only", spec)
    args = tsne_args(tiny_twin_root, tmp_path / "out")
    args[args.index("--model") + 1] = "conv-only"
    code, _, err = cli(*args)
    assert code == 2 and "no nn.Linear" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
