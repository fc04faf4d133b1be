"""Pooled accuracy / UF1 / UAR / per-class scores / confusion matrix, the MEGC2019 way.

Metrics are computed once, from the predictions of every test sample POOLED over all folds of a job,
never as an average of per-fold scores: LOSO folds are tiny and most lack some classes, so per-fold
averages are biased and undefined for absent classes (MEGC2019; Forman & Scholz 2010).

Every protocol class is counted. scikit-learn is always given ``labels=range(len(classes))`` and
``zero_division=0``, so a class absent from both ground truth and predictions scores F1 = 0 and recall
= 0 and still counts in the mean. This is the official MEGC2019 rule (UF1 = mean over all C classes);
the widely copied STSTNet/HTNet evaluation code instead skips such a class and averages over fewer
classes, which inflates the score. Without ``labels=``, scikit-learn would infer the classes from the
data and silently do the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    recall_score,
)


@dataclass(frozen=True)
class Metrics:
    """Pooled scores of one job; fractions in [0, 1].

    ``per_class`` maps each class name to ``{"precision", "recall", "f1", "support"}``;
    ``confusion[i][j]`` counts samples of true class ``classes[i]`` predicted as ``classes[j]``.
    """

    accuracy: float
    uf1: float
    uar: float
    per_class: dict[str, dict[str, float | int]]
    confusion: list[list[int]]
    classes: list[str]
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "uf1": self.uf1,
            "uar": self.uar,
            "per_class": {name: dict(scores) for name, scores in self.per_class.items()},
            "confusion": [list(row) for row in self.confusion],
            "classes": list(self.classes),
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metrics:
        return cls(
            accuracy=float(data["accuracy"]),
            uf1=float(data["uf1"]),
            uar=float(data["uar"]),
            per_class={
                str(name): {
                    "precision": float(scores["precision"]),
                    "recall": float(scores["recall"]),
                    "f1": float(scores["f1"]),
                    "support": int(scores["support"]),
                }
                for name, scores in data["per_class"].items()
            },
            confusion=[[int(count) for count in row] for row in data["confusion"]],
            classes=[str(name) for name in data["classes"]],
            n=int(data["n"]),
        )


def _class_indices(values: Sequence[int], name: str, num_classes: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of class indices, got shape {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    out_of_range = array[(array < 0) | (array >= num_classes)] if array.size else array
    if out_of_range.size:
        raise ValueError(
            f"{name} holds label {int(out_of_range[0])}, outside 0..{num_classes - 1} "
            f"for {num_classes} protocol classes"
        )
    return array.astype(np.int64)


def _validated(
    y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    class_names = [str(name) for name in classes]
    if not class_names:
        raise ValueError("classes is empty; pass the protocol's ordered class names")
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"classes has duplicate names: {class_names}")
    true = _class_indices(y_true, "y_true", len(class_names))
    pred = _class_indices(y_pred, "y_pred", len(class_names))
    if true.size != pred.size:
        raise ValueError(f"y_true has {true.size} labels but y_pred has {pred.size}; they must pair up")
    if true.size == 0:
        raise ValueError("no predictions to score: y_true and y_pred are empty")
    return true, pred, class_names


def pooled_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> Metrics:
    """Score predictions pooled over all folds; every one of ``classes`` counts (MEGC2019).

    ``y_true`` / ``y_pred`` are class indices into ``classes``, one pair per test sample of every
    fold (concatenate the folds first; do not average per-fold scores). A class that never occurs in
    ``y_true`` or ``y_pred`` gets F1 = recall = 0 and still counts in UF1 and UAR (see the module
    docstring for why). Raises ValueError for unequal lengths, labels outside the class range, or no
    samples.
    """
    true, pred, class_names = _validated(y_true, y_pred, classes)
    labels = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        true, pred, labels=labels, average=None, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    return Metrics(
        accuracy=float(accuracy_score(true, pred)),
        uf1=float(f1_score(true, pred, labels=labels, average="macro", zero_division=0)),
        uar=float(recall_score(true, pred, labels=labels, average="macro", zero_division=0)),
        per_class=per_class,
        confusion=confusion_matrix(true, pred, labels=labels).tolist(),
        classes=class_names,
        n=int(true.size),
    )
