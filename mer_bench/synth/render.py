"""Render one synthetic clip: the face warped by expression and drift; blinks, flicker, noise."""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

from mer_bench.data.sample import KeyFrames
from mer_bench.synth.distractors import ClipNuisance
from mer_bench.synth.face import Face
from mer_bench.synth.profile import intensity_profile


def render_clip(
    face: Face,
    frame_numbers: np.ndarray,
    truth: KeyFrames,
    field: np.ndarray,
    amplitude_px: float,
    nuisance: ClipNuisance,
    rng: np.random.Generator,
) -> Iterator[np.ndarray]:
    """Yield the clip's frames as uint8 BGR images, one per frame number.

    ``field`` is the unit displacement of the expression (see ``motion.displacement_field``);
    frame t shows it at ``amplitude_px * intensity(t)`` pixels at its strongest point.
    """
    size = face.size
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    strength = (amplitude_px * intensity_profile(frame_numbers, truth)).astype(np.float32)
    drift = nuisance.drift.astype(np.float32)
    gain = nuisance.gain.astype(np.float32)
    noise_sd = np.float32(nuisance.noise_sd)
    for i in range(len(frame_numbers)):
        source = _with_blink(face, float(nuisance.closure[i]))
        # backward map: the skin at p came from p - d (exact to first order for small d)
        map_x = (xs - drift[i, 0]) - strength[i] * field[0]
        map_y = (ys - drift[i, 1]) - strength[i] * field[1]
        frame = cv2.remap(
            source, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
        )
        frame *= gain[i]
        if noise_sd > 0:
            # luminance noise shared by the channels: what survives a camera's chroma smoothing
            frame += (rng.standard_normal((size, size), dtype=np.float32) * noise_sd)[..., None]
        frame += np.float32(0.5)  # so the truncating cast below rounds to nearest
        yield np.clip(frame, 0, 255, out=frame).astype(np.uint8)


def _with_blink(face: Face, closure: float) -> np.ndarray:
    if closure <= 0:
        return face.image
    ys = np.arange(face.size, dtype=np.float32)[:, None]
    # lid edge moves down the eye; one pixel of soft edge keeps the blink anti-aliased
    covered = np.clip(face.lid_top + closure * face.lid_span - ys + 0.5, 0.0, 1.0) * face.eye_mask
    weight = covered[..., None]
    return face.image * (1.0 - weight) + face.closed_eyes * weight
