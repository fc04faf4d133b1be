"""Model inputs: frame loading, onset -> apex optical flow + strain, and the on-disk input cache."""

from mer_bench.inputs.builder import FlowInputSpec, build_flow_input
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.flow import flow_strain
from mer_bench.inputs.frames import read_frame, read_frames

__all__ = ["FlowInputSpec", "InputCache", "build_flow_input", "flow_strain", "read_frame", "read_frames"]
