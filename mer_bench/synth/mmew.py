"""The MMEW twin: a spec mirroring MMEW's 300 micro-expressions, written in MMEW's native layout.

MMEW clips are cut at the coded onset and offset (OnsetFrame is 1 in every public row), so the
twin plans a longer take, lets the annotator mark it, then cuts the clip at the marks and numbers
its frames from 1. A few rows get the kind of apex/offset error MMEW is known for (MEB corrects
16 rows by hand); their true key frames stay in the truth sidecar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Collection, Sequence

import numpy as np

from mer_bench.data.mmew import FPS, FRAMES_DIR, HEADER, TWIN_VERSION, subject_id
from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.plan import (ClipPlan, SpanModel, TwinSpec, plan_twin, scaled_count, stream,
                                   swap_labels)
from mer_bench.synth.staging import TWIN_MARKER, staged_directory
from mer_bench.synth.truth import write_truth
from mer_bench.synth.writer import truth_record, write_frames, write_manifest
from mer_bench.synth.xlsx import write_sheet

GENERATOR_VERSION = TWIN_VERSION
CODING_FILE = "MMEW_Micro_Exp.xlsx"

# Micro-expressions per label: the six emotions as counted from HTNet's MMEW CSV (234 rows);
# others = 300 - 234.
CLASS_COUNTS: dict[str, int] = {
    "surprise": 89,
    "disgust": 72,
    "others": 66,
    "happiness": 36,
    "fear": 16,
    "sadness": 13,
    "anger": 8,
}
# 30 subjects have a non-'others' micro-expression in HTNet's CSV (S01..S30). That the 66
# 'others' rows come from the same 30 people is an assumption (36 participants is often cited).
N_SUBJECTS = 30
# Every subject keeps at least one sample of these labels, so that the 5-class (and 6-class)
# splits have all 30 subjects, as HTNet's CSVs do.
CORE_LABELS = frozenset({"happiness", "surprise", "disgust", "fear", "sadness"})

# The middle field of a Filename (S01-02-001: subject 1, surprise, first clip). Codes 01-03 and
# 05-07 are as in HTNet's CSV; 04 for 'others' is the one code left over (assumed).
EMOTION_CODES: dict[str, int] = {
    "happiness": 1,
    "surprise": 2,
    "disgust": 3,
    "others": 4,
    "fear": 5,
    "sadness": 6,
    "anger": 7,
}

# AU combinations per label, from the Action Units of HTNet's MMEW CSV, keeping the AUs the
# deformation model has (18, 23, 31 and 38 have none). 'others' rows are not public: their set
# is assumed, like CASME II's.
EXPRESSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "happiness": (("12", 0.5), ("6+12", 0.25), ("L12", 0.15), ("R12", 0.1)),
    "surprise": (("1+2+5", 0.35), ("5", 0.3), ("1+2", 0.1), ("26", 0.1), ("5+26", 0.1),
                 ("25", 0.05)),
    "disgust": (("4+7", 0.4), ("10", 0.15), ("4+10", 0.15), ("4+9", 0.1), ("L10", 0.1),
                ("4+7+10", 0.1)),
    "fear": (("4+5", 0.3), ("20", 0.25), ("14", 0.15), ("1+2+20", 0.15), ("4+14", 0.15)),
    "sadness": (("17", 0.4), ("1", 0.2), ("1+15", 0.2), ("14", 0.2)),
    "anger": (("7", 0.75), ("17", 0.25)),
    "others": (("4", 0.3), ("7", 0.2), ("L2", 0.15), ("14", 0.15), ("25", 0.2)),
}

# No published STSTNet figure to calibrate on: the share sits between the calibrated
# MEGC2019 twins' (CASME II 0.13, SMIC 0.145, SAMM 0.18); see results/calibration.md.
DIFFICULTY = Difficulty(amplitude_px=(1.0, 2.5), confusable_share=0.15, distractors=Distractors())
DISTRACTORS = DIFFICULTY.distractors

# MMEW was coded like the CASME family (Chinese participants and coders), so the biases keep
# CASME II's direction: onsets early, apexes and offsets late. CASME II's errors in time
# (-15 / +15 / +10 ms, jitter 7.5-10 ms) are under 1.4 frames at 90 fps and would mostly vanish
# when rounded to whole frames; coders step whole frames, so the jitter is floored at one frame
# and the offset, the least certain mark, gets the most.
ANNOTATOR = AnnotatorModel(
    onset_bias=-1.5, apex_bias=1.5, offset_bias=1.0, onset_sd=1.0, apex_sd=1.2, offset_sd=1.5
)

# Rows whose written apex lies outside onset..offset (MEB fixes 16 MMEW rows' apex and offset).
N_ERRATA = 16
STREAM_ERRATA = 100  # a random stream of its own, apart from those of synth.plan


def mmew_twin_spec(scale: float = 1.0) -> TwinSpec:
    """The MMEW twin at ``scale``: fewer subjects and clips, every class kept."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return TwinSpec(
        dataset="mmew",
        fps=FPS,
        scale=scale,
        n_subjects=scaled_count(N_SUBJECTS, scale, minimum=4),
        class_counts={label: scaled_count(count, scale, minimum=2)
                      for label, count in CLASS_COUNTS.items()},
        expressions=EXPRESSIONS,
        # HTNet's CSV (OnsetFrame always 1): ApexFrame has median about 14 (range 3-40),
        # OffsetFrame - ApexFrame about 24 frames (range 4-70), i.e. 0.15 s and 0.27 s at 90 fps.
        # The true rise is shorter than the written one: the cut leaves about 2 neutral frames
        # before the true onset and the coder marks the apex late.
        onset_to_apex=SpanModel(median=10.0, log_sd=0.45, low=3, high=40),
        apex_to_offset=SpanModel(median=24.0, log_sd=0.4, low=4, high=75),
        # the take before cutting: room for the coder to mark the onset early
        margin_frames=(4, 8),
        first_frame=(1, 1),
        au_weight=(0.6, 1.4),
        missing_apex_rows=0,  # no MMEW row is known to lack its apex
        annotator=ANNOTATOR,
        difficulty=DIFFICULTY,
    )


def n_errata_rows(scale: float) -> int:
    return scaled_count(N_ERRATA, scale, minimum=1)


def plan_mmew_twin(spec: TwinSpec, seed: int) -> list[ClipPlan]:
    """Clip plans as MMEW stores them, sorted by (subject, clip name)."""
    plans = plan_twin(spec, seed, _numbered_names)
    plans = cover_subjects(plans, CORE_LABELS)
    plans = [cut_at_coded_marks(plan) for plan in plans]
    plans = name_mmew_clips(plans)
    return plant_errata(plans, n_errata_rows(spec.scale), seed)


def _numbered_names(rng: np.random.Generator, n: int) -> list[str]:
    # placeholders: MMEW names encode the emotion, known only after planning (name_mmew_clips)
    return [f"{i:03d}" for i in range(n)]


def cover_subjects(plans: Sequence[ClipPlan], labels: Collection[str]) -> list[ClipPlan]:
    """Plans in which every subject has a sample labelled in ``labels``; class counts unchanged.

    A subject without one swaps a sample's expression with one from the subject richest in
    ``labels`` (deterministic, no randomness used).
    """
    plans = list(plans)
    subjects = sorted({plan.subject for plan in plans})
    for subject in subjects:
        mine = [i for i, p in enumerate(plans) if p.subject == subject]
        if any(plans[i].emotion in labels for i in mine):
            continue
        holdings: defaultdict[int, list[int]] = defaultdict(list)
        for i, plan in enumerate(plans):
            if plan.emotion in labels:
                holdings[plan.subject].append(i)
        donor = max(holdings, key=lambda s: (len(holdings[s]), -s))
        if len(holdings[donor]) < 2:
            raise ValueError(f"too few {sorted(labels)} samples to give every subject one")
        give, take = holdings[donor][-1], mine[0]
        plans[give], plans[take] = swap_labels(plans[give], plans[take])
    return plans


def cut_at_coded_marks(plan: ClipPlan) -> ClipPlan:
    """The clip cut at the coder's onset and offset and numbered from 1, as MMEW stores clips.

    True key frames always stay inside the clip: where the coder marked the onset after the true
    one (or the offset before it) the cut is made at the true frame, so the written onset is the
    first frame (1) and the written offset is at most the last.
    """
    start = min(plan.annotated.onset, plan.truth.onset)
    end = max(plan.annotated.offset, plan.truth.offset)
    shift = start - 1

    def renumber(kf: KeyFrames) -> KeyFrames:
        return KeyFrames(kf.onset - shift, None if kf.apex is None else kf.apex - shift,
                         kf.offset - shift)

    annotated = KeyFrames(start, plan.annotated.apex, plan.annotated.offset)
    return replace(plan, first_frame=1, n_frames=end - start + 1, truth=renumber(plan.truth),
                   annotated=renumber(annotated))


def name_mmew_clips(plans: Sequence[ClipPlan]) -> list[ClipPlan]:
    """Filenames S<subject>-<emotion code>-<n>, numbered per subject and emotion; sorted."""
    counters: defaultdict[tuple[int, str], int] = defaultdict(int)
    named = []
    for plan in sorted(plans, key=lambda p: (p.subject, p.index)):
        counters[plan.subject, plan.emotion] += 1
        clip = (f"{subject_id(plan.subject)}-{EMOTION_CODES[plan.emotion]:02d}-"
                f"{counters[plan.subject, plan.emotion]:03d}")
        named.append(replace(plan, clip=clip))
    return sorted(named, key=lambda p: (p.subject, p.clip))


def plant_errata(plans: Sequence[ClipPlan], count: int, seed: int) -> list[ClipPlan]:
    """``count`` rows get an ApexFrame written after the OffsetFrame (outside onset..offset).

    Every second one also gets an OffsetFrame written past the clip's last frame. The true key
    frames are untouched; the errata rules of the reader's dataset spec correct the annotation.
    """
    plans = list(plans)
    rng = stream(seed, STREAM_ERRATA)
    chosen = sorted(int(i) for i in rng.choice(len(plans), size=min(count, len(plans)),
                                               replace=False))
    for k, i in enumerate(chosen):
        plan = plans[i]
        last = plan.first_frame + plan.n_frames - 1
        offset = plan.annotated.offset
        if k % 2 == 1:
            offset = last + int(rng.integers(2, 11))
        apex = max(offset, last) + int(rng.integers(2, 16))
        plans[i] = replace(plan, annotated=KeyFrames(plan.annotated.onset, apex, offset))
    return plans


def errata_clips(plans: Sequence[ClipPlan]) -> list[str]:
    """Clips whose written apex lies outside onset..offset (the planted errors)."""
    return [p.clip for p in plans
            if p.annotated.apex is not None
            and not p.annotated.onset <= p.annotated.apex <= p.annotated.offset]


def write_mmew_twin(
    out_dir: Path, scale: float = 1.0, seed: int = 0, *, distractors: Distractors = DISTRACTORS
) -> Path:
    """Write the twin into ``out_dir`` (the MMEW folder itself) in the native MMEW layout."""
    spec = mmew_twin_spec(scale)
    plans = plan_mmew_twin(spec, seed)
    with staged_directory(Path(out_dir)) as stage:
        write_sheet(stage / CODING_FILE, HEADER, (_coding_row(plan) for plan in plans))

        def frame_path(plan: ClipPlan, number: int) -> Path:
            return stage / FRAMES_DIR / plan.emotion / plan.clip / f"{number}.jpg"

        n_frames = write_frames(plans, seed, spec.fps, distractors, frame_path)
        write_truth(stage, (truth_record(plan, _sample_id(plan), subject_id(plan.subject))
                            for plan in plans))
        layout = {
            "coding_file": CODING_FILE,
            "frames_layout": f"{FRAMES_DIR}/<emotion>/<Filename>/<N>.jpg",
            "planted_errata": errata_clips(plans),
        }
        write_manifest(stage / TWIN_MARKER, spec, seed, plans, n_frames, distractors,
                       GENERATOR_VERSION, layout)
    return Path(out_dir)


def _sample_id(plan: ClipPlan) -> str:
    return f"mmew/{subject_id(plan.subject)}/{plan.clip}"


def _coding_row(plan: ClipPlan) -> list[object]:
    kf = plan.annotated
    return [plan.subject, plan.clip, kf.onset, kf.apex, kf.offset, plan.action_units_text,
            plan.emotion, None]
