"""Input representations: named ways to turn a sample and its key frames into one model input.

Every representation has a rising branch (built from onset -> apex) and a falling branch (built
from apex -> offset, used by two-branch training). A model declares the representations it reads,
in the order its ``forward`` takes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.inputs.builder import FlowInputSpec, build_flow_input
from mer_bench.inputs.cache import InputCache
from mer_bench.keyframes import with_apex
from mer_bench.registry import Registry

Branch = Literal["rising", "falling"]
BuildFn = Callable[[Sample, KeyFrames, Branch, int, "InputCache | None"], np.ndarray]


@dataclass(frozen=True)
class Representation:
    """``build(sample, keyframes, branch, size, cache)`` -> float32 array (channels, size, size)."""

    name: str
    channels: int
    description: str
    build: BuildFn


def branch_pair(keyframes: KeyFrames, branch: Branch) -> KeyFrames:
    """The (start, peak) pair a branch reads, as KeyFrames(onset=start, apex=peak, offset=...).

    Rising: onset -> apex. Falling: offset -> apex, so that a representation written for the
    rising branch ("peak minus start") gives apex - offset on the falling branch, the sign
    GAMDSS's auxiliary branch uses.
    """
    keyframes = with_apex(keyframes)
    if branch == "rising":
        return keyframes
    assert keyframes.apex is not None
    return KeyFrames(keyframes.offset, keyframes.apex, keyframes.offset)


def _flow_strain(method: str) -> BuildFn:
    def build(sample: Sample, keyframes: KeyFrames, branch: Branch, size: int,
              cache: InputCache | None) -> np.ndarray:
        return build_flow_input(sample, branch_pair(keyframes, branch),
                                FlowInputSpec(size=size, method=method), cache)

    return build


INPUTS: Registry[Representation] = Registry("input representation",
                                            entry_point_group="mer_bench.inputs")
INPUTS.register("flow-strain", Representation(
    "flow-strain", 3, "optical flow (u, v) + optical strain, start -> peak, Farneback",
    _flow_strain("farneback")))
INPUTS.register("flow-strain-tvl1", Representation(
    "flow-strain-tvl1", 3, "optical flow (u, v) + optical strain, start -> peak, TV-L1",
    _flow_strain("tvl1")))


def build_input(kind: str, sample: Sample, keyframes: KeyFrames, branch: Branch, size: int,
                cache: InputCache | None) -> np.ndarray:
    return INPUTS.get(kind).build(sample, keyframes, branch, size, cache)
