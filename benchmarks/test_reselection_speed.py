"""GAMDSS reselection time per clip, against just decoding the frames its windows need.

Run with `make bench`; compare the two rows of the 'reselect' group (same run, same clips).
"""

from __future__ import annotations

import math

import pytest

from gamdss.reselect import reselect_gamdss
from mer_bench.inputs.frames import read_frames
from mer_bench.keyframes import with_apex


def window_paths(sample, fraction: float = 0.1):
    """The frame files the two-stage search reads for one clip."""
    kf = with_apex(sample.annotated)
    o, a, f = (sample.index_of(n) for n in (kf.onset, kf.apex, kf.offset))
    lam, lam_f = math.floor(fraction * (a - o)), math.floor(fraction * (f - a))
    needed = set(range(o, o + lam + 1)) | set(range(a - lam, a + 1)) | set(range(f - lam_f, f + 1))
    return [sample.frame_paths[p] for p in sorted(needed)]


@pytest.mark.benchmark(group="reselect")
def test_decode_window_frames_reference(benchmark, twin_samples):
    benchmark(lambda: [read_frames(window_paths(s)) for s in twin_samples])


@pytest.mark.benchmark(group="reselect")
def test_reselect_gamdss(benchmark, twin_samples):
    benchmark(lambda: [reselect_gamdss(s) for s in twin_samples])
