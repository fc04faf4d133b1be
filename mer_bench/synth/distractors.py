"""Nuisance signals that make key frames hard to find: blinks, head drift, flicker, sensor noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Distractors:
    """How strong each nuisance is; ``Distractors.off()`` leaves only the expression itself."""

    blinks_per_clip: float = 0.4  # mean of a Poisson count; blinks ignore the expression's timing
    drift_px: float = 0.25  # largest slow head drift, pixels at the render size
    flicker: float = 0.008  # relative illumination flicker amplitude
    noise_sd: float = 2.0  # Gaussian sensor noise, grey levels

    @classmethod
    def off(cls) -> Distractors:
        return cls(blinks_per_clip=0.0, drift_px=0.0, flicker=0.0, noise_sd=0.0)


@dataclass(frozen=True)
class ClipNuisance:
    """Per-frame nuisance values of one clip (arrays of length n_frames)."""

    closure: np.ndarray  # eyelid closure 0 (open) .. 1 (closed)
    drift: np.ndarray  # (n, 2) global (dx, dy) in pixels
    gain: np.ndarray  # illumination gain around 1
    noise_sd: float


def draw_nuisance(
    rng: np.random.Generator, n_frames: int, fps: float, distractors: Distractors
) -> ClipNuisance:
    t = np.arange(n_frames, dtype=np.float64) / fps
    closure = np.zeros(n_frames)
    for _ in range(int(rng.poisson(distractors.blinks_per_clip))):
        closure = np.maximum(closure, _blink(rng, t))
    drift = np.zeros((n_frames, 2))
    if distractors.drift_px > 0:
        for axis in range(2):
            amplitude = distractors.drift_px * rng.uniform(0.3, 1.0)
            period = rng.uniform(1.5, 4.0)  # seconds: much slower than a micro-expression
            phase = rng.uniform(0, 2 * np.pi)
            drift[:, axis] = amplitude * (np.sin(2 * np.pi * t / period + phase) - np.sin(phase))
    gain = np.ones(n_frames)
    if distractors.flicker > 0:
        frequency = rng.uniform(2.0, 15.0)
        amplitude = distractors.flicker * rng.uniform(0.5, 1.0)
        gain += amplitude * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi))
        gain += rng.normal(0.0, 0.3 * distractors.flicker, n_frames)
    return ClipNuisance(closure=closure, drift=drift, gain=gain, noise_sd=distractors.noise_sd)


def _blink(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Closure over time of one blink: fast close, short hold, slower open (about 0.2-0.35 s)."""
    closing, holding, opening = (
        rng.uniform(0.05, 0.1),
        rng.uniform(0.02, 0.06),
        rng.uniform(0.1, 0.2),
    )
    start = rng.uniform(-closing, t[-1])
    depth = rng.uniform(0.6, 1.0)
    s = t - start
    closure = np.zeros_like(t)
    down = (s >= 0) & (s < closing)
    closure[down] = s[down] / closing
    closure[(s >= closing) & (s < closing + holding)] = 1.0
    up = (s >= closing + holding) & (s < closing + holding + opening)
    closure[up] = 1.0 - (s[up] - closing - holding) / opening
    return depth * closure
