"""Keyframe strategies: which onset / apex / offset frames a sample's inputs are built from.

Every strategy has the same interface and returns a `KeyFrames` record with an apex. ``applies_to``
says whether a strategy changes training samples only (GAMDSS's reference behaviour) or test
samples too; wherever it does not apply, the annotated frames are used. A missing apex is filled by
the dataset's rule (`mer_bench.missing_apex`) for every strategy and on both sides, so strategies
differ only in what they do beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Protocol, runtime_checkable

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.missing_apex import with_apex
from mer_bench.registry import Registry

AppliesTo = Literal["train", "all"]


@runtime_checkable
class KeyframeStrategy(Protocol):
    name: str
    applies_to: AppliesTo

    def select(self, sample: Sample) -> KeyFrames:
        """The key frames to use for ``sample`` (frame numbers present in the clip); a missing
        apex filled by `mer_bench.missing_apex.with_apex` or searched from that filled one."""

    def params(self) -> Mapping[str, object]:
        """Parameters that change the selection; part of cache keys and config hashes."""


@dataclass(frozen=True)
class AnnotatedKeyframes:
    """The human annotation, unchanged but for a missing apex, filled by the dataset's rule."""

    name: str = "annotated"
    applies_to: AppliesTo = "all"

    def select(self, sample: Sample) -> KeyFrames:
        return with_apex(sample)

    def params(self) -> Mapping[str, object]:
        return {}


def keyframes_for(strategy: KeyframeStrategy, sample: Sample, *, is_test: bool) -> KeyFrames:
    """Key frames for a sample on the train or the test side of a fold."""
    if is_test and strategy.applies_to == "train":
        return with_apex(sample)
    return strategy.select(sample)


KEYFRAME_STRATEGIES: Registry[type] = Registry(
    "keyframe strategy", entry_point_group="mer_bench.keyframe_strategies"
)
KEYFRAME_STRATEGIES.register("annotated", AnnotatedKeyframes)

