"""The CASME (I) twin: a spec mirroring the real coding file, and a writer of the native layout.

Most of CASME's shape is not published in the project's sources; every number marked "assumed"
below is the project's plausible choice, never a published figure.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mer_bench.data.casme import (
    CODING_NAME,
    DATASET,
    FPS,
    FRAMES_FOLDER,
    HEADER,
    TWIN_VERSION,
    subject_id,
)
from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count, stream
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

CODING_FILE = CODING_NAME  # MEB's name; the release's own .xls cannot be written reproducibly
MISSING_APEX2 = "\\"  # how the release writes an absent ApexF2

# Rows per label. ASSUMED: no per-class counts are published in the project's sources. The total
# is the 189 samples of MEB's CASME frame (the paper selects 195; a public notebook counts 193 rows
# in CASME-coded-20190721.xls); 'tense' is the file's name for AU4 alone, 'happiness' its name for
# the paper's 'amusement'.
CLASS_COUNTS: dict[str, int] = {
    "tense": 69,
    "disgust": 44,
    "repression": 38,
    "surprise": 20,
    "happiness": 9,
    "sadness": 6,
    "fear": 2,
    "contempt": 1,
}
# ASSUMED: 35 participants are often cited; 19 of them with a selected micro-expression is the
# figure the CASME LOSO literature uses, not one the project's sources confirm.
N_SUBJECTS = 19

# AU combinations per label in the file's notation ('4+17', '12'), with relative frequency.
# 'tense' is AU4 alone by the file's own rule; the rest follow FACS prototypes, with a minority
# borrowing another label's AUs as real estimated emotions do.
EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "tense": (("4", 0.8), ("4+7", 0.2)),
    "disgust": (("9", 0.3), ("4+9", 0.3), ("10", 0.15), ("4+10", 0.15), ("9+17", 0.1)),
    "repression": (("14", 0.3), ("17", 0.25), ("15+17", 0.2), ("4+17", 0.15), ("12", 0.1)),
    "surprise": (("1+2", 0.7), ("1+2+5", 0.15), ("2", 0.15)),
    "happiness": (("12", 0.5), ("6+12", 0.4), ("L12", 0.1)),
    "sadness": (("1+4+15", 0.5), ("15", 0.3), ("1+15", 0.2)),
    "fear": (("1+2+4+20", 0.5), ("4+20", 0.5)),
    "contempt": (("R14", 0.5), ("L14", 0.5)),
}

# No published STSTNet figure to calibrate on: the share sits between the calibrated
# MEGC2019 twins' (CASME II 0.13, SMIC 0.145, SAMM 0.18); see results/calibration.md.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.15, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors

# CASME and CASME II were coded by the same lab with the same procedure; GAMDSS's reading of
# CASME II coders (onset -3, apex +3, offset +2 frames at 200 fps, i.e. about -15 / +15 / +10 ms)
# is about -1 / +1 / +0.7 frames at 60 fps. The jitter is wider in time than CASME II's scaled
# (0.45 / 0.6 / 0.6 frames), because a 60 fps frame is 17 ms and coders cannot place a boundary
# more finely than a frame. Offsets stay the least certain of the three.
ANNOTATOR = AnnotatorModel(
    onset_bias=-1.0, apex_bias=1.0, offset_bias=0.7, onset_sd=0.8, apex_sd=1.0, offset_sd=1.0
)

# the share of rows whose apex phase has a last frame (ApexF2): 125 of 193 in a public notebook
APEX2_SHARE = 0.65
STREAM_APEX2 = 100  # a random stream of this module, apart from plan.py's streams


def casme_twin_spec(scale: float = 1.0) -> TwinSpec:
    """The CASME twin at ``scale``: fewer subjects and clips, every class kept.

    A class is never scaled below min(2, its full count), so contempt keeps its single clip.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    counts = {label: scaled_count(count, scale, minimum=min(2, count))
              for label, count in CLASS_COUNTS.items()}
    return TwinSpec(
        dataset=DATASET,
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts=counts,
        expressions=EXPRESSIONS,
        # ASSUMED spans: the rows a public notebook shows have onset->ApexF1 of 6-12 frames and
        # totals of 250-450 ms (15-27 frames); the paper caps micro-expressions near 500 ms.
        onset_to_apex=SpanModel(median=8.0, log_sd=0.35, low=3, high=20),
        apex_to_offset=SpanModel(median=10.0, log_sd=0.4, low=3, high=24),
        # room for the annotator's errors; the folder is cut afterwards (see cut_to_folder)
        margin_frames=(3, 5),
        first_frame=(20, 150),  # onsets of the rows seen run 63-113
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,  # ApexF1 is filled in every row of the release
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
    )


def name_casme_clips(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct clip names like the real ones: EP<episode>_<occurrence>, e.g. EP01_12, EP03_1."""
    names: set[str] = set()
    while len(names) < n:
        names.add(f"EP{int(rng.integers(1, 20)):02d}_{int(rng.integers(1, 16))}")
    return sorted(names)


def cut_to_folder(plan: ClipPlan) -> ClipPlan:
    """The clip as CASME ships it: the folder holds the annotated onset..offset frames.

    MEB checks that every CASME folder starts at OnsetF and ends at OffsetF. Where the coder cut
    into the expression (marked the onset late or the offset early), the folder is widened to the
    true key frames, so that the twin's truth always lies inside its clip.
    """
    first = min(plan.annotated.onset, plan.truth.onset)
    last = max(plan.annotated.offset, plan.truth.offset)
    return replace(plan, first_frame=first, n_frames=last - first + 1)


def plan_casme_twin(scale: float, seed: int) -> list[ClipPlan]:
    return [cut_to_folder(plan)
            for plan in plan_twin(casme_twin_spec(scale), seed, name_casme_clips)]


def write_casme_twin(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                     distractors: Distractors = DISTRACTORS) -> Path:
    """Write the twin into ``out_dir`` (the CASME folder itself) in the native CASME layout."""
    spec = casme_twin_spec(scale)
    plans = plan_casme_twin(scale, seed)
    with staged_directory(Path(out_dir)) as stage:
        write_sheet(stage / CODING_FILE, HEADER, (_coding_row(plan, seed) for plan in plans))
        n_frames = write_frames(plans, seed, FPS, distractors,
                                lambda plan, number: stage / _frame_path(plan, number))
        write_truth(stage, (truth_record(plan, f"{DATASET}/{subject_id(plan.subject)}/{plan.clip}",
                                         subject_id(plan.subject)) for plan in plans))
        layout = {"coding_file": CODING_FILE,
                  "frames_layout": f"{FRAMES_FOLDER}/subNN/<Filename>/reg_<Filename>-<N>.jpg"}
        write_manifest(stage / TWIN_MARKER, spec, seed, plans, n_frames, distractors,
                       TWIN_VERSION, layout)
    return Path(out_dir)


def _frame_path(plan: ClipPlan, number: int) -> Path:
    # ASSUMED naming: the release's frame names are not in the project's sources
    return Path(FRAMES_FOLDER, subject_id(plan.subject), plan.clip, f"reg_{plan.clip}-{number}.jpg")


def apex2_of(plan: ClipPlan, seed: int) -> int | None:
    """The last frame of the apex phase (ApexF2), or None where the row leaves it out."""
    rng = stream(seed, STREAM_APEX2, plan.subject, plan.index)
    apex = plan.annotated.apex
    if apex is None or rng.random() >= APEX2_SHARE:
        return None
    return min(apex + int(rng.integers(2, 7)), plan.annotated.offset)


def _coding_row(plan: ClipPlan, seed: int) -> list[object]:
    kf: KeyFrames = plan.annotated
    apex2 = apex2_of(plan, seed)
    to_ms = 1000.0 / FPS
    return [
        plan.subject,
        plan.clip,
        None,
        kf.onset,
        kf.apex,
        MISSING_APEX2 if apex2 is None else apex2,
        kf.offset,
        None,
        (kf.apex - kf.onset + 1) * to_ms,  # 'Onset': onset..ApexF1 in ms, both ends counted
        (kf.offset - kf.onset + 1) * to_ms,  # 'Total': onset..offset in ms
        plan.action_units_text,
        plan.emotion,
    ]
