"""The onset -> apex -> offset intensity profile of a synthetic micro-expression."""

from __future__ import annotations

import numpy as np

from mer_bench.data.sample import KeyFrames


def intensity_profile(frame_numbers: np.ndarray, truth: KeyFrames) -> np.ndarray:
    """Intensity in [0, 1] per frame: 0 up to the onset and from the offset on, 1 only at the apex.

    Raised-cosine rise and fall: smooth (zero slope at onset, apex and offset) like real facial
    muscle action, and strictly increasing then decreasing, so the true apex is the unique maximum.
    """
    if truth.apex is None or not truth.onset < truth.apex < truth.offset:
        raise ValueError(f"true key frames must satisfy onset < apex < offset, got {truth}")
    t = np.asarray(frame_numbers, dtype=np.float64)
    rise = (t - truth.onset) / (truth.apex - truth.onset)
    fall = (t - truth.apex) / (truth.offset - truth.apex)
    intensity = np.zeros_like(t)
    rising = (t > truth.onset) & (t <= truth.apex)
    falling = (t > truth.apex) & (t < truth.offset)
    intensity[rising] = 0.5 - 0.5 * np.cos(np.pi * rise[rising])
    intensity[falling] = 0.5 + 0.5 * np.cos(np.pi * fall[falling])
    return intensity
