"""The CAS(ME)^2 twin: a header-less code_final workbook and rawpic/ long-video frame folders.

The layout is the one `mer_bench.data.casme_sq` reads, which is ASSUMED (see its docstring), and so
are the counts below: the reference gives only 57 micro- and 300 macro-expressions (TAC 2018) and
"22 subjects often cited". Micro and macro rows share the videos and the numbering of expression
names, as in a spotting database; only the micro clips' frames are rendered (the macro rows exist
so that the reader's type filter is exercised, and no mer-bench protocol uses them).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mer_bench.data.casme_sq import (
    FPS,
    FRAME_PREFIX,
    FRAMES_DIR,
    MACRO,
    MICRO,
    TWIN_VERSION,
    VIDEO_CODES,
    subject_id,
    video_of,
)
from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count, stream
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import Scene, truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

GENERATOR_VERSION = TWIN_VERSION
CODING_FILE = "CAS(ME)^2code_final.xlsx"  # assumed name; the reader accepts any *code_final*.xlsx

# All assumed (the reference has only the 57 / 300 totals): micro rows per emotion ...
MICRO_COUNTS: dict[str, int] = {"negative": 21, "others": 19, "surprise": 9, "positive": 8}
# ... and macro rows per emotion
MACRO_COUNTS: dict[str, int] = {"negative": 112, "positive": 90, "others": 60, "surprise": 38}
N_SUBJECTS = 22  # unverified, "often cited"
FIRST_SUBJECT = 15  # subject folders s15, s16, ... (assumed)
SCENE = Scene(height=240, width=320)  # 4:3 like the (unverified) 640x480 recordings

# Folder description after the video code (rawpic/s15/15_0101disgustingteeth): assumed names.
VIDEO_FOLDERS: dict[str, str] = {
    "disgust1": "disgustingteeth",
    "disgust2": "eatingworms",
    "anger1": "girlcrashing",
    "anger2": "beatingpregnantwoman",
    "happy1": "funnyerrors",
    "happy2": "funnyfarting",
    "happy3": "funnyinnovations",
    "happy4": "climbingthewall",
    "happy5": "funnydunkey",
}
# Which videos elicit each emotion: negative expressions come from the disgust and anger videos,
# positive ones from the funny ones; surprise and others from any (assumed).
EMOTION_VIDEOS: dict[str, tuple[str, ...]] = {
    "negative": ("disgust1", "disgust2", "anger1", "anger2"),
    "positive": ("happy1", "happy2", "happy3", "happy4", "happy5"),
    "surprise": tuple(VIDEO_CODES),
    "others": tuple(VIDEO_CODES),
}
SELF_REPORTS: dict[str, tuple[str, ...]] = {
    "negative": ("disgust", "anger", "sadness"),
    "positive": ("happy", "funny"),
    "surprise": ("surprise",),
    "others": ("", "neutral"),
}

EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "positive": (("12", 0.5), ("6+12", 0.3), ("L12", 0.2)),
    "negative": (("4", 0.35), ("4+7", 0.2), ("9", 0.15), ("14", 0.15), ("15+17", 0.15)),
    "surprise": (("1+2", 0.6), ("5", 0.2), ("1+2+5", 0.2)),
    "others": (("4", 0.3), ("7", 0.2), ("17", 0.2), ("L2", 0.15), ("14", 0.15)),
}

# Coded by the CASME lab on 30 fps long videos, like CAS(ME)^3: the same small, CASME-family
# errors (about a frame; the offset least certain), with a slightly looser onset because the
# expressions were spotted in long recordings rather than cut clips.
ANNOTATOR = AnnotatorModel(
    onset_bias=-0.5, apex_bias=0.5, offset_bias=1.5, onset_sd=0.9, apex_sd=1.0, offset_sd=2.0
)
# Micro-expressions last under 0.5 s (15 frames): about 12 annotated frames; macro ones 0.5-4 s.
MICRO_SPANS = (SpanModel(median=4.0, log_sd=0.2, low=2, high=7),
               SpanModel(median=4.5, log_sd=0.3, low=2, high=8))
MACRO_SPANS = (SpanModel(median=12.0, log_sd=0.45, low=5, high=60),
               SpanModel(median=22.0, log_sd=0.5, low=6, high=120))

# No published STSTNet figure to calibrate on: the share sits between the calibrated
# MEGC2019 twins' (CASME II 0.13, SMIC 0.145, SAMM 0.18); see results/calibration.md.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.15, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors
STREAM_LAYOUT = 40  # streams beyond plan.py's
MACRO_SEED_OFFSET = 1_000_003  # macro plans come from their own streams


def casme_sq_twin_spec(scale: float = 1.0, *, macro: bool = False) -> TwinSpec:
    """The micro (or, with ``macro``, the macro) part of the twin at ``scale``."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    counts = MACRO_COUNTS if macro else MICRO_COUNTS
    rise, fall = MACRO_SPANS if macro else MICRO_SPANS
    return TwinSpec(
        dataset="casme-sq",
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts={label: scaled_count(n, scale, minimum=2) for label, n in counts.items()},
        expressions=EXPRESSIONS,
        onset_to_apex=rise,
        apex_to_offset=fall,
        margin_frames=(4, 10),
        first_frame=(1, 1),  # placed within their video afterwards
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
    )


def _placeholder_names(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct provisional names; the video and the expression number are set after planning."""
    return [f"clip{i:03d}" for i in range(n)]


def plan_casme_sq_twin(scale: float, seed: int) -> tuple[list[ClipPlan], list[ClipPlan]]:
    """(micro, macro) clip plans placed in their videos, named '<video>_<k>' in time order."""
    micro = plan_twin(casme_sq_twin_spec(scale), seed, _placeholder_names)
    macro = plan_twin(casme_sq_twin_spec(scale, macro=True), seed + MACRO_SEED_OFFSET,
                      _placeholder_names)
    tagged = [(plan, False) for plan in micro] + [(plan, True) for plan in macro]
    by_video: dict[tuple[int, str], list[tuple[ClipPlan, bool]]] = {}
    for plan, is_macro in tagged:
        rng = stream(seed, STREAM_LAYOUT, plan.subject, plan.index, int(is_macro))
        video = str(rng.choice(EMOTION_VIDEOS[plan.emotion]))
        by_video.setdefault((plan.subject, video), []).append((plan, is_macro))
    placed_micro, placed_macro = [], []
    for (subject, video), group in sorted(by_video.items()):
        rng = stream(seed, STREAM_LAYOUT, subject, list(VIDEO_CODES).index(video))
        order = rng.permutation(len(group))
        start = int(rng.integers(1, 300))
        for k, position in enumerate(order, start=1):
            plan, is_macro = group[int(position)]
            moved = _shifted(plan, start - plan.first_frame)
            moved = replace(moved, clip=f"{video}_{k}")
            (placed_macro if is_macro else placed_micro).append(moved)
            start += plan.n_frames + int(rng.integers(20, 600))
    return (sorted(placed_micro, key=lambda p: (p.subject, p.index)),
            sorted(placed_macro, key=lambda p: (p.subject, p.index)))


def _shifted(plan: ClipPlan, delta: int) -> ClipPlan:
    def shift(kf: KeyFrames) -> KeyFrames:
        return KeyFrames(kf.onset + delta, None if kf.apex is None else kf.apex + delta,
                         kf.offset + delta)

    return replace(plan, first_frame=plan.first_frame + delta, truth=shift(plan.truth),
                   annotated=shift(plan.annotated))


def subject_number(plan: ClipPlan) -> int:
    return FIRST_SUBJECT - 1 + plan.subject


def video_folder(plan: ClipPlan) -> str:
    """'rawpic/s15/<this>': '<NN>_<code><description>'."""
    video = video_of(plan.clip)
    return f"{subject_number(plan):02d}_{VIDEO_CODES[video]}{VIDEO_FOLDERS[video]}"


def write_casme_sq_twin(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                        distractors: Distractors = DISTRACTORS) -> Path:
    """Write the twin into ``out_dir`` (the CAS(ME)2 folder itself) in the assumed native layout."""
    spec = casme_sq_twin_spec(scale)
    micro, macro = plan_casme_sq_twin(scale, seed)
    with staged_directory(Path(out_dir)) as stage:
        rows = sorted([(plan, MICRO) for plan in micro] + [(plan, MACRO) for plan in macro],
                      key=lambda item: (subject_number(item[0]), video_of(item[0].clip),
                                        item[0].annotated.onset))
        first, *rest = [_coding_row(plan, kind, seed) for plan, kind in rows]
        # the sheet has no header row: its first data row takes the header's place
        write_sheet(stage / CODING_FILE, first, rest)

        def frame_path(plan: ClipPlan, number: int) -> Path:
            return (stage / FRAMES_DIR / subject_id(subject_number(plan)) / video_folder(plan)
                    / f"{FRAME_PREFIX}{number}.jpg")

        n_frames = write_frames(micro, seed, spec.fps, distractors, frame_path, scene=SCENE)
        write_truth(stage, (truth_record(p, f"casme-sq/{subject_id(subject_number(p))}/{p.clip}",
                                         subject_id(subject_number(p))) for p in micro))
        write_manifest(stage / TWIN_MARKER, spec, seed, micro, n_frames, distractors,
                       GENERATOR_VERSION, {
                           "coding_file": CODING_FILE,
                           "frames_layout": f"{FRAMES_DIR}/sNN/NN_<code><name>/"
                                            f"{FRAME_PREFIX}<N>.jpg",
                           "scene": [SCENE.height, SCENE.width],
                           "macro_rows": len(macro),
                           "layout_assumed": True,
                       })
    return Path(out_dir)


def _coding_row(plan: ClipPlan, kind: str, seed: int) -> list[object]:
    aus = plan.action_units_text
    rng = stream(seed, STREAM_LAYOUT, plan.subject, plan.index, 7 + (kind == MACRO))
    report = str(rng.choice(SELF_REPORTS[plan.emotion]))
    return [subject_number(plan), plan.clip, plan.annotated.onset, plan.annotated.apex,
            plan.annotated.offset, int(aus) if aus.isdigit() else aus, plan.emotion, kind,
            report or None]
