"""What a twin contains, before any pixel is drawn: its spec and one plan per clip."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from mer_bench.data.sample import KeyFrames
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.difficulty import Difficulty
from mer_bench.synth.motion import ActionUnit, format_action_units, parse_action_units

# Independent random streams, so that e.g. changing how faces are drawn never reshuffles labels,
# and changing how they move (the difficulty knobs) never moves a key frame.
(
    STREAM_LABELS,
    STREAM_SUBJECTS,
    STREAM_NAMES,
    STREAM_CLIP,
    STREAM_FACE,
    STREAM_PIXELS,
    STREAM_MISSING,
    STREAM_EXPRESSION,
) = range(8)

ExpressionTable = Mapping[str, Sequence[tuple[str, float]]]
NameClips = Callable[[np.random.Generator, int], list[str]]


def stream(seed: int, kind: int, *keys: int) -> np.random.Generator:
    """A generator for one purpose and one (subject, clip); never the global numpy RNG."""
    return np.random.default_rng(np.random.SeedSequence([seed, kind, *keys]))


def scaled_count(count: int, scale: float, minimum: int) -> int:
    return max(minimum, round(count * scale))


@dataclass(frozen=True)
class SpanModel:
    """Log-normal length in frames (median and log-sd), clipped to [low, high]."""

    median: float
    log_sd: float
    low: int
    high: int

    def draw(self, rng: np.random.Generator) -> int:
        value = self.median * np.exp(rng.normal(0.0, self.log_sd))
        return int(np.clip(round(value), self.low, self.high))


@dataclass(frozen=True)
class TwinSpec:
    """The shape of a twin: subjects, classes and their AU sets, timing, annotator, difficulty."""

    dataset: str
    fps: float
    scale: float
    n_subjects: int
    class_counts: Mapping[str, int]
    expressions: ExpressionTable
    onset_to_apex: SpanModel
    apex_to_offset: SpanModel
    # the clip starts / ends this many frames before the true onset / after the true offset
    margin_frames: tuple[int, int]
    first_frame: tuple[int, int]  # the clip's first frame number is drawn from this range
    au_weight: tuple[float, float]  # per-sample strength of each AU relative to the others
    missing_apex_rows: int  # rows whose apex is written as missing
    annotator: AnnotatorModel
    difficulty: Difficulty  # motion amplitude, confusable share, distractors (calibrated)

    @property
    def n_samples(self) -> int:
        return sum(self.class_counts.values())


@dataclass(frozen=True)
class ClipPlan:
    """Everything about one clip except its pixels."""

    subject: int  # 1-based subject number
    index: int  # position of the clip within its subject (keys its random streams)
    clip: str
    emotion: str
    action_units: tuple[ActionUnit, ...]
    au_weights: tuple[float, ...]
    amplitude_px: float
    first_frame: int
    n_frames: int
    truth: KeyFrames
    annotated: KeyFrames
    apex_missing: bool

    @property
    def frame_numbers(self) -> np.ndarray:
        return np.arange(self.first_frame, self.first_frame + self.n_frames)

    @property
    def action_units_text(self) -> str:
        return format_action_units(self.action_units)


def plan_twin(spec: TwinSpec, seed: int, name_clips: NameClips) -> list[ClipPlan]:
    """One plan per clip, sorted by (subject, clip name); ``name_clips(rng, n)`` names n clips."""
    if spec.n_samples < spec.n_subjects:
        raise ValueError(
            f"{spec.n_samples} samples cannot give each of {spec.n_subjects} subjects one"
        )
    labels = [emotion for emotion, count in spec.class_counts.items() for _ in range(count)]
    stream(seed, STREAM_LABELS).shuffle(labels)
    subjects = assign_subjects(spec.n_samples, spec.n_subjects, stream(seed, STREAM_SUBJECTS))
    plans: list[ClipPlan] = []
    for subject in range(1, spec.n_subjects + 1):
        emotions = [
            label for label, owner in zip(labels, subjects, strict=True) if owner == subject
        ]
        names = sorted(name_clips(stream(seed, STREAM_NAMES, subject), len(emotions)))
        for index, (name, emotion) in enumerate(zip(names, emotions, strict=True)):
            plans.append(plan_clip(spec, seed, subject, index, name, emotion))
    missing = set(
        stream(seed, STREAM_MISSING).choice(len(plans), size=spec.missing_apex_rows, replace=False)
    )
    return [_with_missing_apex(plan) if i in missing else plan for i, plan in enumerate(plans)]


def assign_subjects(n_samples: int, n_subjects: int, rng: np.random.Generator) -> list[int]:
    """Subject number per sample, spread unevenly as in real data; every subject gets at least one.

    Real CASME II has 2 to 36 clips per subject, so each subject gets two where there are enough.
    """
    floor = 2 if n_samples >= 2 * n_subjects else 1
    weights = rng.dirichlet(np.full(n_subjects, 1.5))
    extra = rng.choice(n_subjects, size=n_samples - floor * n_subjects, p=weights)
    owners = np.concatenate([np.repeat(np.arange(n_subjects), floor), extra]) + 1
    rng.shuffle(owners)
    return [int(owner) for owner in owners]


def plan_clip(spec: TwinSpec, seed: int, subject: int, index: int, name: str,
              emotion: str) -> ClipPlan:
    """One clip of ``subject``: timing and annotation from the clip's stream, how the face moves
    (action units, their weights, amplitude) from the expression stream, so that the difficulty
    knobs never move a key frame."""
    rng = stream(seed, STREAM_CLIP, subject, index)
    rise = spec.onset_to_apex.draw(rng)
    fall = spec.apex_to_offset.draw(rng)
    before = int(rng.integers(spec.margin_frames[0], spec.margin_frames[1] + 1))
    after = int(rng.integers(spec.margin_frames[0], spec.margin_frames[1] + 1))
    first = int(rng.integers(spec.first_frame[0], spec.first_frame[1] + 1))
    onset = first + before
    truth = KeyFrames(onset=onset, apex=onset + rise, offset=onset + rise + fall)
    n_frames = before + rise + fall + after + 1
    annotated = spec.annotator.annotate(truth, first, first + n_frames - 1, rng)

    look = stream(seed, STREAM_EXPRESSION, subject, index)
    moves_as = spec.difficulty.moves_as(emotion, spec.class_counts, look)
    # drawn before the AUs, whose number varies: a clip keeps its amplitude quantile across knobs
    amplitude = float(look.uniform(*spec.difficulty.amplitude_px))
    combos = spec.expressions[moves_as]
    probabilities = np.array([weight for _, weight in combos], dtype=np.float64)
    choice = int(look.choice(len(combos), p=probabilities / probabilities.sum()))
    units = tuple(parse_action_units(combos[choice][0]))
    weights = tuple(float(look.uniform(*spec.au_weight)) for _ in units)
    return ClipPlan(
        subject=subject,
        index=index,
        clip=name,
        emotion=emotion,
        action_units=units,
        au_weights=weights,
        amplitude_px=amplitude,
        first_frame=first,
        n_frames=n_frames,
        truth=truth,
        annotated=annotated,
        apex_missing=False,
    )


def _with_missing_apex(plan: ClipPlan) -> ClipPlan:
    annotated = KeyFrames(onset=plan.annotated.onset, apex=None, offset=plan.annotated.offset)
    return replace(plan, annotated=annotated, apex_missing=True)


def swap_labels(a: ClipPlan, b: ClipPlan) -> tuple[ClipPlan, ClipPlan]:
    """The two plans with their expressions (label, AUs, AU weights) exchanged; timing stays."""
    return (replace(a, emotion=b.emotion, action_units=b.action_units, au_weights=b.au_weights),
            replace(b, emotion=a.emotion, action_units=a.action_units, au_weights=a.au_weights))
