"""Nested Optuna tuning (mer-bench tune): each fold's study never reads that fold's test subject."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import optuna
import pytest

from mer_bench import datasource
from mer_bench.datasource import resolve_data_source
from mer_bench.metrics import pooled_metrics
from mer_bench.models import MODELS
from mer_bench.protocols import get_protocol
from mer_bench.store import ResultStore
from mer_bench.tune.inner import inner_data, load_cell, subject_partition
from mer_bench.tune.nested import TuneSettings, check_settings, tune_fold
from mer_bench.tune.objective import FOLDS_DONE, inner_uf1
from mer_bench.tune.ray_search import concurrency, trial_resources
from mer_bench.tune.space import space_for
from mer_bench.tune.study import storage_file

PROTOCOL = "casme2-5class"
TRIALS = 2
MAX_EPOCHS = 2


def tune_args(data_root: Path, results: Path, *extra: str, trials: int = TRIALS) -> list[str]:
    return ["tune", "--protocol", PROTOCOL, "--model", "ststnet", "--trials", str(trials),
            "--max-epochs", str(MAX_EPOCHS), "--data-root", str(data_root),
            "--results", str(results), *extra]


def studies(results: Path, settings: TuneSettings,
            data_root: Path) -> dict[str, list[optuna.trial.FrozenTrial]]:
    cell = settings.cell_on(resolve_data_source(data_root))
    storage = f"sqlite:///{storage_file(results, cell)}"
    return {summary.study_name: optuna.load_study(study_name=summary.study_name,
                                                  storage=storage).trials
            for summary in optuna.get_all_study_summaries(storage)}


def poison_subject(monkeypatch, subject: str) -> None:
    """Permute the labels of one subject's samples (each class -> the next one)."""
    protocol = get_protocol(PROTOCOL)
    real_load = datasource.load_samples

    def poisoned_load(dataset, source):
        def poison(sample):
            label = protocol.label_of(sample)
            if sample.subject_key != subject or label is None:
                return sample
            return dataclasses.replace(
                sample, emotion=protocol.classes[(label + 1) % len(protocol.classes)])
        return [poison(s) for s in real_load(dataset, source)]

    monkeypatch.setattr("mer_bench.datasource.load_samples", poisoned_load)


# -- the search space and the inner split ---------------------------------------------------------

def test_space_is_centred_on_the_models_budget_and_capped():
    space = space_for(MODELS.get("ststnet"), max_epochs=10)
    assert space.lr == pytest.approx((1e-4, 1e-2))
    assert space.epochs == (5, 10)
    assert space.batch_sizes == (16, 32, 64)
    budget = space.budget({"lr": 3e-3, "weight_decay_on": False, "epochs": 7, "batch_size": 16})
    assert (budget.lr, budget.weight_decay, budget.epochs, budget.batch_size) == (3e-3, 0.0, 7, 16)
    assert space.budget({"lr": 3e-3, "weight_decay_on": True, "weight_decay": 0.01, "epochs": 7,
                         "batch_size": 16}).weight_decay == 0.01
    assert space_for(MODELS.get("ststnet")).epochs[1] == MODELS.get("ststnet").budget.epochs


def test_subject_partition_is_seeded_and_gives_every_inner_fold_a_subject():
    subjects = [f"s{i}" for i in range(7)]
    partition = subject_partition(subjects, 3, seed=0)
    assert partition == subject_partition(list(reversed(subjects)), 3, seed=0)
    assert sorted(set(partition.values())) == [0, 1, 2]


# -- THE key test: fold k's study never reads fold k's test subject -------------------------------

def fold_study(root: Path, results: Path, fold_index: int) -> tuple[list[float], dict, int]:
    """Run fold ``fold_index``'s study alone; its trial values, best params and best trial."""
    settings = TuneSettings(PROTOCOL, "ststnet", trials=3, results=results, max_epochs=MAX_EPOCHS)
    cell = settings.cell_on(resolve_data_source(root))
    data = load_cell(cell, resolve_data_source(root))
    best = tune_fold(data, data.folds[fold_index], space_for(data.model, MAX_EPOCHS), settings,
                     storage_file(results, cell), check_settings(settings))
    (trials,) = studies(results, settings, root).values()
    return [t.value for t in trials], best.params, best.number


def test_poisoned_test_subject_labels_leave_its_folds_study_unchanged(
        tiny_twin_root, tmp_path, monkeypatch):
    source = resolve_data_source(tiny_twin_root)
    cell = TuneSettings(PROTOCOL, "ststnet", trials=1).cell_on(source)
    clean_data = load_cell(cell, source)
    fold = clean_data.folds[0]
    validation_subject = clean_data.folds[1].test_subject  # on fold 0's training side

    clean = fold_study(tiny_twin_root, tmp_path / "clean", 0)

    with monkeypatch.context() as patch:
        poison_subject(patch, fold.test_subject)
        poisoned_data = load_cell(cell, source)
        assert [poisoned_data.label_of[s] for s in fold.test_ids] != [
            clean_data.label_of[s] for s in fold.test_ids], "the poison must reach the labels"
        assert fold_study(tiny_twin_root, tmp_path / "poisoned-test", 0) == clean

    with monkeypatch.context() as patch:
        poison_subject(patch, validation_subject)
        values, _, _ = fold_study(tiny_twin_root, tmp_path / "poisoned-validation", 0)
    assert values != clean[0], "poisoning a validation subject must move the objective"


# -- the command: a stored record, resuming, bad input --------------------------------------------

@pytest.fixture(scope="module")
def tuned(tiny_twin_root, tmp_path_factory) -> Path:
    import sys

    from mer_bench.cli import main

    results = tmp_path_factory.mktemp("tuned") / "results"
    argv = sys.argv
    sys.argv = ["mer-bench", *tune_args(tiny_twin_root, results)]
    try:
        main()
    finally:
        sys.argv = argv
    return results


def test_record_is_optuna_nested_with_its_tuning_and_metrics_over_all_folds(tuned, tiny_twin_root):
    (record,) = ResultStore(tuned).load_all()
    assert record.cell.selection == record.selection_mode == "optuna-nested"
    assert record.cell.cell_id.endswith("seed0-optuna-nested")
    tuning = record.config["tuning"]
    assert tuning["sampler"] == {"name": "TPESampler", "seed": 0}
    assert tuning["trials_per_fold"] == TRIALS and tuning["inner_folds"] == 3
    assert tuning["objective"] == "inner-validation UF1 on the training side"
    assert tuning["search_space"]["epochs"]["high"] == MAX_EPOCHS
    assert (tuned / tuning["storage"]).is_file()

    predictions = record.predictions
    assert record.n_folds == len(tuning["folds"]) == predictions["fold"].nunique() == 4
    assert record.metrics == pooled_metrics(predictions["y_true"], predictions["y_pred"],
                                            record.metrics.classes)
    settings = TuneSettings(PROTOCOL, "ststnet", trials=TRIALS, results=tuned)
    trials = studies(tuned, settings, tiny_twin_root)
    for fold, budget in zip(tuning["folds"], record.config["budget"]):
        assert predictions.loc[predictions["fold"] == fold["fold"], "subject"].unique().tolist() \
            == [fold["test_subject"]]
        best = trials[fold["study"]][fold["best_trial"]]
        assert best.value == fold["best_inner_uf1"] == max(t.value for t in trials[fold["study"]])
        assert best.params == fold["best_params"]
        assert (budget["lr"], budget["epochs"]) == (best.params["lr"], best.params["epochs"])
    assert "optuna-nested" in (tuned / "LEADERBOARD.md").read_text()


def test_rerun_adds_only_missing_trials(tuned, tiny_twin_root, tmp_path, cli):
    results = tmp_path / "results"
    shutil.copytree(tuned, results)
    settings = TuneSettings(PROTOCOL, "ststnet", trials=TRIALS, results=results)
    before = studies(results, settings, tiny_twin_root)
    assert len(before) == 4 and all(len(t) == TRIALS for t in before.values())

    code, _, err = cli(*tune_args(tiny_twin_root, results))
    assert code == 0, err
    numbers = {name: [t.number for t in trials] for name, trials in before.items()}
    assert {name: [t.number for t in trials]
            for name, trials in studies(results, settings, tiny_twin_root).items()} == numbers

    code, _, err = cli(*tune_args(tiny_twin_root, results, trials=TRIALS + 1))
    assert code == 0, err
    after = studies(results, settings, tiny_twin_root)
    assert all(len(after[name]) == len(before[name]) + 1 for name in before)
    (record,) = ResultStore(results).load_all()
    assert [f["trials"] for f in record.config["tuning"]["folds"]] == [TRIALS + 1] * 4


def test_resuming_under_another_search_space_is_refused(tuned, tiny_twin_root, tmp_path, cli):
    results = tmp_path / "results"
    shutil.copytree(tuned, results)
    args = tune_args(tiny_twin_root, results)
    args[args.index("--max-epochs") + 1] = "3"
    code, _, err = cli(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "search_space" in err


def assert_refused(code: int, err: str, *words: str) -> None:
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err


def test_zero_trials_is_refused(tiny_twin_root, tmp_path, cli):
    code, _, err = cli(*tune_args(tiny_twin_root, tmp_path / "results", trials=0))
    assert_refused(code, err, "--trials")
    assert not (tmp_path / "results").exists()


def test_asha_without_ray_is_refused(tiny_twin_root, tmp_path, cli):
    code, _, err = cli(*tune_args(tiny_twin_root, tmp_path / "results", "--asha"))
    assert_refused(code, err, "--executor ray")
    assert not (tmp_path / "results").exists()


def test_too_few_training_subjects_for_an_inner_split_is_refused(
        tiny_twin_root, tmp_path, cli, monkeypatch):
    real_load = datasource.load_samples
    subjects = sorted({s.subject_key for s in real_load(*_casme2(tiny_twin_root))})
    assert len(subjects) == 4  # so each fold's training side has 3 subjects
    monkeypatch.setattr("mer_bench.datasource.load_samples", lambda dataset, source: [
        s for s in real_load(dataset, source) if s.subject_key != subjects[0]])
    code, _, err = cli(*tune_args(tiny_twin_root, tmp_path / "results"))
    assert_refused(code, err, "2 subject(s)", "inner folds")
    assert not (tmp_path / "results").exists()


def test_unwritable_results_folder_is_refused(tiny_twin_root, tmp_path, cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = cli(*tune_args(tiny_twin_root, blocker / "results"))
    assert_refused(code, err, "not writable")


def _casme2(root: Path):
    from mer_bench.data.spec import DATASETS

    return DATASETS.get("casme2"), resolve_data_source(root)


# -- Ray Tune: the same study, trials scheduled by Ray --------------------------------------------

def test_trials_reserve_the_models_resources_and_pack_onto_the_cluster():
    small = {"cpu": 1, "gpu": 0.25}
    assert trial_resources(small, {"CPU": 4, "GPU": 1}) == {"cpu": 1.0, "gpu": 0.25}
    assert trial_resources(small, {"CPU": 4}) == {"cpu": 1.0, "gpu": 0.0}
    assert trial_resources(small, {"CPU": 4, "GPU": 1}, "cpu") == {"cpu": 1.0, "gpu": 0.0}
    assert trial_resources(small, {"CPU": 4, "GPU": 1}, "auto", 0.5)["gpu"] == 0.5
    assert concurrency({"cpu": 1.0, "gpu": 0.25}, {"CPU": 16, "GPU": 1}, trials=10) == 4
    assert concurrency({"cpu": 2.0, "gpu": 0.0}, {"CPU": 3}, trials=10) == 1
    assert concurrency({"cpu": 1.0, "gpu": 0.0}, {"CPU": 8}, trials=3) == 3


@pytest.mark.ray
def test_ray_search_fills_the_same_study_with_the_same_objective(
        ray_session, tiny_twin_root, tmp_path, monkeypatch):
    # CPU-only trials, so a machine with a GPU computes the objective exactly as the local check
    settings = TuneSettings(PROTOCOL, "ststnet", trials=3, results=tmp_path / "results",
                            max_epochs=MAX_EPOCHS, executor="ray", asha=True, device="cpu")
    cell = settings.cell_on(resolve_data_source(tiny_twin_root))
    data = load_cell(cell, resolve_data_source(tiny_twin_root))
    space = space_for(data.model, MAX_EPOCHS)
    executor = check_settings(settings)
    assert executor.name == "ray" and executor.asha
    best = tune_fold(data, data.folds[0], space, settings, storage_file(settings.results, cell),
                     executor)
    (trials,) = studies(settings.results, settings, tiny_twin_root).values()
    assert len(trials) == 3 and all(t.state.is_finished() for t in trials)
    inner = inner_data(data, data.folds[0], 3, settings.seed)
    full = [t for t in trials if t.user_attrs[FOLDS_DONE] == 3]
    assert trials[best.number] in full
    for trial in full:  # a Ray trial scores exactly what the local objective does
        assert trial.value == inner_uf1(inner, space.budget(trial.params), settings.seed)
