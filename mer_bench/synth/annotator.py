"""Annotator model: how a human coder's onset / apex / offset differ from the true key frames."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mer_bench.data.sample import KeyFrames


@dataclass(frozen=True)
class AnnotatorModel:
    """Per key frame: annotated = round(true + bias + N(0, sd)) frames; negative bias = early."""

    onset_bias: float
    apex_bias: float
    offset_bias: float
    onset_sd: float
    apex_sd: float
    offset_sd: float

    def annotate(
        self, truth: KeyFrames, first: int, last: int, rng: np.random.Generator
    ) -> KeyFrames:
        """Annotated key frames inside first..last with onset < apex < offset, as coders do."""
        if truth.apex is None or last - first < 2:
            raise ValueError(
                f"need a true apex and a clip of at least 3 frames, got {truth} in {first}..{last}"
            )
        onset, apex, offset = (
            round(true + bias + rng.normal(0.0, sd))
            for true, bias, sd in (
                (truth.onset, self.onset_bias, self.onset_sd),
                (truth.apex, self.apex_bias, self.apex_sd),
                (truth.offset, self.offset_bias, self.offset_sd),
            )
        )
        onset = min(max(onset, first), last - 2)
        apex = min(max(apex, onset + 1), last - 1)
        offset = min(max(offset, apex + 1), last)
        return KeyFrames(onset=int(onset), apex=int(apex), offset=int(offset))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
