"""How hard a twin is: the few knobs calibrated so that models score on a twin what they score on
its real dataset (``results/calibration.md``, written by ``mer-bench leaderboard`` from the records
of the calibration runs; see ``mer_bench/report/calibration.py``).

Each twin module holds one ``Difficulty`` and says there why each value is what it is. Everything
else about a twin (subjects, class counts, timing, the annotator's bias and jitter) mirrors the real
dataset and is not a knob: the annotator models in particular stay as GAMDSS reads each dataset's
coders, since the reselection question is about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from mer_bench.synth.distractors import Distractors


@dataclass(frozen=True)
class Difficulty:
    """The calibrated knobs of one twin.

    - ``amplitude_px``: range of a clip's peak skin displacement, in pixels at the 128 px render
      size (drawn uniformly per clip). Lower is subtler: the motion sinks towards the sensor noise
      and the flow estimator's error.
    - ``confusable_share``: share of clips whose face moves as another label's clips do (their
      action units are drawn from that label's table, in proportion to the labels' counts). Real
      labels are estimated emotions, and the movement does not always tell them apart (MEB trains
      a classifier to predict the emotion from the coded AUs: F1 87% on CASME II, 96% on SAMM,
      32% on CAS(ME)^3).
    - ``distractors``: blinks, slow head drift, illumination flicker and sensor noise.
    """

    amplitude_px: tuple[float, float]
    confusable_share: float
    distractors: Distractors

    def __post_init__(self) -> None:
        low, high = self.amplitude_px
        if not 0 < low <= high:
            raise ValueError(f"amplitude range must satisfy 0 < low <= high, got {self.amplitude_px}")
        if not 0 <= self.confusable_share < 1:
            raise ValueError(f"confusable share must be in [0, 1), got {self.confusable_share}")

    def moves_as(self, label: str, class_counts: Mapping[str, int],
                 rng: np.random.Generator) -> str:
        """The label whose action units a clip of ``label`` shows: its own, or with probability
        ``confusable_share`` another one, drawn in proportion to the labels' counts."""
        others = [other for other in class_counts if other != label and class_counts[other] > 0]
        # Always two draws, so that the share never shifts the stream of later draws.
        borrow, pick = rng.random(), rng.random()
        if borrow >= self.confusable_share or not others:
            return label
        weights = np.array([class_counts[other] for other in others], dtype=np.float64)
        index = int(np.searchsorted(np.cumsum(weights / weights.sum()), pick, side="right"))
        return others[min(index, len(others) - 1)]

    def as_dict(self) -> dict[str, object]:
        """The motion knobs, for a twin's manifest (which lists the distractors it was drawn with
        on their own)."""
        return {"amplitude_px": list(self.amplitude_px), "confusable_share": self.confusable_share}


def all_difficulties() -> dict[str, Difficulty]:
    """Every twin's difficulty, by twin name (SMIC's VIS and NIR share one)."""
    from mer_bench.synth import casme, casme2, casme3, casme_sq, fourdme, mmew, samm, smic

    return {"casme": casme.DIFFICULTY, "casme2": casme2.DIFFICULTY, "casme3": casme3.DIFFICULTY,
            "casme-sq": casme_sq.DIFFICULTY, "4dme": fourdme.DIFFICULTY, "mmew": mmew.DIFFICULTY,
            "samm": samm.DIFFICULTY, "smic-hs": smic.HS_DIFFICULTY,
            "smic-vis / smic-nir": smic.VIS_NIR_DIFFICULTY}
