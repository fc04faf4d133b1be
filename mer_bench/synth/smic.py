"""The SMIC twin: all three cameras (HS, VIS, NIR) in one SMIC folder, in the cropped layout.

SMIC's clip folders are its annotation: a folder runs from a little before the expression to a
little after it, and its first / last frame are the onset / offset the reader reports. The twin
renders each clip from a few frames before the true onset to a few after the true offset, so the
"annotator error" is the cutting margin; the true key frames go to the sidecar as usual.

Numbers marked "assumed" are the project's plausible choices, not published figures.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from mer_bench.data.sample import KeyFrames
from mer_bench.data.smic import (
    CROPPED_FOLDER,
    FPS,
    MICRO_FOLDER,
    TWIN_VERSION,
    dataset_name,
    subject_id,
)
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import truth_record, write_frames, write_manifest

CAMERAS = ("HS", "VIS", "NIR")

# ASSUMED subject numbers: 20 recorded, 16 with a micro-expression (s7, s10, s16, s17 without);
# VIS and NIR recorded the last 10 (s11-s20), 8 of them with a micro-expression.
HS_SUBJECTS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20)
VIS_NIR_SUBJECTS = (11, 12, 13, 14, 15, 18, 19, 20)

# HS: the published 3-class counts (MEGC2019 ground truth). VIS / NIR: 71 clips each is
# published, the split is ASSUMED (28 / 23 / 20, a recollection of the FG2013 table that the
# project's sources do not confirm).
HS_COUNTS = {"negative": 70, "positive": 51, "surprise": 43}
VIS_NIR_COUNTS = {"negative": 23, "positive": 28, "surprise": 20}

# Clip names sN_<emotion>_<NN> (s1_ne_01), as in the HS release; ASSUMED for VIS / NIR.
EMOTION_TAGS = {"negative": "ne", "positive": "po", "surprise": "sur"}

# SMIC has no AU coding; these AU sets only make the classes move different regions.
EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "positive": (("6+12", 0.5), ("12", 0.35), ("L12", 0.15)),
    "negative": (("4", 0.3), ("4+7", 0.15), ("9", 0.15), ("4+10", 0.1), ("15+17", 0.15),
                 ("14", 0.15)),
    "surprise": (("1+2", 0.6), ("1+2+5", 0.25), ("5", 0.15)),
}

# Calibrated (results/calibration.md) on STSTNet's SMIC part of the MEGC2019 composite; VIS and NIR
# (no published STSTNet figure) take the same share.
HS_DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.2), confusable_share=0.145,
                           distractors=Distractors())
VIS_NIR_DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.2), confusable_share=0.145,
                                distractors=Distractors())

# The folder cut, seen as an annotator: onset early and offset late by a few frames, the offset
# (the slow fade back to neutral) the less certain. In time both cameras cut about 40 ms before
# the onset and 50-60 ms after the offset; the apex is not annotated (its terms are unused).
HS_ANNOTATOR = AnnotatorModel(
    onset_bias=-4.0, apex_bias=0.0, offset_bias=5.0, onset_sd=1.5, apex_sd=0.0, offset_sd=2.5
)
VIS_NIR_ANNOTATOR = AnnotatorModel(
    onset_bias=-1.2, apex_bias=0.0, offset_bias=1.5, onset_sd=0.6, apex_sd=0.0, offset_sd=0.8
)

# Random streams of plans and pixels differ per camera; the clip index offsets keep one person's
# face the same on every camera while the noise of each recording is its own.
INDEX_OFFSET = {"HS": 0, "VIS": 500, "NIR": 1000}

HS_FRAME = "reg_image{:06d}.bmp"
VIS_NIR_FRAME = "reg_{:05d}.bmp"


def smic_twin_spec(camera: str, scale: float = 1.0) -> TwinSpec:
    """The twin of one camera at ``scale`` (NIR has VIS's shape: the cameras ran together)."""
    if camera not in CAMERAS:
        raise ValueError(f"unknown SMIC camera {camera!r}; use one of {CAMERAS}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    high_speed = camera == "HS"
    full = HS_COUNTS if high_speed else VIS_NIR_COUNTS
    subjects = HS_SUBJECTS if high_speed else VIS_NIR_SUBJECTS
    fps = FPS[camera]
    frames = fps / 100.0  # span medians below are written in 100 fps frames (10 ms)
    return TwinSpec(
        dataset=dataset_name(camera),
        fps=fps,
        scale=scale,
        n_subjects=scaled_count(len(subjects), scale, minimum=4),
        class_counts={label: scaled_count(count, scale, minimum=2)
                      for label, count in full.items()},
        expressions=EXPRESSIONS,
        # ASSUMED timing: SMIC clips are micro-expressions of at most about 0.5 s; here onset->apex
        # about 130 ms and apex->offset about 170 ms, so a clip with its margins is about 0.4 s.
        onset_to_apex=SpanModel(median=13.0 * frames, log_sd=0.35, low=max(2, round(4 * frames)),
                                high=round(35 * frames)),
        apex_to_offset=SpanModel(median=17.0 * frames, log_sd=0.4, low=max(2, round(4 * frames)),
                                 high=round(45 * frames)),
        # room for the cut's margins; frames outside the folder are never written
        margin_frames=(12, 16) if high_speed else (4, 6),
        # frame numbers count from the start of each recording (reg_image036237, reg_06387)
        first_frame=(1000, 90000) if high_speed else (100, 20000),
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,  # every plan loses its apex in cut_to_folder
        annotator=HS_ANNOTATOR if high_speed else VIS_NIR_ANNOTATOR,
        difficulty=HS_DIFFICULTY if high_speed else VIS_NIR_DIFFICULTY,
    )


def camera_difficulty(camera: str) -> Difficulty:
    """The difficulty of one camera's twin (NIR has VIS's: the cameras ran side by side)."""
    return HS_DIFFICULTY if camera == "HS" else VIS_NIR_DIFFICULTY


def plan_smic_camera(camera: str, scale: float, seed: int) -> list[ClipPlan]:
    """One plan per clip of ``camera``, with real subject numbers and SMIC clip names.

    NIR's plans are VIS's (same clips, timing and cut); only their pixels are drawn anew.
    """
    shape = "VIS" if camera == "NIR" else camera
    spec = smic_twin_spec(shape, scale)
    subjects = HS_SUBJECTS if shape == "HS" else VIS_NIR_SUBJECTS
    plans = plan_twin(spec, camera_seed(seed, shape), _placeholder_names)
    plans = [replace(plan, subject=subjects[plan.subject - 1], index=plan.index
                     + INDEX_OFFSET[camera]) for plan in plans]
    return sorted((cut_to_folder(plan) for plan in _with_smic_names(plans)),
                  key=lambda plan: (plan.subject, plan.clip))


def camera_seed(seed: int, camera: str) -> int:
    """The planning seed of one camera, so HS and VIS labels are not shuffled alike."""
    state = np.random.SeedSequence([seed, zlib.crc32(camera.encode())]).generate_state(1)
    return int(state[0])


def _placeholder_names(rng: np.random.Generator, n: int) -> list[str]:
    # real names depend on each clip's emotion, which plan_twin assigns after naming
    return [f"clip{i:04d}" for i in range(n)]


def _with_smic_names(plans: list[ClipPlan]) -> list[ClipPlan]:
    """Clips named sN_<tag>_<NN>, numbered per subject and emotion."""
    counters: Counter[tuple[int, str]] = Counter()
    named = []
    for plan in sorted(plans, key=lambda p: (p.subject, p.index)):
        counters[(plan.subject, plan.emotion)] += 1
        number = counters[(plan.subject, plan.emotion)]
        name = f"s{plan.subject}_{EMOTION_TAGS[plan.emotion]}_{number:02d}"
        named.append(replace(plan, clip=name))
    return named


def cut_to_folder(plan: ClipPlan) -> ClipPlan:
    """The clip as SMIC ships it: the cut is the annotation, and the apex is not given.

    The cut keeps at least one neutral frame before the true onset and after the true offset,
    so the whole expression is always inside its folder.
    """
    first = min(plan.annotated.onset, plan.truth.onset - 1)
    last = max(plan.annotated.offset, plan.truth.offset + 1)
    return replace(plan, first_frame=first, n_frames=last - first + 1,
                   annotated=KeyFrames(onset=first, apex=None, offset=last), apex_missing=True)


def write_smic_twin(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                    distractors: Distractors | None = None) -> Path:
    """Write the twin into ``out_dir`` (the SMIC folder itself): HS, VIS and NIR together.

    Each camera's distractors are its difficulty's unless ``distractors`` is given.
    """
    plans = {camera: plan_smic_camera(camera, scale, seed) for camera in CAMERAS}
    nuisance = {camera: distractors or camera_difficulty(camera).distractors for camera in CAMERAS}
    with staged_directory(Path(out_dir)) as stage:
        frames = {camera: write_frames(plans[camera], seed, FPS[camera], nuisance[camera],
                                       _frame_path(stage, camera), grey=camera == "NIR")
                  for camera in CAMERAS}
        write_truth(stage, (truth_record(plan, _sample_id(camera, plan),
                                         subject_id(plan.subject))
                            for camera in CAMERAS for plan in plans[camera]))
        layout = {
            "frames_layout": (f"{CROPPED_FOLDER}/<camera>/sN/{MICRO_FOLDER}/<emotion>/"
                              "sN_<tag>_NN/reg_image<N>.bmp (HS), reg_<N>.bmp (VIS, NIR)"),
            "cameras": {camera: _camera_summary(camera, plans[camera], frames[camera], scale)
                        for camera in CAMERAS},
        }
        # The top-level fields describe SMIC-HS; each camera's own are under "cameras".
        write_manifest(stage / TWIN_MARKER, smic_twin_spec("HS", scale), seed, plans["HS"],
                       frames["HS"], nuisance["HS"], TWIN_VERSION, layout)
    return Path(out_dir)


def _frame_path(stage: Path, camera: str):
    template = HS_FRAME if camera == "HS" else VIS_NIR_FRAME

    def path(plan: ClipPlan, number: int) -> Path:
        return (stage / CROPPED_FOLDER / camera / f"s{plan.subject}" / MICRO_FOLDER
                / plan.emotion / plan.clip / template.format(int(number)))

    return path


def _sample_id(camera: str, plan: ClipPlan) -> str:
    return f"{dataset_name(camera)}/{subject_id(plan.subject)}/{plan.clip}"


def _camera_summary(camera: str, plans: list[ClipPlan], n_frames: int, scale: float) -> dict:
    spec = smic_twin_spec("VIS" if camera == "NIR" else camera, scale)
    return {
        "dataset": dataset_name(camera),
        "fps": FPS[camera],
        "samples": len(plans),
        "subjects": len({plan.subject for plan in plans}),
        "frames": n_frames,
        "classes": dict(Counter(plan.emotion for plan in plans)),
        "annotator": spec.annotator.as_dict(),
        "difficulty": spec.difficulty.as_dict(),
    }
