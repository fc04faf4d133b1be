"""One benchmark job: a cell (protocol, model, keyframe strategy, seed) run over all its folds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from mer_bench.data.sample import KeyFrames
from mer_bench.data.spec import DATASETS
from mer_bench.datasource import DataSource, data_provenance
from mer_bench.errors import DataError
from mer_bench.execute.cell import CellData, FoldRun, load_cell, make_strategy, train_fold
from mer_bench.inputs.face_crop import DEFAULT_SPEC
from mer_bench.inputs.face_detect import DEFAULT_DETECTOR
from mer_bench.inputs.representations import INPUTS
from mer_bench.keyframes import KeyframeStrategy
from mer_bench.metrics import pooled_metrics
from mer_bench.missing_apex import apex_fill_config, fill_rule
from mer_bench.models import MODELS, ModelSpec, TrainingBudget, count_flops, spec_parameters
from mer_bench.protocols import LabelledSample, Protocol, get_protocol
from mer_bench.store import (Cell, JobResult, ResultStore, config_hash, data_key, git_commit,
                             package_versions)
from mer_bench.train import ORACLE

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
    """Run every fold of ``job`` in this process, in order, and return its record (not stored).

    Executors run the same folds through `execute.tasks` (spread over workers, each fold kept
    as it ends); both assemble the record with `assemble_record`, so the records are the same.
    """
    data = load_cell(job.cell, job.source)
    check_fold_budgets(job, len(data.folds))
    runs = []
    for fold in data.folds:
        run, _, _ = train_fold(data, fold, budget=job.budget_for(data.model, fold.index),
                               device=device, prepare_s=data.prepare_s if not runs else 0.0)
        runs.append(run)
        if on_fold:
            on_fold(fold.index + 1, len(data.folds))
    return assemble_record(job, data, runs)


def check_fold_budgets(job: Job, n_folds: int) -> None:
    if job.fold_budgets is not None and len(job.fold_budgets) != n_folds:
        raise DataError(f"{job.cell.cell_id}: {len(job.fold_budgets)} tuned budgets for "
                        f"{n_folds} folds; the data changed since tuning, tune again")


def assemble_record(job: Job, data: CellData, runs: Sequence[FoldRun]) -> JobResult:
    """The cell's record from its folds' runs (any order, any workers): predictions pooled over
    the folds, in fold order."""
    protocol, model = data.protocol, data.model
    runs = sorted(runs, key=lambda run: run.index)
    if [run.index for run in runs] != [fold.index for fold in data.folds]:
        raise DataError(f"{job.cell.cell_id}: folds {[run.index for run in runs]} were trained, "
                        f"the data has {len(data.folds)}; run the cell again")
    by_id, label_of = data.by_id, data.label_of
    rows = [{"sample_id": sid, "subject": by_id[sid].subject_key, "fold": run.index,
             "y_true": label_of[sid], "y_pred": predicted}
            for run in runs for sid, predicted in zip(run.test_ids, run.predictions)]
    predictions = pd.DataFrame(rows)
    predictions["true_label"] = [protocol.classes[i] for i in predictions["y_true"]]
    predictions["pred_label"] = [protocol.classes[i] for i in predictions["y_pred"]]
    config = job_config(job, protocol, model, make_strategy(job.cell.keyframes))
    return JobResult(
        cell=job.cell,
        protocol_version=protocol.version,
        protocol_hash=protocol.hash,
        config=config,
        config_hash=config_hash(config),
        selection_mode=job.cell.selection,
        metrics=pooled_metrics(predictions["y_true"], predictions["y_pred"], protocol.classes),
        param_count=spec_parameters(model, len(protocol.classes)),
        flops=count_flops(model, len(protocol.classes),
                          [INPUTS.get(kind).channels for kind in model.inputs]),
        n_samples=len(predictions),
        n_folds=len(runs),
        predictions=predictions,
        keyframes_used=_keyframes_table(data.labelled, data.inputs.train_keyframes,
                                        data.inputs.test_keyframes),
        curves={"train_loss_mean": _mean_curve([run.epoch_losses for run in runs]),
                **({"oracle_epochs": [run.chosen_epoch for run in runs]}
                   if job.cell.selection == ORACLE else {})},
        git_commit=git_commit(),
        package_versions=package_versions(),
        # the cell's cost in worker time: building its inputs, then every fold
        wall_time_s=round(sum(run.prepare_s + run.wall_s for run in runs), 3),
        started_at=min(run.started_at for run in runs),
        data_source=config["data"],
        fold_wall_s=[run.wall_s for run in runs],
        device=" + ".join(sorted({run.device for run in runs})),
    )


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
