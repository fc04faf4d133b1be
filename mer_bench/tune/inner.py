"""Loading a cell, and cutting out what one fold's study may read: its training side, split into
inner folds by subject (`objective.InnerData`).

Loading follows `execute.job.run_job` step for step (same samples, labels, folds, key frames per
side and cached inputs), so the inner problem is the outer one in miniature: inner training
subjects get the training-side key frames, inner validation subjects the test-side ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from mer_bench.datasource import DataSource, protocol_samples
from mer_bench.errors import ConfigError, DataError
from mer_bench.execute.job import CellInputs, cell_inputs, make_strategy, stack
from mer_bench.models import MODELS, ModelSpec
from mer_bench.protocols import Fold, Protocol, get_protocol, make_folds
from mer_bench.store import Cell
from mer_bench.tune.objective import InnerData


@dataclass(frozen=True)
class CellData:
    """One cell's samples, labels, folds and model inputs, loaded once for all its studies."""

    cell: Cell
    protocol: Protocol
    model: ModelSpec
    folds: tuple[Fold, ...]
    subject_of: Mapping[str, str]
    label_of: Mapping[str, int]
    inputs: CellInputs


def load_cell_data(cell: Cell, source: DataSource) -> CellData:
    protocol = get_protocol(cell.protocol)
    model = MODELS.get(cell.model)
    strategy = make_strategy(cell.keyframes)
    labelled = protocol.label_samples(protocol_samples(protocol, source))
    if not labelled:
        raise DataError(f"protocol {protocol.id}: no sample carries one of its labels "
                        f"({', '.join(protocol.classes)}); check the emotion column")
    return CellData(
        cell=cell, protocol=protocol, model=model,
        folds=tuple(make_folds(protocol, labelled)),
        subject_of={item.sample.sample_id: item.sample.subject_key for item in labelled},
        label_of={item.sample.sample_id: item.label for item in labelled},
        inputs=cell_inputs(model, strategy, labelled),
    )


def training_subjects(data: CellData, fold: Fold) -> list[str]:
    return sorted({data.subject_of[sid] for sid in fold.train_ids})


def check_inner_split(data: CellData, inner_folds: int) -> None:
    """A one-line error unless every fold's training side has a subject per inner fold."""
    counts = [(len(training_subjects(data, fold)), fold) for fold in data.folds]
    fewest, fold = min(counts, key=lambda pair: pair[0])
    if fewest < inner_folds:
        raise ConfigError(
            f"{data.protocol.id}: fold {fold.index} (test subject {fold.test_subject}) has "
            f"{fewest} subject(s) on its training side, too few for {inner_folds} subject-grouped "
            "inner folds; use more data, fewer --inner-folds (at least 2), or 'mer-bench run'")


def subject_partition(subjects: Sequence[str], n_folds: int, seed: int) -> dict[str, int]:
    """Subject -> inner fold: the sorted subjects, shuffled with ``seed``, dealt round-robin.

    It reads subject names only, never labels, so no label (of any subject) can steer the split.
    """
    ordered = sorted(subjects)
    order = np.random.default_rng(seed).permutation(len(ordered))
    return {ordered[i]: position % n_folds for position, i in enumerate(order)}


def inner_data(data: CellData, fold: Fold, inner_folds: int, seed: int) -> InnerData:
    """Fold ``fold``'s training side, split into ``inner_folds`` subject groups."""
    ids = list(fold.train_ids)
    partition = subject_partition(training_subjects(data, fold), inner_folds, seed)
    assert set(fold.test_ids).isdisjoint(ids), "a fold's test samples reached its study"
    groups = tuple(tuple(sorted(s for s, k in partition.items() if k == j))
                   for j in range(inner_folds))
    return InnerData(
        fold_index=fold.index,
        model=data.model.name,
        classes=tuple(data.protocol.classes),
        x_fit=stack(data.inputs.train, ids),
        x_falling=stack(data.inputs.falling, ids) if data.inputs.falling else None,
        x_validate=stack(data.inputs.test, ids),
        labels=np.array([data.label_of[sid] for sid in ids], dtype=np.int64),
        inner_fold=np.array([partition[data.subject_of[sid]] for sid in ids], dtype=np.int64),
        validation_subjects=groups,
    )
