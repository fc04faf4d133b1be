"""The twins' difficulty, pinned at small scale.

The twins are calibrated at full size with STSTNet (results/calibration.md), which takes most of an
hour. This test asks a cheaper question of a small MEGC2019 composite: how well a linear probe on
STSTNet's own inputs (the onset-to-apex flow) tells the three classes apart across subjects. The
probe's score follows the difficulty knobs: with no confusable clips (the twins before calibration)
it scores far above the band below, with twice the calibrated share far below it. A generator
change that moves the score out of the band has changed how hard the twins are: calibrate again
(see mer_bench/synth/difficulty.py) and then move the band.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mer_bench.datasource import DataSource
from mer_bench.execute.cell import forget_cells, load_cell, stack
from mer_bench.metrics import pooled_metrics
from mer_bench.store import Cell, data_key

SCALE = 0.3
# The probe scores UF1 0.687 on the calibrated twins; 0.850 with no confusable clips in the three
# MEGC2019 twins, 0.528 with 0.3 of them in each (about twice the calibrated shares).
BAND = (0.61, 0.77)


def probe_uf1(scale: float) -> float:
    """UF1 of a logistic-regression probe on the composite's STSTNet inputs, 5 subject folds."""
    source = DataSource(None, scale, 0)
    cell = Cell("megc2019-3class", "ststnet", "annotated", 0, data=data_key(source))
    data = load_cell(cell, source)
    ids = [item.sample.sample_id for item in data.labelled]
    x = stack(data.inputs.train, ids)[0].reshape(len(ids), -1)
    y = np.array([data.label_of[sid] for sid in ids])
    groups = [data.subject_of[sid] for sid in ids]
    predicted = np.empty_like(y)
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        probe.fit(x[train], y[train])
        predicted[test] = probe.predict(x[test])
    return pooled_metrics(y, predicted, data.protocol.classes).uf1


def test_the_composite_twin_is_as_hard_as_calibrated():
    uf1 = probe_uf1(SCALE)
    low, high = BAND
    assert low <= uf1 <= high, (
        f"a linear probe scores UF1 {uf1:.3f} on the MEGC2019 twin at scale {SCALE}, outside "
        f"{BAND}: the generators' difficulty has moved; calibrate again")


@pytest.mark.parametrize("share, outside", [(0.0, "above"), (0.3, "below")])
def test_the_band_tells_other_difficulties_apart(monkeypatch, tmp_path, share, outside):
    """The band is narrow enough to catch a change: the twins with no confusable clips, and with
    about twice the calibrated shares, both fall outside it."""
    from mer_bench.synth import casme2, samm, smic

    monkeypatch.setenv("MER_BENCH_CACHE", str(tmp_path))  # twins of another difficulty

    for module, name in ((casme2, "DIFFICULTY"), (samm, "DIFFICULTY"), (smic, "HS_DIFFICULTY")):
        monkeypatch.setattr(module, name,
                            dataclasses.replace(getattr(module, name), confusable_share=share))
    forget_cells()
    try:
        uf1 = probe_uf1(SCALE)
    finally:
        forget_cells()
    assert (uf1 > BAND[1]) if outside == "above" else (uf1 < BAND[0]), uf1
