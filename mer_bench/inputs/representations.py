"""Input representations: named ways to turn a sample and its key frames into one model input.

Every representation has a rising branch (built from onset -> apex) and a falling branch (built
from apex -> offset, used by two-branch training). A model declares the representations it reads,
in the order its ``forward`` takes them. Datasets shipped without face crops
(``DatasetSpec.face_crop``) are cropped to one detected face box per clip by every representation;
see ``frame_inputs`` for normalisation and cache keys, ``face_crop`` for the crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.inputs.flow import FlowInputSpec
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.flow import FlowMethod
from mer_bench.inputs.frame_inputs import flow_strain_input, frame_diff_input, frame_input
from mer_bench.missing_apex import with_apex
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


def branch_pair(sample: Sample, keyframes: KeyFrames, branch: Branch) -> KeyFrames:
    """The (start, peak) pair a branch reads, as KeyFrames(onset=start, apex=peak, offset=...).

    Rising: onset -> apex. Falling: offset -> apex, so that a representation written for the
    rising branch ("peak minus start") gives apex - offset on the falling branch, the sign
    GAMDSS's auxiliary branch uses. Strategies hand over an apex; one still missing is filled by
    the dataset's rule, the same one they use (`mer_bench.missing_apex`).
    """
    keyframes = with_apex(sample, keyframes)
    if branch == "rising":
        return keyframes
    assert keyframes.apex is not None
    return KeyFrames(keyframes.offset, keyframes.apex, keyframes.offset)


def _frame(sample: Sample, keyframes: KeyFrames, branch: Branch, size: int,
           cache: InputCache | None) -> np.ndarray:
    # GAMDSS's spatial input: the onset on the rising branch, the apex on the falling one.
    pair = branch_pair(sample, keyframes, branch)
    assert pair.apex is not None
    number = pair.onset if branch == "rising" else pair.apex
    return frame_input(sample, number, size, cache)


def _frame_diff(sample: Sample, keyframes: KeyFrames, branch: Branch, size: int,
                cache: InputCache | None) -> np.ndarray:
    pair = branch_pair(sample, keyframes, branch)
    assert pair.apex is not None
    return frame_diff_input(sample, pair.onset, pair.apex, size, cache)


def _flow_strain(method: FlowMethod, channels: int) -> BuildFn:
    def build(sample: Sample, keyframes: KeyFrames, branch: Branch, size: int,
              cache: InputCache | None) -> np.ndarray:
        pair = branch_pair(sample, keyframes, branch)
        assert pair.apex is not None
        # Flow-only inputs read the first channels of the flow + strain entry, sharing its cache.
        full = flow_strain_input(sample, pair.onset, pair.apex, FlowInputSpec(size=size, method=method), cache)
        return full if channels == 3 else np.ascontiguousarray(full[:channels])

    return build


INPUTS: Registry[Representation] = Registry("input representation",
                                            entry_point_group="mer_bench.inputs")
INPUTS.register("flow-strain", Representation(
    "flow-strain", 3, "optical flow (u, v) + optical strain, start -> peak, Farneback",
    _flow_strain("farneback", 3)))
INPUTS.register("flow-strain-tvl1", Representation(
    "flow-strain-tvl1", 3, "optical flow (u, v) + optical strain, start -> peak, TV-L1",
    _flow_strain("tvl1", 3)))
INPUTS.register("flow", Representation(
    "flow", 2, "optical flow (u, v), start -> peak, Farneback (Off-ApexNet style)",
    _flow_strain("farneback", 2)))
INPUTS.register("flow-tvl1", Representation(
    "flow-tvl1", 2, "optical flow (u, v), start -> peak, TV-L1 (Off-ApexNet style)",
    _flow_strain("tvl1", 2)))
INPUTS.register("frame-diff", Representation(
    "frame-diff", 3, "ImageNet-normalised RGB peak minus start: apex - onset, falling apex - offset",
    _frame_diff))
INPUTS.register("frame", Representation(
    "frame", 3, "ImageNet-normalised RGB frame: onset (rising), apex (falling)",
    _frame))


def build_input(kind: str, sample: Sample, keyframes: KeyFrames, branch: Branch, size: int,
                cache: InputCache | None) -> np.ndarray:
    return INPUTS.get(kind).build(sample, keyframes, branch, size, cache)
