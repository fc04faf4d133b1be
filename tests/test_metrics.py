"""Pooled MEGC2019 metrics, pinned by a hand-worked three-fold example."""

from __future__ import annotations

import pytest
from sklearn.metrics import f1_score

from mer_bench.metrics import Metrics, pooled_metrics

CLASSES = ["negative", "positive", "surprise"]  # indices 0, 1, 2

# Three LOSO folds (one test subject each). Class 2 is absent from the ground truth of folds A and B;
# fold A and fold B never predict class 2, fold C never predicts class 1.
FOLDS = {
    "A": ([0, 0, 0, 1], [0, 0, 1, 1]),
    "B": ([0, 1, 1], [0, 1, 0]),
    "C": ([2, 2, 0, 1], [2, 0, 0, 2]),
}
Y_TRUE = [label for true, _ in FOLDS.values() for label in true]
Y_PRED = [label for _, pred in FOLDS.values() for label in pred]

# Pooled over the 11 samples, by hand:
#   class 0: true at A0 A1 A2 B0 C2 (5); predicted 0 at A0 A1 B0 C2 -> TP 4, FN 1 (A2 -> 1);
#            also predicted 0 at B2 (true 1) and C1 (true 2)           -> FP 2
#   class 1: true at A3 B1 B2 C3 (4); predicted 1 at A3 B1               -> TP 2, FN 2 (B2 -> 0, C3 -> 2);
#            also predicted 1 at A2 (true 0)                             -> FP 1
#   class 2: true at C0 C1 (2); predicted 2 at C0                        -> TP 1, FN 1 (C1 -> 0);
#            also predicted 2 at C3 (true 1)                             -> FP 1
# F1_c = 2TP / (2TP + FP + FN):  class 0: 8/11, class 1: 4/7, class 2: 2/4
# UF1 = (8/11 + 4/7 + 1/2) / 3 = (112 + 88 + 77) / 154 / 3 = 277/462 ~ 0.59957
# UAR = (4/5 + 2/4 + 1/2) / 3 = 3/5
# accuracy = (4 + 2 + 1) / 11 = 7/11
EXPECTED_UF1 = 277 / 462
EXPECTED_UAR = 3 / 5
EXPECTED_ACCURACY = 7 / 11
EXPECTED_CONFUSION = [  # rows = true class, columns = predicted class
    [4, 1, 0],
    [1, 2, 1],
    [1, 0, 1],
]

# The mean of per-fold macro-F1 (labels fixed, zero_division=0), by hand:
#   A: F1 = (4/5, 2/3, 0)   -> 22/45
#   B: F1 = (2/3, 2/3, 0)   -> 4/9
#   C: F1 = (2/3, 0, 1/2)   -> 7/18
#   mean = (44 + 40 + 35) / 90 / 3 = 119/270 ~ 0.44074, not the pooled 0.59957.
PER_FOLD_MEAN_F1 = 119 / 270


def test_pooled_uf1_uar_accuracy_match_the_hand_worked_example() -> None:
    metrics = pooled_metrics(Y_TRUE, Y_PRED, CLASSES)
    assert metrics.uf1 == pytest.approx(EXPECTED_UF1, abs=1e-12)
    assert metrics.uar == pytest.approx(EXPECTED_UAR, abs=1e-12)
    assert metrics.accuracy == pytest.approx(EXPECTED_ACCURACY, abs=1e-12)
    assert metrics.confusion == EXPECTED_CONFUSION
    assert metrics.n == 11
    assert metrics.classes == CLASSES


def test_per_class_scores_match_the_hand_worked_counts() -> None:
    per_class = pooled_metrics(Y_TRUE, Y_PRED, CLASSES).per_class
    expected = {  # precision = TP / (TP + FP), recall = TP / (TP + FN)
        "negative": (4 / 6, 4 / 5, 8 / 11, 5),
        "positive": (2 / 3, 2 / 4, 4 / 7, 4),
        "surprise": (1 / 2, 1 / 2, 2 / 4, 2),
    }
    for name, (precision, recall, f1, support) in expected.items():
        assert per_class[name]["precision"] == pytest.approx(precision, abs=1e-12)
        assert per_class[name]["recall"] == pytest.approx(recall, abs=1e-12)
        assert per_class[name]["f1"] == pytest.approx(f1, abs=1e-12)
        assert per_class[name]["support"] == support


def test_averaging_per_fold_macro_f1_gives_a_different_number_than_pooling() -> None:
    labels = list(range(len(CLASSES)))
    per_fold = [
        f1_score(true, pred, labels=labels, average="macro", zero_division=0) for true, pred in FOLDS.values()
    ]
    per_fold_mean = sum(per_fold) / len(per_fold)
    assert per_fold_mean == pytest.approx(PER_FOLD_MEAN_F1, abs=1e-12)
    assert pooled_metrics(Y_TRUE, Y_PRED, CLASSES).uf1 == pytest.approx(EXPECTED_UF1, abs=1e-12)
    assert abs(per_fold_mean - EXPECTED_UF1) > 0.1


def test_a_class_absent_everywhere_counts_as_f1_zero_in_the_mean() -> None:
    metrics = pooled_metrics(Y_TRUE, Y_PRED, CLASSES + ["others"])
    assert metrics.per_class["others"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert metrics.uf1 == pytest.approx(EXPECTED_UF1 * 3 / 4, abs=1e-12)
    assert metrics.uar == pytest.approx(EXPECTED_UAR * 3 / 4, abs=1e-12)
    assert metrics.accuracy == pytest.approx(EXPECTED_ACCURACY, abs=1e-12)
    assert metrics.confusion[3] == [0, 0, 0, 0]


def test_metrics_round_trip_through_dict() -> None:
    metrics = pooled_metrics(Y_TRUE, Y_PRED, CLASSES)
    assert Metrics.from_dict(metrics.to_dict()) == metrics


@pytest.mark.parametrize(
    ("y_true", "y_pred", "classes", "message"),
    [
        ([0, 1], [0], CLASSES, "2 labels but y_pred has 1"),
        ([0, 3], [0, 1], CLASSES, "y_true holds label 3, outside 0..2"),
        ([0, 1], [0, -1], CLASSES, "y_pred holds label -1"),
        ([0.0, 1.0], [0, 1], CLASSES, "integer class indices"),
        ([], [], CLASSES, "empty"),
        ([0], [0], [], "classes is empty"),
        ([0], [0], ["a", "a"], "duplicate"),
    ],
)
def test_bad_inputs_raise_value_error_saying_what_is_wrong(y_true, y_pred, classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        pooled_metrics(y_true, y_pred, classes)
