"""One benchmark job: a cell (protocol, model, keyframe strategy, seed) run over all its folds."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DATASETS
from mer_bench.datasource import DataSource, cache_dir, data_provenance, protocol_samples
from mer_bench.errors import DataError
from mer_bench.inputs import InputCache
from mer_bench.inputs.face_crop import DEFAULT_SPEC
from mer_bench.inputs.face_detect import DEFAULT_DETECTOR
from mer_bench.inputs.representations import INPUTS, Branch, build_input
from mer_bench.keyframes import KEYFRAME_STRATEGIES, KeyframeStrategy, keyframes_for
from mer_bench.metrics import pooled_metrics
from mer_bench.missing_apex import apex_fill_config, fill_rule
from mer_bench.models import MODELS, ModelSpec, TrainingBudget, count_flops, count_parameters
from mer_bench.protocols import Fold, LabelledSample, Protocol, get_protocol, make_folds
from mer_bench.store import (Cell, JobResult, ResultStore, config_hash, data_key, git_commit,
                             package_versions)
from mer_bench.train import ORACLE, FoldOutcome, train_and_predict

FoldCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    """A cell to run on a data source.

    ``fold_budgets`` (one per fold, in fold order) replace the model's own training budget: nested
    tuning finds one per fold on that fold's training side. ``tuning`` says how they were found and
    goes into the record's config.
    """

    cell: Cell
    source: DataSource
    fold_budgets: tuple[TrainingBudget, ...] | None = None
    tuning: Mapping | None = None

    def __post_init__(self) -> None:
        if self.cell.data != data_key(self.source):
            raise ValueError(f"{self.cell.cell_id}: the cell's data {self.cell.data!r} is not its "
                             f"source's {data_key(self.source)!r}")

    def budget_for(self, model: ModelSpec, fold_index: int) -> TrainingBudget:
        return self.fold_budgets[fold_index] if self.fold_budgets else model.budget


def make_strategy(spec: str) -> KeyframeStrategy:
    """The strategy ``spec`` names, options applied (``gamdss[distance=flow]``)."""
    return KEYFRAME_STRATEGIES.create(spec)


def job_config(job: Job, protocol: Protocol, model: ModelSpec,
               strategy: KeyframeStrategy) -> dict:
    """Everything that determines a job's numbers; hashed into the record's config hash."""
    config = {
        "protocol": {"id": protocol.id, "version": protocol.version, "hash": protocol.hash},
        "model": model.name,
        "budget": ([b.as_dict() for b in job.fold_budgets] if job.fold_budgets
                   else model.budget.as_dict()),
        "input": {"kinds": list(model.inputs), "size": model.input_size,
                  "two_branch": model.two_branch, **_face_crop_config(protocol)},
        "keyframes": {"name": strategy.name, "applies_to": strategy.applies_to,
                      **dict(strategy.params())},
        "seed": job.cell.seed,
        "selection": job.cell.selection,
        "data": " + ".join(job.source.describe(DATASETS.get(d)) for d in protocol.datasets),
        # rows excluded on loading and the sample list used (with its hash), where any
        **data_provenance(protocol, job.source),
    }
    apex_rules = apex_fill_config(protocol.datasets)
    if apex_rules:
        # Which rule fills a missing apex decides frames on both sides (the midpoint is left out,
        # see apex_fill_config).
        config["keyframes"]["missing_apex"] = apex_rules
    if job.tuning is not None:
        config["tuning"] = dict(job.tuning)
    return config


def _face_crop_config(protocol: Protocol) -> dict:
    """The face detector and crop rules, for protocols with a dataset shipped without face crops
    (a new detector then changes the config hash, so records made with the old one are rerun)."""
    if not any(DATASETS.get(d).face_crop for d in protocol.datasets):
        return {}
    return {"face_crop": {"detector": DEFAULT_DETECTOR.identity(), **asdict(DEFAULT_SPEC)}}


def _select_keyframes(strategy: KeyframeStrategy, labelled: Sequence[LabelledSample],
                      *, is_test: bool) -> dict[str, KeyFrames]:
    return {item.sample.sample_id: keyframes_for(strategy, item.sample, is_test=is_test)
            for item in labelled}


Inputs = dict[str, list[np.ndarray]]


def _inputs(model: ModelSpec, samples: Mapping[str, Sample], keyframes: Mapping[str, KeyFrames],
            branch: Branch, cache: InputCache) -> Inputs:
    """Per sample id, one array per model input, in the order ``forward`` takes them."""
    return {sid: [build_input(kind, samples[sid], keyframes[sid], branch, model.input_size, cache)
                  for kind in model.inputs]
            for sid in keyframes}


def stack(inputs: Inputs, ids: Sequence[str]) -> list[np.ndarray]:
    """The arrays of ``ids``, one (N, C, H, W) batch per model input."""
    return [np.stack([inputs[sid][i] for sid in ids]) for i in range(len(inputs[ids[0]]))]


@dataclass(frozen=True)
class CellInputs:
    """A cell's key frames per side and the model inputs built from them (input cache shared)."""

    train_keyframes: dict[str, KeyFrames]
    test_keyframes: dict[str, KeyFrames]
    train: Inputs  # training-side key frames, rising branch
    test: Inputs  # test-side key frames, rising branch
    falling: Inputs | None  # training-side key frames, falling branch (two-branch models only)


def cell_inputs(model: ModelSpec, strategy: KeyframeStrategy,
                labelled: Sequence[LabelledSample]) -> CellInputs:
    """What every fold of a cell trains and predicts on; benchmark jobs, nested tuning and t-SNE
    all build it here, so they see the same inputs."""
    by_id = {item.sample.sample_id: item.sample for item in labelled}
    train_keyframes = _select_keyframes(strategy, labelled, is_test=False)
    test_keyframes = _select_keyframes(strategy, labelled, is_test=True)
    cache = InputCache(cache_dir() / "inputs")
    return CellInputs(
        train_keyframes, test_keyframes,
        train=_inputs(model, by_id, train_keyframes, "rising", cache),
        test=_inputs(model, by_id, test_keyframes, "rising", cache),
        falling=(_inputs(model, by_id, train_keyframes, "falling", cache)
                 if model.two_branch else None))


def expected_config_hash(job: Job) -> str:
    """The config hash ``job``'s record will carry, known without training (the data is loaded,
    once per process: rows excluded and the sample list used are part of the config)."""
    return config_hash(job_config(job, get_protocol(job.cell.protocol), MODELS.get(job.cell.model),
                                  make_strategy(job.cell.keyframes)))


def completed_record(job: Job, store: ResultStore) -> JobResult | None:
    """The stored record of ``job`` if there is one made with the same config, else None."""
    if not store.has(job.cell):
        return None
    record = store.load(job.cell)
    return record if record.config_hash == expected_config_hash(job) else None


def run_job(job: Job, on_fold: FoldCallback | None = None, device: str = "cpu") -> JobResult:
    """Run every fold of ``job`` and return its record (not yet stored)."""
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    protocol = get_protocol(job.cell.protocol)
    model = MODELS.get(job.cell.model)
    strategy = make_strategy(job.cell.keyframes)

    samples = protocol_samples(protocol, job.source)
    labelled = protocol.label_samples(samples)
    if not labelled:
        raise DataError(f"protocol {protocol.id}: no sample carries one of its labels "
                        f"({', '.join(protocol.classes)}); check the emotion column")
    folds = make_folds(protocol, labelled)
    if job.fold_budgets is not None and len(job.fold_budgets) != len(folds):
        raise DataError(f"{job.cell.cell_id}: {len(job.fold_budgets)} tuned budgets for "
                        f"{len(folds)} folds; the data changed since tuning, tune again")
    by_id = {item.sample.sample_id: item.sample for item in labelled}
    label_of = {item.sample.sample_id: item.label for item in labelled}
    inputs = cell_inputs(model, strategy, labelled)

    rows, losses, chosen_epochs = [], [], []
    for fold in folds:
        outcome = _run_fold(job, model, protocol, fold, inputs, label_of, device)
        predictions = outcome.predictions
        losses.append(outcome.epoch_losses)
        chosen_epochs.append(outcome.chosen_epoch)
        for sid, predicted in zip(fold.test_ids, predictions):
            rows.append({"sample_id": sid, "subject": by_id[sid].subject_key,
                         "fold": fold.index, "y_true": label_of[sid], "y_pred": int(predicted)})
        if on_fold:
            on_fold(fold.index + 1, len(folds))

    predictions = pd.DataFrame(rows)
    predictions["true_label"] = [protocol.classes[i] for i in predictions["y_true"]]
    predictions["pred_label"] = [protocol.classes[i] for i in predictions["y_pred"]]
    config = job_config(job, protocol, model, strategy)
    return JobResult(
        cell=job.cell,
        protocol_version=protocol.version,
        protocol_hash=protocol.hash,
        config=config,
        config_hash=config_hash(config),
        selection_mode=job.cell.selection,
        metrics=pooled_metrics(predictions["y_true"], predictions["y_pred"], protocol.classes),
        param_count=count_parameters(model.build(len(protocol.classes))),
        flops=count_flops(model, len(protocol.classes),
                          [INPUTS.get(kind).channels for kind in model.inputs]),
        n_samples=len(predictions),
        n_folds=len(folds),
        predictions=predictions,
        keyframes_used=_keyframes_table(labelled, inputs.train_keyframes, inputs.test_keyframes),
        curves={"train_loss_mean": _mean_curve(losses),
                **({"oracle_epochs": chosen_epochs} if job.cell.selection == ORACLE else {})},
        git_commit=git_commit(),
        package_versions=package_versions(),
        wall_time_s=round(time.perf_counter() - started, 3),
        started_at=started_at,
        data_source=config["data"],
    )


def _run_fold(job: Job, model: ModelSpec, protocol: Protocol, fold: Fold, inputs: CellInputs,
              label_of: Mapping[str, int], device: str) -> FoldOutcome:
    """Train on the fold's training side; the test side enters as inputs only, never labels,
    except in the oracle selection mode, whose whole point is to measure that leak."""
    y_train = np.array([label_of[sid] for sid in fold.train_ids])
    oracle_labels = (np.array([label_of[sid] for sid in fold.test_ids])
                     if job.cell.selection == ORACLE else None)
    return train_and_predict(
        model, len(protocol.classes), stack(inputs.train, fold.train_ids), y_train,
        stack(inputs.test, fold.test_ids), seed=job.cell.seed * 1000 + fold.index,
        x_train_falling=stack(inputs.falling, fold.train_ids) if inputs.falling else None,
        budget=job.budget_for(model, fold.index), oracle_labels=oracle_labels, device=device)


def _mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """Per epoch, the mean over the folds that trained that long (tuned folds differ in epochs)."""
    longest = max(len(curve) for curve in curves)
    padded = np.full((len(curves), longest), np.nan)
    for row, curve in zip(padded, curves):
        row[:len(curve)] = curve
    return np.nanmean(padded, axis=0).round(6).tolist()


def _keyframes_table(labelled: Sequence[LabelledSample], train: Mapping[str, KeyFrames],
                     test: Mapping[str, KeyFrames]) -> pd.DataFrame:
    """Per sample: annotated key frames (a missing apex left missing), the rule that filled a
    missing apex (None: annotated), and the key frames used on the train and test side."""
    rows = []
    for item in labelled:
        sid, annotated = item.sample.sample_id, item.sample.annotated
        rows.append({
            "sample_id": sid,
            "annotated_onset": annotated.onset, "annotated_apex": annotated.apex,
            "annotated_offset": annotated.offset, "apex_filled_by": fill_rule(item.sample),
            "train_onset": train[sid].onset, "train_apex": train[sid].apex,
            "train_offset": train[sid].offset,
            "test_onset": test[sid].onset, "test_apex": test[sid].apex,
            "test_offset": test[sid].offset,
        })
    table = pd.DataFrame(rows)
    frame_columns = [c for c in table.columns if c not in ("sample_id", "apex_filled_by")]
    return table.astype({c: "Int64" for c in frame_columns} | {"apex_filled_by": "string"})
