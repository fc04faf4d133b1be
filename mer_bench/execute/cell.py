"""A cell's data and its folds: the one place that loads what a cell trains on and trains a fold.

Benchmark jobs (any executor), nested tuning and t-SNE all come through here, so they see the same
samples, labels, folds, key frames per side and model inputs, and fold k of a cell with seed s
always trains with seed ``fold_seed(s, k) = s * 1000 + k``.

Inputs are the costly part (frames read, optical flow computed): they are kept on disk by the
input cache (atomic, idempotent writes, so workers building the same entry at once are safe) and
in memory here, per process, for the last few cells, so that a worker running several folds of a
cell builds them once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.datasource import DataSource, cache_dir, protocol_samples
from mer_bench.device import describe_device
from mer_bench.errors import DataError
from mer_bench.inputs import InputCache
from mer_bench.inputs.representations import Branch, build_input
from mer_bench.keyframes import KEYFRAME_STRATEGIES, KeyframeStrategy, keyframes_for
from mer_bench.models import MODELS, ModelSpec, TrainingBudget
from mer_bench.protocols import Fold, LabelledSample, Protocol, get_protocol, make_folds
from mer_bench.store import Cell, data_key
from mer_bench.train import ORACLE, FoldOutcome, fold_seed, train_and_predict

Inputs = dict[str, list[np.ndarray]]
MEMO_CELLS = 2  # cells whose inputs a process keeps in memory


def make_strategy(spec: str) -> KeyframeStrategy:
    """The strategy ``spec`` names, options applied (``gamdss[distance=flow]``)."""
    return KEYFRAME_STRATEGIES.create(spec)


@dataclass(frozen=True)
class CellInputs:
    """A cell's key frames per side and the model inputs built from them (input cache shared)."""

    train_keyframes: dict[str, KeyFrames]
    test_keyframes: dict[str, KeyFrames]
    train: Inputs  # training-side key frames, rising branch
    test: Inputs  # test-side key frames, rising branch
    falling: Inputs | None  # training-side key frames, falling branch (two-branch models only)


@dataclass(frozen=True)
class CellData:
    """One cell's samples, labels, folds and model inputs, loaded once for all its folds."""

    cell: Cell
    protocol: Protocol
    model: ModelSpec
    labelled: tuple[LabelledSample, ...]
    folds: tuple[Fold, ...]
    inputs: CellInputs
    prepare_s: float  # seconds this process spent building ``inputs`` (0 when remembered)

    @cached_property
    def by_id(self) -> dict[str, Sample]:
        return {item.sample.sample_id: item.sample for item in self.labelled}

    @cached_property
    def label_of(self) -> dict[str, int]:
        return {item.sample.sample_id: item.label for item in self.labelled}

    @cached_property
    def subject_of(self) -> dict[str, str]:
        return {item.sample.sample_id: item.sample.subject_key for item in self.labelled}


_MEMO: OrderedDict[tuple, CellInputs] = OrderedDict()


def load_cell(cell: Cell, source: DataSource) -> CellData:
    """Everything the folds of ``cell`` train and predict on."""
    protocol = get_protocol(cell.protocol)
    model = MODELS.get(cell.model)
    labelled = labelled_samples(protocol, source)
    started = time.perf_counter()
    inputs = _remembered_inputs(model, cell.keyframes, source, labelled)
    return CellData(cell=cell, protocol=protocol, model=model, labelled=labelled,
                    folds=tuple(make_folds(protocol, labelled)), inputs=inputs,
                    prepare_s=round(time.perf_counter() - started, 3))


def count_folds(cell: Cell, source: DataSource) -> int:
    """How many folds ``cell`` has on ``source``, without building any input."""
    protocol = get_protocol(cell.protocol)
    return len(make_folds(protocol, labelled_samples(protocol, source)))


def labelled_samples(protocol: Protocol, source: DataSource) -> tuple[LabelledSample, ...]:
    """The protocol's samples on ``source`` that carry one of its labels (a one-line error if
    none does)."""
    labelled = tuple(protocol.label_samples(protocol_samples(protocol, source)))
    if not labelled:
        raise DataError(f"protocol {protocol.id}: no sample carries one of its labels "
                        f"({', '.join(protocol.classes)}); check the emotion column")
    return labelled


def _remembered_inputs(model: ModelSpec, keyframes: str, source: DataSource,
                       labelled: Sequence[LabelledSample]) -> CellInputs:
    # Inputs depend on the samples and key frames, never on labels or seeds: every seed and
    # selection mode of a cell shares them.
    key = (model.inputs, model.input_size, model.two_branch, keyframes, data_key(source),
           tuple((item.sample.sample_id, item.sample.annotated) for item in labelled))
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    inputs = cell_inputs(model, make_strategy(keyframes), labelled)
    _MEMO[key] = inputs
    while len(_MEMO) > MEMO_CELLS:
        _MEMO.popitem(last=False)
    return inputs


def forget_cells() -> None:
    """Drop the inputs this process remembers (tests that change data on disk)."""
    _MEMO.clear()


def cell_inputs(model: ModelSpec, strategy: KeyframeStrategy,
                labelled: Sequence[LabelledSample]) -> CellInputs:
    """Key frames per side and the model inputs built from them, through the input cache."""
    by_id = {item.sample.sample_id: item.sample for item in labelled}
    train_keyframes = {item.sample.sample_id: keyframes_for(strategy, item.sample, is_test=False)
                       for item in labelled}
    test_keyframes = {item.sample.sample_id: keyframes_for(strategy, item.sample, is_test=True)
                      for item in labelled}
    cache = InputCache(cache_dir() / "inputs")
    return CellInputs(
        train_keyframes, test_keyframes,
        train=_inputs(model, by_id, train_keyframes, "rising", cache),
        test=_inputs(model, by_id, test_keyframes, "rising", cache),
        falling=(_inputs(model, by_id, train_keyframes, "falling", cache)
                 if model.two_branch else None))


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
class FoldArrays:
    """One fold's training side (inputs, labels, falling branch) and test-side inputs."""

    x_train: list[np.ndarray]
    y_train: np.ndarray
    x_test: list[np.ndarray]
    x_falling: list[np.ndarray] | None
    y_test: np.ndarray  # read only by oracle selection


def fold_arrays(data: CellData, fold: Fold) -> FoldArrays:
    label_of = data.label_of
    inputs = data.inputs
    return FoldArrays(
        x_train=stack(inputs.train, fold.train_ids),
        y_train=np.array([label_of[sid] for sid in fold.train_ids]),
        x_test=stack(inputs.test, fold.test_ids),
        x_falling=stack(inputs.falling, fold.train_ids) if inputs.falling else None,
        y_test=np.array([label_of[sid] for sid in fold.test_ids]))


@dataclass(frozen=True)
class FoldRun:
    """What training one fold gave: its test predictions, loss curve and cost."""

    index: int
    test_ids: tuple[str, ...]
    predictions: tuple[int, ...]
    epoch_losses: tuple[float, ...]
    chosen_epoch: int  # 1-based epoch whose model made ``predictions``
    wall_s: float  # training and predicting, in the worker; data loading excluded
    prepare_s: float  # the worker's time building the cell's inputs, charged to its first fold
    device: str
    started_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "test_ids": list(self.test_ids),
                "predictions": list(self.predictions), "epoch_losses": list(self.epoch_losses),
                "chosen_epoch": self.chosen_epoch, "wall_s": self.wall_s,
                "prepare_s": self.prepare_s, "device": self.device,
                "started_at": self.started_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FoldRun":
        return cls(index=int(data["index"]), test_ids=tuple(data["test_ids"]),
                   predictions=tuple(int(p) for p in data["predictions"]),
                   epoch_losses=tuple(float(v) for v in data["epoch_losses"]),
                   chosen_epoch=int(data["chosen_epoch"]), wall_s=float(data["wall_s"]),
                   prepare_s=float(data["prepare_s"]), device=str(data["device"]),
                   started_at=str(data["started_at"]))


def train_fold(data: CellData, fold: Fold, *, budget: TrainingBudget | None = None,
               device: str = "cpu", keep_model: bool = False,
               prepare_s: float = 0.0) -> tuple[FoldRun, FoldOutcome, FoldArrays]:
    """Train fold ``fold`` of the cell from scratch and predict its test side.

    The test side enters as inputs only, never labels, except in the oracle selection mode,
    whose whole point is to measure that leak.
    """
    arrays = fold_arrays(data, fold)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    outcome = train_and_predict(
        data.model, len(data.protocol.classes), arrays.x_train, arrays.y_train, arrays.x_test,
        seed=fold_seed(data.cell.seed, fold.index), x_train_falling=arrays.x_falling,
        budget=budget or data.model.budget, device=device, keep_model=keep_model,
        oracle_labels=arrays.y_test if data.cell.selection == ORACLE else None)
    run = FoldRun(index=fold.index, test_ids=tuple(fold.test_ids),
                  predictions=tuple(int(p) for p in outcome.predictions),
                  epoch_losses=tuple(float(v) for v in outcome.epoch_losses),
                  chosen_epoch=outcome.chosen_epoch,
                  wall_s=round(time.perf_counter() - started, 3), prepare_s=prepare_s,
                  device=describe_device(device), started_at=started_at)
    return run, outcome, arrays
