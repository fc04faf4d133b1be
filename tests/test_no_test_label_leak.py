"""The default selection never reads the test subject's labels while training (poisoning test)."""

from __future__ import annotations

import dataclasses

import pytest

from mer_bench import datasource
from mer_bench.datasource import resolve_data_source
from mer_bench.execute import Job, run_job
from mer_bench.protocols import get_protocol
from mer_bench.store import Cell, data_key


@pytest.mark.parametrize("keyframes", ["annotated", "gamdss"])
def test_poisoned_test_subject_labels_leave_its_predictions_unchanged(
        keyframes, tiny_twin_root, monkeypatch):
    source = resolve_data_source(tiny_twin_root)
    protocol = get_protocol("casme2-5class")
    job = Job(Cell("casme2-5class", "ststnet", keyframes, 0, data=data_key(source)), source)
    clean = run_job(job)

    victim = clean.predictions["subject"].iloc[0]
    real_load = datasource.load_samples

    def poisoned_load(dataset, src):
        samples = real_load(dataset, src)
        def poison(s):
            if s.subject_key != victim or protocol.label_of(s) is None:
                return s
            wrong = protocol.classes[(protocol.label_of(s) + 1) % len(protocol.classes)]
            return dataclasses.replace(s, emotion=wrong)
        return [poison(s) for s in samples]

    monkeypatch.setattr("mer_bench.datasource.load_samples", poisoned_load)
    poisoned = run_job(job)

    def victim_predictions(result):
        rows = result.predictions[result.predictions["subject"] == victim]
        return rows.set_index("sample_id")["y_pred"].to_dict(), rows["y_true"].tolist()

    clean_pred, clean_true = victim_predictions(clean)
    poisoned_pred, poisoned_true = victim_predictions(poisoned)
    assert clean_true != poisoned_true, "the poison must reach the test labels"
    assert poisoned_pred == clean_pred
