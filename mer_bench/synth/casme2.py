"""The CASME II twin: a spec mirroring the real coding file, and a writer of the native layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mer_bench.data.casme2 import FPS, HEADER, MISSING_APEX, TWIN_VERSION, subject_id
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count, swap_labels
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

GENERATOR_VERSION = TWIN_VERSION
CODING_FILE = "CASME2-coding-20190701.xlsx"  # the version whose class counts the twin copies

# Rows per label in CASME2-coding-20190701.xlsx (255 rows). The five protocol classes are as
# counted; that the remaining 6 rows split into 4 sadness + 2 fear is an assumption.
CLASS_COUNTS: dict[str, int] = {
    "others": 99,
    "disgust": 63,
    "happiness": 32,
    "surprise": 28,
    "repression": 27,
    "sadness": 4,
    "fear": 2,
}
N_SUBJECTS = 26

# AU combinations per label, written in CASME II notation, with their relative frequency. Each
# label's main combinations move their own regions (brows, nose, lip corners, chin) so that flow
# separates the labels; a minority borrow another label's AUs, as real "estimated emotions" do
# (CASME II repression is often AU12, "others" often AU4), which keeps the task short of trivial.
EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "happiness": (("6+12", 0.45), ("12", 0.3), ("L12", 0.15), ("R12", 0.1)),
    "surprise": (("1+2", 0.65), ("1+2+5", 0.2), ("L2", 0.15)),
    "disgust": (("4+9", 0.35), ("9+10", 0.2), ("4+L10", 0.15), ("9", 0.1), ("4", 0.2)),
    "repression": (("14", 0.3), ("15+17", 0.25), ("17", 0.15), ("L14", 0.1), ("12", 0.2)),
    "sadness": (("1+4+15", 0.6), ("1+15", 0.4)),
    "fear": (("1+2+4+20", 0.5), ("4+20", 0.5)),
    "others": (("4", 0.35), ("4+7", 0.15), ("7", 0.15), ("L2", 0.1), ("25", 0.1), ("17", 0.15)),
}

# nuisance levels of the written twin (see distractors.Distractors)
# Calibrated (results/calibration.md): with about one clip in eight moving as another label's,
# STSTNet scores the CASME II part of the MEGC2019 composite as on the real data.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.13, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors

# GAMDSS's reading of CASME II coders: onsets marked early, apexes late, offsets a little late.
ANNOTATOR = AnnotatorModel(
    onset_bias=-3.0, apex_bias=3.0, offset_bias=2.0, onset_sd=1.5, apex_sd=2.0, offset_sd=2.0
)


def casme2_twin_spec(scale: float = 1.0) -> TwinSpec:
    """The CASME II twin at ``scale``: fewer subjects and clips, every class kept.

    Clip lengths do not scale: a small twin has the same timing as the full one.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    counts = {label: scaled_count(count, scale, minimum=2) for label, count in CLASS_COUNTS.items()}
    n_samples = sum(counts.values())
    return TwinSpec(
        dataset="casme2",
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts=counts,
        expressions=EXPRESSIONS,
        # spans of the real 5-class rows: onset->apex median 31 (IQR 23-42); apex->offset median 30
        onset_to_apex=SpanModel(median=31.0, log_sd=0.45, low=8, high=90),
        apex_to_offset=SpanModel(median=30.0, log_sd=0.45, low=8, high=100),
        margin_frames=(4, 12),
        first_frame=(1, 300),
        au_weight=(0.6, 1.4),
        # the real file writes '/' for a few apexes; about 1% of rows here
        missing_apex_rows=max(1 if scale >= 0.5 else 0, round(0.01 * n_samples)),
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
    )


def name_casme2_clips(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct clip names like the real ones: EP<episode>_<occurrence>, maybe a letter."""
    names: dict[str, str] = {}
    while len(names) < n:
        stem = f"EP{int(rng.integers(1, 20)):02d}_{int(rng.integers(1, 16)):02d}"
        suffix = str(rng.choice(["", "f", "f", "f", "a", "b", "c"]))
        names.setdefault(stem, stem + suffix)
    return list(names.values())


# In the real coding file sub18 has only 'others' rows, so the 3-class split has 25 subjects.
OTHERS_ONLY_SUBJECT = 18


def plan_casme2_twin(spec: TwinSpec, seed: int) -> list[ClipPlan]:
    """Clip plans of the twin, with subject 18 (when present) holding only 'others' clips."""
    plans = plan_twin(spec, seed, name_casme2_clips)
    donors = [i for i, p in enumerate(plans)
              if p.emotion == "others" and p.subject != OTHERS_ONLY_SUBJECT]
    for i, plan in enumerate(plans):
        if plan.subject == OTHERS_ONLY_SUBJECT and plan.emotion != "others":
            j = donors.pop()
            plans[i], plans[j] = swap_labels(plans[i], plans[j])
    return plans


def write_casme2_twin(
    out_dir: Path, scale: float = 1.0, seed: int = 0, *, distractors: Distractors = DISTRACTORS
) -> Path:
    """Write the twin into ``out_dir`` (the CASME2 folder itself) in the native CASME II layout."""
    spec = casme2_twin_spec(scale)
    plans = plan_casme2_twin(spec, seed)
    with staged_directory(Path(out_dir)) as stage:
        write_sheet(stage / CODING_FILE, HEADER, (_coding_row(plan) for plan in plans))

        def frame_path(plan: ClipPlan, number: int) -> Path:
            return stage / "Cropped" / subject_id(plan.subject) / plan.clip / f"reg_img{number}.jpg"

        n_frames = write_frames(plans, seed, spec.fps, distractors, frame_path)
        write_truth(stage, (truth_record(plan, f"casme2/{subject_id(plan.subject)}/{plan.clip}",
                                         subject_id(plan.subject)) for plan in plans))
        # written last: its presence marks a complete twin
        write_manifest(stage / TWIN_MARKER, spec, seed, plans, n_frames, distractors,
                       GENERATOR_VERSION, {"coding_file": CODING_FILE,
                                           "frames_layout": "Cropped/subNN/<Filename>/reg_img<N>.jpg"})
    return Path(out_dir)


def _coding_row(plan: ClipPlan) -> list[object]:
    apex = MISSING_APEX if plan.annotated.apex is None else plan.annotated.apex
    return [
        plan.subject,
        plan.clip,
        None,
        plan.annotated.onset,
        apex,
        plan.annotated.offset,
        None,
        plan.action_units_text,
        plan.emotion,
    ]
