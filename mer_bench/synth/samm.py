"""The SAMM twin: a spec mirroring the real coding workbook, and a writer of the native layout."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from mer_bench.data.samm import (
    CODING_FILE,
    FPS,
    FRAMES_FOLDER,
    HEADER,
    MICRO_SHEET,
    TWIN_VERSION,
    subject_id,
)
from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import (
    STREAM_LABELS,
    STREAM_MISSING,
    STREAM_NAMES,
    STREAM_SUBJECTS,
    ClipPlan,
    SpanModel,
    TwinSpec,
    _with_missing_apex,
    plan_clip,
    scaled_count,
    stream,
)
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import Scene, truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

GENERATOR_VERSION = TWIN_VERSION

# Rows per estimated emotion in SAMM_Micro_FACS_Codes_v2.xlsx (159 rows; counted, see
# shared/reference/mer-datasets-and-protocols.md section 2.3).
CLASS_COUNTS: dict[str, int] = {
    "Anger": 57,
    "Other": 26,
    "Happiness": 26,
    "Surprise": 15,
    "Contempt": 12,
    "Disgust": 9,
    "Fear": 8,
    "Sadness": 6,
}
# Subjects with a micro-expression in the coding file: 29 (reference section 1.1). The ids are
# SAMM's three-digit participant numbers; which 29 of 006..037 they are is assumed.
SUBJECT_NUMBERS: tuple[int, ...] = (6, 7, *range(9, 27), 28, *range(30, 38))
N_SUBJECTS = len(SUBJECT_NUMBERS)

# The protocols' subject counts constrain who holds what: the 5-class split (no Disgust, Fear,
# Sadness) sees 27 subjects and the MEGC 3-class split (no Other) 28. So exactly one subject holds
# only 'Other' rows, two hold only Disgust/Fear/Sadness rows, and every other subject holds at
# least one row of the labels both splits keep.
LABELS_IN_BOTH_SPLITS = frozenset({"Anger", "Contempt", "Happiness", "Surprise"})
ONLY_OUTSIDE_3CLASS = frozenset({"Other"})
ONLY_OUTSIDE_5CLASS = frozenset({"Disgust", "Fear", "Sadness"})

# Objective classes (I..VII, written 1..7) per estimated emotion. The column sums are the
# counted objective-class counts (I 24, II 13, III 20, IV 8, V 3, VI 7, VII 84); how they split
# over the emotions is assumed, following the AU basis of each class (I happiness, II surprise,
# III anger, IV disgust, V sadness, VI fear, VII contempt and others).
OBJECTIVE_TABLE: dict[str, dict[int, int]] = {
    "Anger": {3: 18, 4: 3, 7: 36},
    "Other": {1: 2, 7: 24},
    "Happiness": {1: 22, 7: 4},
    "Surprise": {2: 12, 7: 3},
    "Contempt": {7: 12},
    "Disgust": {3: 2, 4: 5, 7: 2},
    "Fear": {2: 1, 6: 6, 7: 1},
    "Sadness": {5: 3, 6: 1, 7: 2},
}
OBJECTIVE_COUNTS: dict[int, int] = {1: 24, 2: 13, 3: 20, 4: 8, 5: 3, 6: 7, 7: 84}

# AU combinations per emotion, in SAMM's notation (L/R for one side), with relative frequency.
# As in real coding, a minority of rows borrow another emotion's AUs.
EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "Anger": (("4+7", 0.35), ("4", 0.25), ("7", 0.15), ("4+5+7", 0.1), ("L4", 0.05),
              ("17", 0.1)),
    "Contempt": (("R14", 0.35), ("L14", 0.3), ("R12", 0.2), ("14", 0.15)),
    "Happiness": (("6+12", 0.4), ("12", 0.35), ("R12", 0.15), ("L12", 0.1)),
    "Surprise": (("1+2", 0.55), ("1+2+5", 0.2), ("2", 0.15), ("5", 0.1)),
    "Other": (("4", 0.2), ("25", 0.15), ("17", 0.15), ("L2", 0.15), ("7", 0.15), ("14", 0.2)),
    "Disgust": (("9", 0.3), ("10", 0.25), ("4+9", 0.25), ("9+10", 0.2)),
    "Fear": (("1+2+4+20", 0.4), ("20", 0.3), ("4+20", 0.3)),
    "Sadness": (("1+15", 0.4), ("15", 0.3), ("1+4+15", 0.3)),
}

# SAMM was coded by several FACS coders on a multi-ethnic participant pool at 200 fps; GAMDSS
# calls it "multicultural" and claims reselection corrects most there. So its coder errors are
# larger than CASME II's (onset -3 / apex +3 / offset +2, sd 1.5 / 2 / 2), and the offset, where
# the expression fades into neutral over tens of frames, is the least certain.
ANNOTATOR = AnnotatorModel(
    onset_bias=-4.0, apex_bias=4.0, offset_bias=5.0, onset_sd=2.5, apex_sd=3.0, offset_sd=4.5
)
# Calibrated (results/calibration.md) on STSTNet's SAMM part of the MEGC2019 composite.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.18, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors
# SAMM frames are 2040 x 1088 (often cited): the face sits in a wide frame, scaled down here.
SCENE = Scene(height=208, width=384)
# Estimated emotions are written in varying case in the workbook ('Anger', 'anger').
LOWER_CASE_LABEL_SHARE = 0.1
# Most frame names pad the number to 5 digits (006_05562.jpg); some subjects' use 4 (011_1234.jpg).
FOUR_DIGIT_SUBJECT_SHARE = 0.15
# The workbook's title and notes block: the header row is Excel row 14.
PREAMBLE: tuple[tuple[object, ...], ...] = (
    ("SAMM - Spontaneous Micro-Facial Movement Dataset",),
    ("Micro-movement FACS codes (synthetic twin written by mer-bench)",),
    (),
    ("Notes",),
    ("Onset, Apex and Offset are frame numbers of the clip's frame files.",),
    ("Action Units: L = left, R = right.",),
    ("Estimated Emotion: the emotion the coders estimate from the AUs and the stimulus.",),
    ("Objective Classes: AU-based classes 1..7 (Davison et al. 2018).",),
    ("Type: Micro - 1/2 = micro-movement shorter than 1/2 second.",),
    (),
    (),
    (),
    (),
)
MISSING_APEX_WRITTEN = -1  # assumed marker of the three unmarked apexes
# The two stray apexes of SAMM_Micro_FACS_Codes_v2.xlsx (mer-bench issue 15), clip -> (subject,
# written onset, apex, offset): 032_3_1's apex lies 15 s before its onset (likely a slipped digit;
# the MEGC2019 answer file leaves the clip out), 028_4_1's 9 frames past its offset (its onset is
# not given there: the twin's own). Written wherever the twin has those subjects (scale 1).
STRAY_APEXES: dict[str, tuple[int, int | None, int, int]] = {
    "032_3_1": (32, 4896, 1930, 4970),
    "028_4_1": (28, None, 1143, 1134),
}
NEGATIVE = frozenset({"Anger", "Contempt", "Disgust", "Fear", "Sadness"})  # MEGC 3-class
STREAM_OBJECTIVE, STREAM_STYLE = 100, 101  # SAMM-only random streams (see plan.stream)


# --- planning with constraints on which subject holds which labels -------------------------------


@dataclass(frozen=True)
class SubjectRule:
    """Labels a subject may hold (None: any), and labels it must hold at least one of."""

    needs_one_of: frozenset[str]
    allowed: frozenset[str] | None = None

    def allows(self, label: str) -> bool:
        return self.allowed is None or label in self.allowed


NameClipsOf = Callable[[np.random.Generator, int, int], list[str]]


def assign_by_rules(labels: Sequence[str], rules: Sequence[SubjectRule],
                    rng: np.random.Generator) -> list[int]:
    """Subject number (1-based) per label: each subject first gets one label it needs, then the
    rest go to subjects allowed them, spread unevenly as in real data."""
    owners = [0] * len(labels)
    free = list(range(len(labels)))
    for subject, rule in enumerate(rules, start=1):
        pick = next((i for i in free if labels[i] in rule.needs_one_of), None)
        if pick is None:
            raise ValueError(f"no label left for subject {subject}, which needs one of "
                             f"{sorted(rule.needs_one_of)}")
        owners[pick] = subject
        free.remove(pick)
    weights = rng.dirichlet(np.full(len(rules), 1.5))
    for i in free:
        allowed = np.array([s for s, rule in enumerate(rules) if rule.allows(labels[i])])
        if allowed.size == 0:
            raise ValueError(f"no subject may hold label {labels[i]!r}")
        p = weights[allowed] / weights[allowed].sum()
        owners[i] = int(rng.choice(allowed, p=p)) + 1
    return owners


def plan_by_rules(spec: TwinSpec, seed: int, name_clips: NameClipsOf,
                  rules: Sequence[SubjectRule]) -> list[ClipPlan]:
    """plan_twin with subject rules: one plan per clip, sorted by (subject, clip name).

    ``name_clips(rng, subject, n)`` names the n clips of one subject.
    """
    if len(rules) != spec.n_subjects:
        raise ValueError(f"{len(rules)} subject rules for {spec.n_subjects} subjects")
    labels = [emotion for emotion, count in spec.class_counts.items() for _ in range(count)]
    stream(seed, STREAM_LABELS).shuffle(labels)
    owners = assign_by_rules(labels, rules, stream(seed, STREAM_SUBJECTS))
    plans: list[ClipPlan] = []
    for subject in range(1, spec.n_subjects + 1):
        emotions = [label for label, owner in zip(labels, owners, strict=True) if owner == subject]
        names = sorted(name_clips(stream(seed, STREAM_NAMES, subject), subject, len(emotions)))
        for index, (name, emotion) in enumerate(zip(names, emotions, strict=True)):
            plans.append(plan_clip(spec, seed, subject, index, name, emotion))
    missing = set(stream(seed, STREAM_MISSING).choice(len(plans), size=spec.missing_apex_rows,
                                                       replace=False))
    return [_with_missing_apex(plan) if i in missing else plan for i, plan in enumerate(plans)]


# --- the SAMM spec -----------------------------------------------------------------------------


def samm_twin_spec(scale: float = 1.0) -> TwinSpec:
    """The SAMM twin at ``scale``: fewer subjects and clips, every emotion kept.

    Clip lengths do not scale: a small twin has the same timing as the full one.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1] (SAMM has {N_SUBJECTS} subjects), got {scale}")
    counts = {label: scaled_count(count, scale, minimum=2) for label, count in CLASS_COUNTS.items()}
    return TwinSpec(
        dataset="samm",
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts=counts,
        expressions=EXPRESSIONS,
        # spans of the real 5-class rows (GAMDSS reference section 1): onset->apex median 32,
        # apex->offset median 40.5 frames at 200 fps
        onset_to_apex=SpanModel(median=32.0, log_sd=0.5, low=8, high=120),
        apex_to_offset=SpanModel(median=40.5, log_sd=0.5, low=8, high=160),
        margin_frames=(6, 18),  # room for the annotator's late offsets
        # frame numbers run through long recordings (006_05562.jpg)
        first_frame=(100, 12000),
        au_weight=(0.6, 1.4),
        # three rows of the real workbook have no apex; at least one in every twin
        missing_apex_rows=max(1, round(3 * scale)),
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
    )


def samm_subject_rules(n_subjects: int, seed: int) -> list[SubjectRule]:
    """Per subject: one holds only Other, two only Disgust/Fear/Sadness, the rest need one of
    Anger/Contempt/Happiness/Surprise (see LABELS_IN_BOTH_SPLITS). Which ones is seeded."""
    special = stream(seed, STREAM_SUBJECTS, 1).choice(n_subjects, size=3, replace=False)
    rules = [SubjectRule(LABELS_IN_BOTH_SPLITS) for _ in range(n_subjects)]
    rules[special[0]] = SubjectRule(ONLY_OUTSIDE_3CLASS, ONLY_OUTSIDE_3CLASS)
    for index in special[1:]:
        rules[index] = SubjectRule(ONLY_OUTSIDE_5CLASS, ONLY_OUTSIDE_5CLASS)
    return rules


def objective_table(scale: float = 1.0) -> dict[str, dict[int, int]]:
    """OBJECTIVE_TABLE for the twin at ``scale``: each emotion's scaled count split over its
    objective classes in proportion (largest remainder); exact at scale 1."""
    spec_counts = samm_twin_spec(scale).class_counts
    table: dict[str, dict[int, int]] = {}
    for emotion, full in OBJECTIVE_TABLE.items():
        total = spec_counts[emotion]
        shares = {k: v * total / CLASS_COUNTS[emotion] for k, v in full.items()}
        split = {k: int(np.floor(s)) for k, s in shares.items()}
        by_remainder = sorted(full, key=lambda k: (-(shares[k] - split[k]), k))
        for k in by_remainder[: total - sum(split.values())]:
            split[k] += 1
        table[emotion] = {k: v for k, v in split.items() if v}
    return table


def objective_counts(scale: float = 1.0) -> dict[int, int]:
    counts: Counter[int] = Counter()
    for row in objective_table(scale).values():
        counts.update(row)
    return dict(sorted(counts.items()))


def name_samm_clips(rng: np.random.Generator, subject: int, n: int) -> list[str]:
    """n distinct clip names like the real ones: <subject>_<stimulus>_<occurrence> (006_1_2)."""
    prefix = subject_id(SUBJECT_NUMBERS[subject - 1])
    names: set[str] = set()
    while len(names) < n:
        names.add(f"{prefix}_{int(rng.integers(1, 8))}_{int(rng.integers(1, 13))}")
    return sorted(names)


def plan_samm_twin(scale: float = 1.0, seed: int = 0) -> list[ClipPlan]:
    spec = samm_twin_spec(scale)
    plans = plan_by_rules(spec, seed, name_samm_clips, samm_subject_rules(spec.n_subjects, seed))
    return with_stray_apexes(plans, spec.n_subjects)


def with_stray_apexes(plans: list[ClipPlan], n_subjects: int) -> list[ClipPlan]:
    """The plans with the clips of ``STRAY_APEXES`` where their subjects are in the twin: a clip
    of the subject (a negative one for 032_3_1, as in MEGC2019) is renamed and moved to the
    written onset..offset, its truth inside, its written apex the stray one."""
    plans = list(plans)
    for clip, (number, onset, apex, offset) in STRAY_APEXES.items():
        if number not in SUBJECT_NUMBERS[:n_subjects]:
            continue
        subject = SUBJECT_NUMBERS.index(number) + 1
        own = [i for i, p in enumerate(plans) if p.subject == subject]
        wanted = [i for i in own if plans[i].emotion in NEGATIVE] if number == 32 else own
        i = (wanted or own)[0]
        for j in own:  # a clip already named so gives the name up
            if plans[j].clip == clip and j != i:
                plans[j] = replace(plans[j], clip=plans[i].clip)
        plans[i] = _moved(replace(plans[i], clip=clip), onset, apex, offset)
    return sorted(plans, key=lambda p: (p.subject, p.clip))


def _moved(plan: ClipPlan, onset: int | None, apex: int, offset: int) -> ClipPlan:
    """``plan`` written as onset..offset with ``apex``; its true expression within, its folder
    from a few frames before the onset to the offset."""
    if onset is None:
        onset = offset - (plan.annotated.offset - plan.annotated.onset)
    span = offset - onset
    truth = KeyFrames(onset + span // 10, onset + span * 2 // 5, offset - span // 10)
    first = onset - 6
    return replace(plan, first_frame=first, n_frames=offset - first + 1, truth=truth,
                   annotated=KeyFrames(onset, apex, offset), apex_missing=False)


def assign_objective_classes(plans: Sequence[ClipPlan], scale: float, seed: int) -> list[int]:
    """Objective class (1..7) per plan, so that the counts follow ``objective_table(scale)``."""
    table = objective_table(scale)
    rng = stream(seed, STREAM_OBJECTIVE)
    classes = [0] * len(plans)
    for emotion, split in table.items():
        rows = [i for i, plan in enumerate(plans) if plan.emotion == emotion]
        pool = [k for k, count in split.items() for _ in range(count)]
        rng.shuffle(pool)
        for i, objective in zip(rows, pool, strict=True):
            classes[i] = objective
    return classes


# --- writing -----------------------------------------------------------------------------------


def write_samm_twin(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                    distractors: Distractors = DISTRACTORS) -> Path:
    """Write the twin into ``out_dir`` (the SAMM folder itself) in the native SAMM layout."""
    spec = samm_twin_spec(scale)
    plans = plan_samm_twin(scale, seed)
    objectives = assign_objective_classes(plans, scale, seed)
    style = stream(seed, STREAM_STYLE)
    lower = style.random(len(plans)) < LOWER_CASE_LABEL_SHARE
    four_digit = {s for s in range(1, spec.n_subjects + 1)
                  if style.random() < FOUR_DIGIT_SUBJECT_SHARE}
    with staged_directory(Path(out_dir)) as stage:
        rows = [_coding_row(plan, objective, low)
                for plan, objective, low in zip(plans, objectives, lower, strict=True)]
        write_sheet(stage / CODING_FILE, PREAMBLE[0], [*PREAMBLE[1:], HEADER, *rows],
                    sheet_title=MICRO_SHEET)

        def frame_path(plan: ClipPlan, number: int) -> Path:
            sid = _sid(plan)
            digits = 4 if plan.subject in four_digit else 5
            return stage / FRAMES_FOLDER / sid / plan.clip / f"{sid}_{number:0{digits}d}.jpg"

        n_frames = write_frames(plans, seed, spec.fps, distractors, frame_path, scene=SCENE)
        write_truth(stage, (truth_record(plan, f"samm/{_sid(plan)}/{plan.clip}", _sid(plan))
                            for plan in plans))
        layout: Mapping[str, object] = {
            "coding_file": CODING_FILE,
            "coding_sheet": MICRO_SHEET,
            "frames_layout": "SAMM/<sss>/<Filename>/<sss>_<NNNNN>.jpg",
            "scene": [SCENE.height, SCENE.width],
            "objective_classes": {str(k): v for k, v in sorted(Counter(objectives).items())},
        }
        # written last: its presence marks a complete twin
        write_manifest(stage / TWIN_MARKER, spec, seed, plans, n_frames, distractors,
                       GENERATOR_VERSION, layout)
    return Path(out_dir)


def _sid(plan: ClipPlan) -> str:
    return subject_id(SUBJECT_NUMBERS[plan.subject - 1])


def _coding_row(plan: ClipPlan, objective: int, lower_case: bool) -> list[object]:
    apex = MISSING_APEX_WRITTEN if plan.annotated.apex is None else plan.annotated.apex
    onset, offset = plan.annotated.onset, plan.annotated.offset
    inducement = int(plan.clip.split("_")[1])
    return [
        _sid(plan),
        plan.clip,
        inducement,
        onset,
        apex,
        offset,
        offset - onset + 1,
        "Micro - 1/2",
        plan.action_units_text,
        plan.emotion.lower() if lower_case else plan.emotion,
        objective,
        None,
    ]
