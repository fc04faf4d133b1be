"""The 4DME twin: a plausible spec (most of 4DME's figures are unpublished) in the native layout.

Published: 267 micro-expression samples (MEB), five emotion categories with one-hot columns,
grey 2D clips under gray_micro/. Assumed (marked here and in protocols/4dme.yaml): the subject
count, the per-category counts, the frame rate, clip timing, and the sub_ID / fold_name / frame
file naming.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from mer_bench.data.fourdme import (
    CATEGORIES,
    CODING_FILE,
    FPS,
    FRAME_FOLDERS,
    HEADER,
    TWIN_VERSION,
)
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.motion import ActionUnit
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, scaled_count, stream
from mer_bench.synth.samm import SubjectRule, plan_by_rules
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import Scene, truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

GENERATOR_VERSION = TWIN_VERSION

# 267 samples is MEB's count; the split over the five categories is assumed (negative and
# others largest, as in the other datasets' AU-based labels).
CLASS_COUNTS: dict[str, int] = {
    "Negative": 95,
    "Others": 72,
    "Positive": 41,
    "Surprise": 34,
    "Repression": 25,
}
N_SUBJECTS = 41  # assumed: the reference has no subject count for 4DME
# Every subject holds at least one positive, negative or surprise sample, so the 3-class split
# (assumed) sees all subjects too.
THREE_CLASS_LABELS = frozenset({"Positive", "Negative", "Surprise"})
N_FOLDS = 5  # the workbook's 'fold' column: assumed to be a subject-wise 5-fold split

# AU combinations per category, written 'AU4+AU7' (some AUs marked '(k)' in the workbook).
EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "Positive": (("6+12", 0.45), ("12", 0.45), ("6", 0.1)),
    "Negative": (("4", 0.3), ("4+7", 0.25), ("9", 0.15), ("15", 0.1), ("4+9", 0.1), ("10", 0.1)),
    "Surprise": (("1+2", 0.6), ("1+2+5", 0.25), ("5", 0.15)),
    "Repression": (("14", 0.35), ("17", 0.25), ("15+17", 0.2), ("12+17", 0.2)),
    "Others": (("4", 0.2), ("7", 0.2), ("25", 0.2), ("2", 0.2), ("1", 0.2)),
}
K_MARK_SHARE = 0.1  # rows with one AU marked '(k)'

# 4DME is multicultural like SAMM (GAMDSS names both), so its coder errors match SAMM's in time
# rather than CASME II's: at 60 fps one frame is 3.3 frames at 200 fps, so these are about
# -4 / +4 / +5 frames of bias and 2.7 / 3.3 / 5 frames of sd at 200 fps, offsets least certain.
ANNOTATOR = AnnotatorModel(
    onset_bias=-1.2, apex_bias=1.2, offset_bias=1.5, onset_sd=0.8, apex_sd=1.0, offset_sd=1.5
)
# No published STSTNet figure to calibrate on: the share sits between the calibrated
# MEGC2019 twins' (CASME II 0.13, SMIC 0.145, SAMM 0.18); see results/calibration.md.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.15, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors
SCENE = Scene(height=192, width=256)  # grey video with the face inside a wider frame
STREAM_STYLE = 101  # 4DME-only random stream (see plan.stream)


def fourdme_twin_spec(scale: float = 1.0) -> TwinSpec:
    """The 4DME twin at ``scale``: fewer subjects and clips, every category kept."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    counts = {label: scaled_count(count, scale, minimum=2) for label, count in CLASS_COUNTS.items()}
    return TwinSpec(
        dataset="4dme",
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts=counts,
        expressions=EXPRESSIONS,
        # assumed: micro-expressions last under 0.5 s, here about 9 + 13 frames at 60 fps
        onset_to_apex=SpanModel(median=9.0, log_sd=0.4, low=3, high=30),
        apex_to_offset=SpanModel(median=13.0, log_sd=0.4, low=4, high=40),
        margin_frames=(3, 8),
        first_frame=(1, 2000),
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,  # every 4DME sample has an apex
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
    )


def subject_id(number: int) -> str:
    """Assumed sub_ID form: 1 -> 'S01'."""
    return f"S{number:02d}"


def name_fourdme_clips(rng: np.random.Generator, subject: int, n: int) -> list[str]:
    """n distinct fold names (assumed form): <sub_ID>_<task>_<occurrence>, e.g. S07_04_2."""
    names: set[str] = set()
    while len(names) < n:
        names.add(f"{subject_id(subject)}_{int(rng.integers(1, 9)):02d}_"
                  f"{int(rng.integers(1, 6))}")
    return sorted(names)


def plan_fourdme_twin(scale: float = 1.0, seed: int = 0) -> list[ClipPlan]:
    spec = fourdme_twin_spec(scale)
    rules = [SubjectRule(THREE_CLASS_LABELS) for _ in range(spec.n_subjects)]
    return plan_by_rules(spec, seed, name_fourdme_clips, rules)


def write_fourdme_twin(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                       distractors: Distractors = DISTRACTORS) -> Path:
    """Write the twin into ``out_dir`` (the 4DME folder itself) in the native 4DME layout."""
    spec = fourdme_twin_spec(scale)
    plans = plan_fourdme_twin(scale, seed)
    style = stream(seed, STREAM_STYLE)
    folder = FRAME_FOLDERS["raw"]
    with staged_directory(Path(out_dir)) as stage:
        write_sheet(stage / CODING_FILE, HEADER, [_coding_row(plan, style) for plan in plans])

        def frame_path(plan: ClipPlan, number: int) -> Path:
            return stage / folder / subject_id(plan.subject) / plan.clip / f"{number}.jpg"

        n_frames = write_frames(plans, seed, spec.fps, distractors, frame_path, scene=SCENE,
                                grey=True)
        write_truth(stage, (truth_record(plan, f"4dme/{subject_id(plan.subject)}/{plan.clip}",
                                         subject_id(plan.subject)) for plan in plans))
        layout: Mapping[str, object] = {
            "coding_file": CODING_FILE,
            "frames_layout": f"{folder}/<sub_ID>/<fold_name>/<n>.jpg (grey)",
            "scene": [SCENE.height, SCENE.width],
            "assumed": ["subjects", "class counts", "fps", "timing", "naming"],
        }
        # written last: its presence marks a complete twin
        write_manifest(stage / TWIN_MARKER, spec, seed, plans, n_frames, distractors,
                       GENERATOR_VERSION, layout)
    return Path(out_dir)


def _coding_row(plan: ClipPlan, style: np.random.Generator) -> list[object]:
    one_hot = [int(plan.emotion == category) for category in CATEGORIES]
    return [
        subject_id(plan.subject),
        plan.clip,
        plan.annotated.onset,
        plan.annotated.apex,
        plan.annotated.offset,
        _au_text(plan.action_units, style),
        plan.emotion,
        *one_hot,
        (plan.subject - 1) % N_FOLDS + 1,
    ]


def _au_text(units: tuple[ActionUnit, ...], style: np.random.Generator) -> str:
    codes = [f"AU{unit.number}" for unit in units]
    if style.random() < K_MARK_SHARE:
        marked = int(style.integers(len(codes)))
        codes[marked] += "(k)"
    return "+".join(codes)
