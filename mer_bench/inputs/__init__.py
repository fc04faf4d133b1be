"""Model inputs: frame loading, optical flow + strain, frame differences, face crops, the cache."""

from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.flow import FlowInputSpec, flow_strain
from mer_bench.inputs.frames import read_frame, read_frames

__all__ = ["FlowInputSpec", "InputCache", "flow_strain", "read_frame", "read_frames"]
