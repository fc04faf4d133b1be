"""Known annotation errors, fixed by named rules, each fix recorded so the doctor can show it.

A reader returns the annotation as written; `apply_errata` then applies the dataset's rules in
order. A rule looks at one sample and either leaves it alone (returns None) or returns the
corrected sample and one line saying what changed. Nothing is fixed silently: every applied fix
comes back as an `AppliedFix`, is listed by `mer-bench doctor`, and is counted in run output.

A missing apex is not an error of the annotation and is left missing here: every strategy and side
fills it by the dataset's rule (`mer_bench.missing_apex`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

from mer_bench.data.sample import KeyFrames, Sample, normalise_label

Fix = Callable[[Sample], "tuple[Sample, str] | None"]


@dataclass(frozen=True)
class ErratumRule:
    name: str
    description: str
    fix: Fix


@dataclass(frozen=True)
class AppliedFix:
    rule: str
    sample_id: str
    what: str

    def __str__(self) -> str:
        return f"{self.sample_id}: {self.rule}: {self.what}"


def apply_errata(samples: Sequence[Sample], rules: Sequence[ErratumRule]
                 ) -> tuple[list[Sample], list[AppliedFix]]:
    fixed, applied = [], []
    for sample in samples:
        for rule in rules:
            outcome = rule.fix(sample)
            if outcome is not None:
                sample, what = outcome
                applied.append(AppliedFix(rule.name, sample.sample_id, what))
        fixed.append(sample)
    return fixed, applied


def _apex_outside_clamped(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
    if kf.apex is None or kf.onset <= kf.apex <= kf.offset:
        return None
    apex = min(max(kf.apex, kf.onset), kf.offset)
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, apex, kf.offset))
    return fixed, f"apex {kf.apex} outside onset..offset {kf.onset}..{kf.offset}; clamped to {apex}"


def _offset_to_last_frame(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
    last = sample.frame_numbers[-1]
    if kf.offset <= last:
        return None
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, kf.apex, last))
    return fixed, f"offset {kf.offset} past the clip's last frame; set to {last}"


def _label_spelling(sample: Sample) -> tuple[Sample, str] | None:
    canonical = normalise_label(sample.emotion)
    if canonical == sample.emotion:
        return None
    return (dataclasses.replace(sample, emotion=canonical),
            f"label {sample.emotion!r} written as {canonical!r}")


APEX_OUTSIDE_CLAMPED = ErratumRule(
    "apex-outside-clamped",
    "An apex outside onset..offset is clamped to the nearer end of the interval.",
    _apex_outside_clamped)
LABEL_SPELLING = ErratumRule(
    "label-spelling",
    "Emotion labels are lower-cased with single spaces ('Others' and 'others ' are 'others').",
    _label_spelling)

OFFSET_PAST_LAST_FRAME = ErratumRule(
    "offset-past-last-frame",
    "An offset beyond the clip's last frame becomes the last frame (clips of SAMM and MMEW end at "
    "the coded offset; MEB hand-corrects one SAMM and 16 MMEW rows). Applied before the apex "
    "rules, so a missing or stray apex is placed within the corrected onset..offset.",
    _offset_to_last_frame)

COMMON_RULES: tuple[ErratumRule, ...] = (LABEL_SPELLING, APEX_OUTSIDE_CLAMPED)

# For datasets whose clip folders end at the coded offset (SAMM, MMEW): the offset is fixed before
# the apex rules, so that a missing or stray apex is placed within the corrected onset..offset.
OFFSET_FIRST_RULES: tuple[ErratumRule, ...] = (LABEL_SPELLING, OFFSET_PAST_LAST_FRAME,
                                               APEX_OUTSIDE_CLAMPED)
