"""Cutting out what one fold's study may read: its training side, split into inner folds by
subject (`objective.InnerData`).

The cell is loaded by `execute.cell.load_cell`, as for its benchmark jobs (same samples, labels,
folds, key frames per side and cached inputs), so the inner problem is the outer one in miniature:
inner training subjects get the training-side key frames, inner validation subjects the test-side
ones.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mer_bench.errors import ConfigError
from mer_bench.execute.cell import CellData, load_cell, stack
from mer_bench.protocols import Fold
from mer_bench.tune.objective import InnerData

__all__ = ["CellData", "check_inner_split", "inner_data", "load_cell", "subject_partition",
           "training_subjects"]


def training_subjects(data: CellData, fold: Fold) -> list[str]:
    subject_of = data.subject_of
    return sorted({subject_of[sid] for sid in fold.train_ids})


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
    subject_of, label_of = data.subject_of, data.label_of
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
        labels=np.array([label_of[sid] for sid in ids], dtype=np.int64),
        inner_fold=np.array([partition[subject_of[sid]] for sid in ids], dtype=np.int64),
        validation_subjects=groups,
    )
