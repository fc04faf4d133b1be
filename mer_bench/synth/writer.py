"""What every twin writer shares: render and write clip frames, truth records, the manifest.

A dataset's own twin module decides the spreadsheet and the frame paths (its native layout);
this module turns clip plans into image files at those paths.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np

from mer_bench.synth.distractors import Distractors, draw_nuisance
from mer_bench.synth.face import render_face
from mer_bench.synth.motion import displacement_field
from mer_bench.synth.plan import STREAM_FACE, STREAM_PIXELS, ClipPlan, TwinSpec, stream
from mer_bench.synth.render import render_clip
from mer_bench.synth.truth import TruthRecord

RENDER_SIZE = 128
JPEG_QUALITY = 90

FramePath = Callable[[ClipPlan, int], Path]


@dataclass(frozen=True)
class Scene:
    """An uncropped recording: the rendered face sits inside a larger, plain frame.

    Datasets shipped without face crops (SAMM, CAS(ME)^3, 4DME) get this, so their twins
    exercise the face cropper. The face's position is drawn once per subject.
    """

    height: int
    width: int
    grey: int = 96


def truth_record(plan: ClipPlan, sample_id: str, subject: str) -> TruthRecord:
    return TruthRecord(sample_id=sample_id, subject=subject, clip=plan.clip,
                       emotion=plan.emotion, action_units=plan.action_units_text,
                       truth=plan.truth, amplitude_px=plan.amplitude_px)


def write_frames(plans: Sequence[ClipPlan], seed: int, fps: float, distractors: Distractors,
                 frame_path: FramePath, *, scene: Scene | None = None, grey: bool = False) -> int:
    """Render every clip and write frame ``n`` of ``plan`` to ``frame_path(plan, n)``.

    The file format follows the path's suffix (.jpg at quality 90, .bmp, .png). ``grey`` writes
    single-channel frames (4DME's grey video). Returns the number of frames written.
    """
    faces = {subject: render_face(stream(seed, STREAM_FACE, subject), RENDER_SIZE)
             for subject in sorted({plan.subject for plan in plans})}

    def write_clip(plan: ClipPlan) -> int:
        face = faces[plan.subject]
        rng = stream(seed, STREAM_PIXELS, plan.subject, plan.index)
        nuisance = draw_nuisance(rng, plan.n_frames, fps, distractors)
        field = displacement_field(face, plan.action_units, plan.au_weights)
        frames = render_clip(face, plan.frame_numbers, plan.truth, field, plan.amplitude_px,
                             nuisance, rng)
        place = _placement(scene, seed, plan.subject)
        for number, frame in zip(plan.frame_numbers, frames, strict=True):
            image = frame if scene is None else _in_scene(frame, scene, place)
            if grey:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            path = frame_path(plan, number)
            path.parent.mkdir(parents=True, exist_ok=True)
            params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.suffix == ".jpg" else []
            ok, encoded = cv2.imencode(path.suffix, image, params)
            if not ok:
                raise RuntimeError(f"encoding failed for {path}")
            path.write_bytes(encoded.tobytes())
        return plan.n_frames

    # Each clip has its own random streams, so threads change the speed, never the bytes;
    # remap, encoding and file writes release the GIL.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return sum(pool.map(write_clip, plans))


def _placement(scene: Scene | None, seed: int, subject: int) -> tuple[int, int]:
    if scene is None:
        return (0, 0)
    rng = stream(seed, STREAM_FACE, subject, 1)
    top = int(rng.integers(0, scene.height - RENDER_SIZE + 1))
    left = int(rng.integers(0, scene.width - RENDER_SIZE + 1))
    return top, left


def _in_scene(face: np.ndarray, scene: Scene, place: tuple[int, int]) -> np.ndarray:
    canvas = np.full((scene.height, scene.width, 3), scene.grey, dtype=np.uint8)
    top, left = place
    canvas[top:top + face.shape[0], left:left + face.shape[1]] = face
    return canvas


def write_manifest(path: Path, spec: TwinSpec, seed: int, plans: Sequence[ClipPlan],
                   n_frames: int, distractors: Distractors, generator_version: str,
                   layout: Mapping[str, object]) -> None:
    """The twin's manifest, written last: its presence marks a complete twin."""
    manifest = {
        "dataset": spec.dataset,
        "generator_version": generator_version,
        "seed": seed,
        "scale": spec.scale,
        **layout,
        "render_size": RENDER_SIZE,
        "jpeg_quality": JPEG_QUALITY,
        "counts": {
            "samples": len(plans),
            "subjects": len({plan.subject for plan in plans}),
            "frames": n_frames,
            "missing_apex": sum(plan.apex_missing for plan in plans),
            "classes": dict(Counter(plan.emotion for plan in plans)),
        },
        "annotator": spec.annotator.as_dict(),
        "difficulty": spec.difficulty.as_dict(),
        "distractors": {
            "blinks_per_clip": distractors.blinks_per_clip,
            "drift_px": distractors.drift_px,
            "flicker": distractors.flicker,
            "noise_sd": distractors.noise_sd,
        },
    }
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
