"""The CAS(ME)^3 Part A twin: a v2 label workbook and spNO.<n>/<letter>/color/<N>.jpg video folders.

Mirrors the v2 label file: 94 subjects, 860 rows, the seven emotions and the objective classes
I..VII at their counted totals, 30 fps, several micro-expressions per video letter (the clip id is
then ``<letter>_<onset>``), no face crops (faces sit in a wider scene). Each video folder holds only
the frames around its clips, at their place in the video; the real folders hold the whole
recording, which the reader never lists.

It carries the public workbook's quirks (see ``mer_bench.data.casme3``): every frame number a text
cell ('355'); 3 labels written 'Others'; the sheets ``Sheet1`` (433 rows of something else, before
``label``) and an empty ``Sheet3`` (after it: the order is assumed, as an Excel file whose second
sheet was renamed ``label``); rows ordered by subject as text; and MEB's six wrong rows, written as
the v2 file writes them, at Excel rows 130, 710, 751, 752, 798, 800 at scale 1. Their frames are
those of the corrected rows, so only a reader that applies MEB's correction before looking frames
up reads them. At smaller scales the six rows are still written, with their subjects (spNO.40,
149, 214, 216 are always among the twin's subjects), values and labels, at the same relative
places in the shorter sheet; where a tiny twin has no clip of a row's label and objective class
to give it, the row keeps the label of the clip it replaces.
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
    MEB_V2_CORRECTIONS,
    TWIN_VERSION,
    MebCorrection,
    clip_id,
    subject_id,
)
from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count, stream
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import Scene, truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_workbook

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
N_ROWS = 860  # rows of the label sheet
OTHER_SHEET, OTHER_SHEET_ROWS, EMPTY_SHEET = "Sheet1", 433, "Sheet3"

# The AU, objective class and emotion of MEB's six rows as the v2 file writes them (Excel row ->
# cells); their subject, video and key frames are in data.casme3.MEB_V2_CORRECTIONS.
MEB_ROW_LABELS: dict[int, tuple[str, str, str]] = {
    130: ("T28+14", "VII", "fear"),
    710: ("17+4", "VII", "disgust"),
    751: ("38", "VII", "others"),
    752: ("14", "VII", "others"),
    798: ("18", "VII", "others"),
    800: ("14", "VII", "others"),
}
MEB_SUBJECTS = tuple(sorted({int(c.subject.removeprefix("spNO.")) for c in MEB_V2_CORRECTIONS}))
MEB_MARGIN = 4  # frames written before and after a corrected row's onset..offset

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

# No published STSTNet figure to calibrate on. CAS(ME)^3's labels follow the movement least
# of all datasets (MEB predicts the emotion from the coded AUs with F1 32%, against 87% on
# CASME II), so more of its clips move as another label's than on the calibrated twins.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.25, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors
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
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,  # the v2 file writes every apex
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
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
    """Plan subject (1..n) -> spNO number: the subjects of MEB's six rows, and the others drawn
    without replacement from 1..217, in order."""
    pool = np.array([k for k in range(1, max(LARGEST_SUBJECT_NUMBER, n_subjects) + 1)
                     if k not in MEB_SUBJECTS])
    drawn = [int(v) for v in stream(seed, STREAM_LAYOUT).choice(
        pool, n_subjects - len(MEB_SUBJECTS), False)]
    return dict(zip(range(1, n_subjects + 1), sorted([*MEB_SUBJECTS, *drawn]), strict=True))


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
    plans, meb_rows = with_meb_rows(plans, objective, numbers)
    capitalised = _capitalised_others([p for p in plans if _key(p) not in meb_rows], seed, scale)
    with staged_directory(Path(out_dir)) as stage:
        (stage / LABEL_PATH).parent.mkdir(parents=True)
        rows = [_meb_row(meb_rows[_key(p)], p.emotion, objective[_key(p)])
                if _key(p) in meb_rows else
                _label_row(p, subject_id(numbers[p.subject]), objective[_key(p)],
                           _key(p) in capitalised)
                for p in file_order(plans, numbers, meb_rows)]
        write_workbook(stage / LABEL_PATH, [
            (OTHER_SHEET, _other_sheet(plans, numbers, scale)),
            (LABEL_SHEET, [HEADER, *rows]),
            (EMPTY_SHEET, []),
        ])

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
                           "meb_rows": {str(c.excel_row): p.clip
                                        for p in plans if (c := meb_rows.get(_key(p)))},
                       })
    return Path(out_dir)


def _key(plan: ClipPlan) -> tuple[int, int]:
    return (plan.subject, plan.index)


def with_meb_rows(plans: list[ClipPlan], objective: dict[tuple[int, int], str],
                  numbers: dict[int, int]
                  ) -> tuple[list[ClipPlan], dict[tuple[int, int], MebCorrection]]:
    """The plans with six of them turned into MEB's rows, and those rows by plan key.

    Each row takes over a clip of its label and objective class (its expression and pixels), moves
    it to its subject, video and corrected frames, and pushes the subject's other clips of that
    video past it. Its truth is the corrected row (an apex on the onset moved a third inside).
    """
    by_number = {number: subject for subject, number in numbers.items()}
    taken: set[tuple[int, int]] = set()
    meb_rows: dict[tuple[int, int], MebCorrection] = {}
    plans = list(plans)
    for correction in MEB_V2_CORRECTIONS:
        subject = by_number[int(correction.subject.removeprefix("spNO."))]
        donor = _donor(plans, objective, correction, subject, taken)
        i = plans.index(donor)
        row = replace(_on_corrected_frames(donor, correction), subject=subject,
                      index=1000 + len(meb_rows),
                      clip=clip_id(correction.video, correction.written.onset))
        objective[_key(row)] = objective.pop(_key(donor))
        plans[i] = row
        taken.add(_key(row))
        meb_rows[_key(row)] = correction
    plans = _clear_meb_videos(plans, meb_rows)
    return sorted(plans, key=lambda p: (p.subject, p.index)), meb_rows


def _donor(plans: list[ClipPlan], objective: dict[tuple[int, int], str],
           correction: MebCorrection, subject: int, taken: set[tuple[int, int]]) -> ClipPlan:
    """A clip to become ``correction``'s row: of its label and class if any, from a subject that
    keeps another clip (so no subject disappears), its own subject's first."""
    _, klass, emotion = MEB_ROW_LABELS[correction.excel_row]
    per_subject = Counter(p.subject for p in plans)
    free = [p for p in plans if _key(p) not in taken and p.index < 1000
            and (p.subject == subject or per_subject[p.subject] > 1)]
    for fits in (lambda p: (p.emotion, objective[_key(p)]) == (emotion, klass),
                 lambda p: p.emotion == emotion, lambda p: True):
        found = sorted((p for p in free if fits(p)), key=lambda p: (p.subject != subject,
                                                                    p.subject, p.index))
        if found:
            return found[0]
    raise ValueError(f"no clip left to write row {correction.excel_row} of the v2 file")


def _on_corrected_frames(plan: ClipPlan, correction: MebCorrection) -> ClipPlan:
    fixed = correction.corrected
    apex = fixed.apex if fixed.onset < fixed.apex < fixed.offset else (
        fixed.onset + max(1, (fixed.offset - fixed.onset) // 3))
    first = max(1, fixed.onset - MEB_MARGIN)
    return replace(plan, first_frame=first, n_frames=fixed.offset + MEB_MARGIN - first + 1,
                   truth=KeyFrames(fixed.onset, apex, fixed.offset), annotated=fixed)


def _clear_meb_videos(plans: list[ClipPlan], meb_rows: dict[tuple[int, int], MebCorrection]
                      ) -> list[ClipPlan]:
    """The other clips of a video holding MEB rows, moved to follow the last of those rows."""
    ends: dict[tuple[int, str], int] = {}
    for plan in plans:
        if _key(plan) in meb_rows:
            video = (plan.subject, _video(plan))
            ends[video] = max(ends.get(video, 0), plan.first_frame + plan.n_frames)
    moved = []
    for plan in sorted(plans, key=lambda p: (p.subject, p.first_frame)):
        video = (plan.subject, _video(plan))
        if video in ends and _key(plan) not in meb_rows:
            plan = _shifted(plan, ends[video] + 60 - plan.first_frame)
            plan = replace(plan, clip=clip_id(video[1], plan.annotated.onset))
            ends[video] = plan.first_frame + plan.n_frames
        moved.append(plan)
    return moved


def file_order(plans: list[ClipPlan], numbers: dict[int, int],
               meb_rows: dict[tuple[int, int], MebCorrection]) -> list[ClipPlan]:
    """The label rows' order: by subject id as text (spNO.149 before spNO.40, as in the v2
    file), video and onset; MEB's rows at their Excel rows (scaled to a shorter sheet)."""
    others = sorted((p for p in plans if _key(p) not in meb_rows),
                    key=lambda p: (subject_id(numbers[p.subject]), _video(p), p.annotated.onset))
    placed = sorted(((meb_rows[_key(p)].excel_row, p) for p in plans if _key(p) in meb_rows),
                    key=lambda item: item[0])
    previous = -1
    for excel_row, plan in placed:
        index = max(previous + 1, round((excel_row - 2) * len(plans) / N_ROWS))
        others.insert(min(index, len(others)), plan)
        previous = index
    return others


def _video(plan: ClipPlan) -> str:
    return plan.clip.split("_")[0]


def _capitalised_others(plans: list[ClipPlan], seed: int, scale: float) -> set[tuple[int, int]]:
    """The clips whose 'others' label is written 'Others', as 3 rows of the v2 file are."""
    others = [_key(p) for p in plans if p.emotion == "others"]
    count = min(len(others), max(1, round(OTHERS_CAPITALISED * scale)))
    picked = stream(seed, STREAM_QUIRKS).choice(len(others), size=count, replace=False)
    return {others[int(i)] for i in picked}


def _label_row(plan: ClipPlan, subject: str, objective: str, capitalised: bool) -> list[object]:
    aus = plan.action_units_text
    emotion = "Others" if capitalised else plan.emotion
    kf = plan.annotated
    # frame numbers are text cells in the v2 file; a single AU is a number cell, a combination text
    return [subject, _video(plan), str(kf.onset), str(kf.apex), str(kf.offset),
            int(aus) if aus.isdigit() else aus, objective, emotion]


def _meb_row(correction: MebCorrection, emotion: str, objective: str) -> list[object]:
    """One of MEB's six rows as the v2 file writes it; its label and class are those of the clip
    it took over (the file's own wherever the twin had such a clip: always at scale 1)."""
    aus = MEB_ROW_LABELS[correction.excel_row][0]
    kf = correction.written
    return [correction.subject, correction.video, str(kf.onset), str(kf.apex), str(kf.offset),
            int(aus) if aus.isdigit() else aus, objective, emotion]


def _other_sheet(plans: list[ClipPlan], numbers: dict[int, int], scale: float
                 ) -> list[list[object]]:
    """``Sheet1``: not micro-expression labels. Its content is not documented, so the twin
    writes a table of another shape there (subject, video, frames written), 433 rows at scale 1."""
    videos = sorted({(subject_id(numbers[p.subject]), _video(p)) for p in plans})
    n = scaled_count(OTHER_SHEET_ROWS, scale, minimum=1)
    return [["Subject", "Filename", "Frames"],
            *([*videos[i % len(videos)], i + 1] for i in range(n))]
