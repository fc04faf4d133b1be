"""Dataset model and readers of the native MER dataset formats."""

from mer_bench.data.sample import KeyFrames, Sample

__all__ = ["KeyFrames", "Sample"]
