"""GAMDSS keyframe reselection strategies: registered names, parameters, per-process results cache.

Registered names (entry point group ``mer_bench.keyframe_strategies``), each usable with no
arguments; options are keyword arguments:

- ``gamdss`` (`GamdssStrategy`): the two-stage search of the method reference (onset later, apex
  earlier within int(0.1 x span), then the offset earlier given the new apex), on floating-point
  differences, so a small darkening is a small change; ties go by the reference's visit order.
- ``gamdss-legacy`` (`GamdssLegacyStrategy`): the same search on the public code's uint8
  subtraction, apex side minus the other side, which wraps (10 - 11 = 255), to reproduce its frame
  choices exactly; it differs from ``gamdss`` only in the wrap. Pixel distance only.
- ``gamdss-symmetric`` (`GamdssSymmetricStrategy`): the apex window drawn symmetric around the
  annotated apex, as in the paper's figure.
- ``apex-search`` (`ApexSearchStrategy`): keeps the annotated onset and offset and finds the apex
  by the core's whole-clip apex finder (`mer_bench.missing_apex`), for every sample, annotated
  apex or not.

Options of the three ``gamdss*`` strategies: ``window_fraction`` (0.1), ``distance`` ("pixel" L2
or "flow": mean optical-flow magnitude, slower), ``applies_to`` ("train", the reference behaviour,
or "all"), ``unreadable`` ("raise" a DataError naming the file, or "keep" the annotated frames and
count the fallback). `gamdss.selection` documents the windows, tie orders and fallbacks. A missing
apex is filled before any search by the dataset's rule, as for every strategy and side
(`mer_bench.missing_apex`), so no option changes it.

Every strategy returns the same `KeyFrames` record from ``select``; ``reselect`` returns the full
`Reselection` (start, result, fallback reason). Each sample is searched once per strategy object;
``fallback_counts`` tells how many samples kept annotated frames, and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

from gamdss.distances import DISTANCE_NAMES, frame_gram, sq_distances
from gamdss.search import stage1_tie_rank, two_stage_search
from gamdss.selection import (
    DEFAULT_WINDOW_FRACTION,
    Reselection,
    Unreadable,
    Variant,
    find_apex_sample,
    reselect_sample,
)
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import ConfigError
from mer_bench.keyframes import KEYFRAME_STRATEGIES, AppliesTo, KeyframeStrategy

__all__ = [
    "ApexSearchStrategy", "GamdssLegacyStrategy", "GamdssStrategy", "GamdssSymmetricStrategy",
    "Reselection", "frame_gram", "make_strategy", "reselect_gamdss", "sq_distances", "stage1_tie_rank",
    "two_stage_search",
]


def reselect_gamdss(sample: Sample, *, window_fraction: float = DEFAULT_WINDOW_FRACTION,
                    distance: str = "pixel") -> KeyFrames:
    """The ``gamdss`` key frames of ``sample`` as frame numbers of the clip."""
    return reselect_sample(sample, window_fraction=window_fraction, distance=distance).selected


@dataclass(frozen=True, kw_only=True)
class _CachedStrategy:
    """Shared by every strategy here: options checked once, one search per sample and annotation."""

    applies_to: AppliesTo = "train"
    distance: str = "pixel"
    unreadable: Unreadable = "raise"
    _results: dict[tuple[str, KeyFrames], Reselection] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        name = self.name  # type: ignore[attr-defined]  # each subclass defines its name field
        if self.applies_to not in ("train", "all"):
            raise ConfigError(f"{name} applies_to {self.applies_to!r} is unknown; use 'train' or 'all'")
        if self.distance not in DISTANCE_NAMES:
            raise ConfigError(f"{name} distance {self.distance!r} is unknown; use one of "
                              f"{', '.join(DISTANCE_NAMES)}")
        if self.unreadable not in ("raise", "keep"):
            raise ConfigError(f"{name} unreadable {self.unreadable!r} is unknown; use 'raise' or 'keep'")

    def reselect(self, sample: Sample) -> Reselection:
        """The full record for ``sample``, searched on first request only."""
        # Keyed on the annotation too, so a corrected annotation (errata) is never served stale.
        key = (sample.sample_id, sample.annotated)
        result = self._results.get(key)
        if result is None:
            result = self._search(sample)
            self._results[key] = result
        return result

    def select(self, sample: Sample) -> KeyFrames:
        return self.reselect(sample).selected

    def fallback_counts(self) -> Counter[str]:
        """Samples searched so far that kept annotated frames, by reason (see `gamdss.selection`)."""
        return Counter(r.fallback for r in self._results.values() if r.fallback)

    def _search(self, sample: Sample) -> Reselection:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class GamdssStrategy(_CachedStrategy):
    """``gamdss``: the two-stage GAMDSS search on floating-point pixel (or flow) differences."""

    name: str = field(default="gamdss", init=False)
    variant: Variant = field(default="gamdss", init=False, repr=False)
    window_fraction: float = DEFAULT_WINDOW_FRACTION

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.window_fraction <= 0.5:
            # Above 0.5 the onset window could pass the apex window and "onset" follow "apex".
            raise ConfigError(f"{self.name} window_fraction {self.window_fraction} is out of "
                              "range; use 0 to 0.5")

    def params(self) -> Mapping[str, object]:
        return {"window_fraction": self.window_fraction, "distance": self.distance,
                "applies_to": self.applies_to, "unreadable": self.unreadable}

    def _search(self, sample: Sample) -> Reselection:
        return reselect_sample(sample, variant=self.variant, window_fraction=self.window_fraction,
                               distance=self.distance, unreadable=self.unreadable)


@dataclass(frozen=True, kw_only=True)
class GamdssLegacyStrategy(GamdssStrategy):
    """``gamdss-legacy``: the public code's choices, uint8 wrap-around and tie order included."""

    name: str = field(default="gamdss-legacy", init=False)
    variant: Variant = field(default="legacy", init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.distance != "pixel":
            raise ConfigError(f"{self.name} reproduces the reference's pixel difference; "
                              f"distance {self.distance!r} is not available (use gamdss)")


@dataclass(frozen=True, kw_only=True)
class GamdssSymmetricStrategy(GamdssStrategy):
    """``gamdss-symmetric``: the apex searched on both sides of the annotated apex (the figure)."""

    name: str = field(default="gamdss-symmetric", init=False)
    variant: Variant = field(default="symmetric", init=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class ApexSearchStrategy(_CachedStrategy):
    """``apex-search``: annotated onset and offset, apex = the whole-clip apex finder's choice.

    ``only_missing=True`` keeps annotated apexes and searches only where none is annotated (with
    ``distance="pixel"`` that is exactly what SMIC's missing-apex rule does for every strategy).
    """

    name: str = field(default="apex-search", init=False)
    only_missing: bool = False

    def params(self) -> Mapping[str, object]:
        return {"distance": self.distance, "applies_to": self.applies_to,
                "only_missing": self.only_missing, "unreadable": self.unreadable}

    def _search(self, sample: Sample) -> Reselection:
        if self.only_missing and sample.annotated.apex is not None:
            annotated = sample.annotated
            return Reselection(sample.sample_id, annotated, annotated, annotated)
        return find_apex_sample(sample, distance=self.distance, unreadable=self.unreadable)


def make_strategy(spec: str) -> KeyframeStrategy:
    """A registered strategy from ``name`` or ``name[key=value,...]`` (e.g. ``gamdss[distance=flow]``);
    the registry parses the options (`mer_bench.registry.parse_spec`)."""
    return KEYFRAME_STRATEGIES.create(spec)
