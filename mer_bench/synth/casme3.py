"""The CAS(ME)^3 Part A twin: a v2 label workbook and spNO.<n>/<letter>/color/<N>.jpg video folders.

Mirrors the v2 label file: 94 subjects, 860 rows, the seven emotions and the objective classes
I..VII at their counted totals, 30 fps, several micro-expressions per video letter (the clip id is
then ``<letter>_<onset>``), 3 labels written 'Others', no face crops (faces sit in a wider scene).
Each video folder holds only the frames around its clips, at their place in the video; the real
folders hold the whole recording, which the reader never lists.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from mer_bench.data.casme3 import (
    COLOR_DIR,
    FPS,
    HEADER,
    LABEL_FILE_V2,
    LABEL_SHEET,
    MEB_V2_FIXES,
    TWIN_VERSION,
    clip_id,
    meb_v2_correction,
    subject_id,
)
from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count, stream
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import Scene, truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

GENERATOR_VERSION = TWIN_VERSION

# Where the twin puts the workbook and the subject folders. Public code keeps the workbook in
# part_A/annotation/ and reads frames under part_A/data/...; the exact frame prefix is assumed.
LABEL_PATH = Path("part_A") / "annotation" / LABEL_FILE_V2
FRAMES_PATH = Path("part_A") / "data" / "part_A"

N_SUBJECTS = 94  # subjects with at least one row in the v2 label file
LARGEST_SUBJECT_NUMBER = 217  # subject ids run spNO.1 .. spNO.217 with gaps (HTNet's edited copy)
VIDEOS = tuple("abcdefghijklm")  # the 13 stimulus videos per subject
SCENE = Scene(height=216, width=384)  # 16:9 like the 1280x720 recordings, at the twin's scale
OTHERS_CAPITALISED = 3  # rows of the v2 file whose label is written 'Others'

# Rows per (emotion, objective class). Both totals are counted from the v2 label file (emotion:
# disgust 250, surprise 187, others 161, fear 86, anger 64, sad 57, happy 55; objective: VII 373,
# III 234, II 151, V 47, IV 37, I 15, VI 3); how they cross is not published and is assumed here,
# following the AU groups that define the objective classes (II brows/lids, III brow lowerer, ...).
JOINT_COUNTS: dict[str, dict[str, int]] = {
    "disgust": {"I": 2, "II": 10, "III": 120, "IV": 25, "V": 8, "VI": 0, "VII": 85},
    "surprise": {"I": 3, "II": 110, "III": 20, "IV": 0, "V": 14, "VI": 0, "VII": 40},
    "others": {"I": 4, "II": 20, "III": 40, "IV": 6, "V": 10, "VI": 1, "VII": 80},
    "fear": {"I": 1, "II": 8, "III": 30, "IV": 3, "V": 5, "VI": 2, "VII": 37},
    "anger": {"I": 1, "II": 0, "III": 12, "IV": 2, "V": 4, "VI": 0, "VII": 45},
    "sad": {"I": 0, "II": 2, "III": 10, "IV": 1, "V": 6, "VI": 0, "VII": 38},
    "happy": {"I": 4, "II": 1, "III": 2, "IV": 0, "V": 0, "VI": 0, "VII": 48},
}

# AU combinations per objective class, in the file's notation ('2+1', 'L2', 'R14'), restricted to
# the AUs the twin can animate. The emotion follows from the self-report, not the AUs (an AU-based
# classifier reaches F1 32.4 on CAS(ME)^3 per MEB), so the twin draws AUs from the objective class
# only: the emotion is then learnable just through its mix of classes, as in the real data.
OBJECTIVE_AUS: dict[str, tuple[tuple[str, float], ...]] = {
    "I": (("12", 0.5), ("R12", 0.2), ("6", 0.3)),
    "II": (("2+1", 0.45), ("5", 0.2), ("25", 0.15), ("L2+L1", 0.1), ("R2+R1", 0.1)),
    "III": (("4", 0.8), ("7+4", 0.2)),
    "IV": (("9+4", 0.5), ("9", 0.3), ("R10", 0.2)),
    "V": (("1", 0.6), ("15", 0.3), ("1+4", 0.1)),
    "VI": (("R20", 1.0),),
    "VII": (("14", 0.4), ("L14", 0.15), ("R14", 0.15), ("7", 0.15), ("17", 0.15)),
}

# CASME-family coders, at 30 fps: CASME II's biases (onset early, apex and offset late) are
# 10-15 ms, under half a frame here, so the twin keeps their direction with about a frame of error;
# the offset, where the movement fades out, is the least certain (the file's apex->offset spans are
# long-tailed).
ANNOTATOR = AnnotatorModel(
    onset_bias=-0.5, apex_bias=0.5, offset_bias=1.5, onset_sd=0.7, apex_sd=1.0, offset_sd=2.0
)
# True spans, chosen so that the annotated ones match the file's: onset->apex median 6 frames and
# under 2% of 10 or more (GAMDSS's lambda = 0 for 846 of 857 rows); apex->offset 10 or more for
# about 2/3 of rows (lambda_f >= 1 for ~565 of 857). The annotated apex->offset median, 12, and the
# long tail (a few rows span hundreds of frames) are assumed; the reference gives no median.
ONSET_TO_APEX = SpanModel(median=5.0, log_sd=0.18, low=2, high=14)
APEX_TO_OFFSET = SpanModel(median=11.0, log_sd=0.7, low=3, high=150)

DISTRACTORS = Distractors()
STREAM_LAYOUT = 40  # streams beyond plan.py's: where clips sit in their video, ids, spellings
STREAM_QUIRKS = 41


def casme3_joint_counts(scale: float = 1.0) -> dict[tuple[str, str], int]:
    """Rows per (emotion, objective class) at ``scale``.

    Each emotion keeps max(2, round(n * scale)) rows, shared among its objective classes in
    proportion (largest remainder), so scale 1 gives the joint table exactly.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    counts: dict[tuple[str, str], int] = {}
    for emotion, row in JOINT_COUNTS.items():
        total = sum(row.values())
        target = scaled_count(total, scale, minimum=2)
        shares = {obj: n * target / total for obj, n in row.items()}
        given = {obj: int(np.floor(share)) for obj, share in shares.items()}
        by_remainder = sorted(row, key=lambda obj: (-(shares[obj] - given[obj]), obj))
        for obj in by_remainder[: target - sum(given.values())]:
            given[obj] += 1
        counts.update({(emotion, obj): n for obj, n in given.items() if n > 0})
    return counts


def _label(emotion: str, objective: str) -> str:
    return f"{emotion}|{objective}"


def casme3_twin_spec(scale: float = 1.0) -> TwinSpec:
    """The twin at ``scale``; its labels are '<emotion>|<objective class>' pairs (see JOINT_COUNTS).

    Clip lengths do not scale: a small twin has the same timing as the full one.
    """
    joint = casme3_joint_counts(scale)
    return TwinSpec(
        dataset="casme3",
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts={_label(*key): n for key, n in joint.items()},
        expressions={_label(*key): OBJECTIVE_AUS[key[1]] for key in joint},
        onset_to_apex=ONSET_TO_APEX,
        apex_to_offset=APEX_TO_OFFSET,
        margin_frames=(4, 10),
        first_frame=(1, 1),  # placed within their video afterwards (see _place_in_videos)
        amplitude_px=(1.0, 2.5),
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,  # the v2 file writes every apex
        annotator=ANNOTATOR,
    )


def emotion_counts(spec: TwinSpec) -> Counter[str]:
    """Rows per emotion of a spec from `casme3_twin_spec`."""
    return _total_by(spec, part=0)


def objective_counts(spec: TwinSpec) -> Counter[str]:
    """Rows per objective class of a spec from `casme3_twin_spec`."""
    return _total_by(spec, part=1)


def _total_by(spec: TwinSpec, part: int) -> Counter[str]:
    totals: Counter[str] = Counter()
    for label, n in spec.class_counts.items():
        totals[label.split("|")[part]] += n
    return totals


def name_casme3_videos(rng: np.random.Generator, n: int) -> list[str]:
    """The video letter of each of a subject's n clips: a few letters, most with several clips."""
    if n == 1:
        return [str(rng.choice(VIDEOS))]
    distinct = int(np.clip(round(n * rng.uniform(0.4, 0.85)), 1, min(n - 1, len(VIDEOS))))
    chosen = [str(v) for v in rng.choice(VIDEOS, size=distinct, replace=False)]
    return chosen + [str(v) for v in rng.choice(chosen, size=n - distinct)]


def subject_numbers(seed: int, n_subjects: int) -> dict[int, int]:
    """Plan subject (1..n) -> spNO number, drawn without replacement from 1..217 in order."""
    pool = np.arange(1, max(LARGEST_SUBJECT_NUMBER, n_subjects) + 1)
    drawn = sorted(int(v) for v in stream(seed, STREAM_LAYOUT).choice(pool, n_subjects, False))
    return dict(zip(range(1, n_subjects + 1), drawn, strict=True))


def plan_casme3_twin(scale: float, seed: int) -> tuple[list[ClipPlan], dict[tuple[int, int], str]]:
    """Clip plans placed in their videos (clip = '<letter>_<onset>') and each one's objective class.

    Objective classes are keyed by (plan.subject, plan.index).
    """
    spec = casme3_twin_spec(scale)
    plans, objective = [], {}
    for plan in plan_twin(spec, seed, name_casme3_videos):
        emotion, klass = plan.emotion.split("|")
        objective[(plan.subject, plan.index)] = klass
        plans.append(replace(plan, emotion=emotion))
    return _place_in_videos(plans, seed), objective


def _place_in_videos(plans: list[ClipPlan], seed: int) -> list[ClipPlan]:
    """Lay each video's clips out one after another, apart, from a random start in the video."""
    placed: list[ClipPlan] = []
    by_video: dict[tuple[int, str], list[ClipPlan]] = {}
    for plan in plans:
        by_video.setdefault((plan.subject, plan.clip), []).append(plan)
    for (subject, video), group in sorted(by_video.items()):
        rng = stream(seed, STREAM_LAYOUT, subject, VIDEOS.index(video))
        start = int(rng.integers(1, 400))
        for plan in sorted(group, key=lambda p: p.index):
            moved = _shifted(plan, start - plan.first_frame)
            placed.append(replace(moved, clip=clip_id(video, moved.annotated.onset)))
            start += plan.n_frames + int(rng.integers(30, 900))
    return sorted(placed, key=lambda p: (p.subject, p.index))


def _shifted(plan: ClipPlan, delta: int) -> ClipPlan:
    def shift(kf: KeyFrames) -> KeyFrames:
        return KeyFrames(kf.onset + delta, None if kf.apex is None else kf.apex + delta,
                         kf.offset + delta)

    return replace(plan, first_frame=plan.first_frame + delta, truth=shift(plan.truth),
                   annotated=shift(plan.annotated))


def write_casme3_twin(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                      distractors: Distractors = DISTRACTORS) -> Path:
    """Write the twin into ``out_dir`` (the CAS(ME)3 folder itself) in the native Part A layout."""
    spec = casme3_twin_spec(scale)
    plans, objective = plan_casme3_twin(scale, seed)
    numbers = subject_numbers(seed, spec.n_subjects)
    capitalised = _capitalised_others(plans, seed, scale)
    with staged_directory(Path(out_dir)) as stage:
        (stage / LABEL_PATH).parent.mkdir(parents=True)
        in_file_order = file_order(plans, numbers)
        rows = (_label_row(p, subject_id(numbers[p.subject]), objective[(p.subject, p.index)],
                           (p.subject, p.index) in capitalised) for p in in_file_order)
        write_sheet(stage / LABEL_PATH, HEADER, rows, sheet_title=LABEL_SHEET)

        def frame_path(plan: ClipPlan, number: int) -> Path:
            return (stage / FRAMES_PATH / subject_id(numbers[plan.subject]) / _video(plan)
                    / COLOR_DIR / f"{number}.jpg")

        n_frames = write_frames(plans, seed, spec.fps, distractors, frame_path, scene=SCENE)
        write_truth(stage, (truth_record(p, f"casme3/{subject_id(numbers[p.subject])}/{p.clip}",
                                         subject_id(numbers[p.subject])) for p in plans))
        write_manifest(stage / TWIN_MARKER, spec, seed, plans, n_frames, distractors,
                       GENERATOR_VERSION, {
                           "label_file": LABEL_PATH.as_posix(),
                           "frames_layout": f"{FRAMES_PATH.as_posix()}/spNO.<n>/<letter>/"
                                            f"{COLOR_DIR}/<N>.jpg",
                           "scene": [SCENE.height, SCENE.width],
                           "objective_classes": dict(sorted(Counter(objective.values()).items())),
                           "others_capitalised": len(capitalised),
                       })
    return Path(out_dir)


def file_order(plans: list[ClipPlan], numbers: dict[int, int]) -> list[ClipPlan]:
    """The label rows' order: by subject number, video and onset, except that no row sits where
    MEB's fix of the v2 file would apply to it (the next row it would not apply to moves up
    instead), so that the twin's annotations stay the annotator model's."""
    ordered = sorted(plans, key=lambda p: (numbers[p.subject], _video(p), p.annotated.onset))
    for excel_row in sorted(MEB_V2_FIXES):
        i = excel_row - 2
        if i >= len(ordered) or meb_v2_correction(excel_row, ordered[i].annotated) is None:
            continue
        j = next((j for j in range(i + 1, len(ordered))
                  if meb_v2_correction(excel_row, ordered[j].annotated) is None), None)
        if j is not None:
            ordered.insert(i, ordered.pop(j))
    return ordered


def _video(plan: ClipPlan) -> str:
    return plan.clip.split("_")[0]


def _capitalised_others(plans: list[ClipPlan], seed: int, scale: float) -> set[tuple[int, int]]:
    """The clips whose 'others' label is written 'Others', as 3 rows of the v2 file are."""
    others = [(p.subject, p.index) for p in plans if p.emotion == "others"]
    count = min(len(others), max(1, round(OTHERS_CAPITALISED * scale)))
    picked = stream(seed, STREAM_QUIRKS).choice(len(others), size=count, replace=False)
    return {others[int(i)] for i in picked}


def _label_row(plan: ClipPlan, subject: str, objective: str, capitalised: bool) -> list[object]:
    aus = plan.action_units_text
    emotion = "Others" if capitalised else plan.emotion
    # a single AU is a number cell in the real file, a combination a text cell
    return [subject, _video(plan), plan.annotated.onset, plan.annotated.apex,
            plan.annotated.offset, int(aus) if aus.isdigit() else aus, objective, emotion]
