"""Known annotation errors, fixed by named rules, each fix recorded so the doctor can show it.

A reader returns the annotation as written; `apply_errata` then applies the dataset's rules in
order, before validation judges the rows (see ``mer_bench.data.loading``). A rule looks at one
sample and either leaves it alone (returns None) or returns the corrected sample and one line
saying what changed. Nothing is fixed silently: every applied fix comes back as an `AppliedFix`,
is listed by `mer-bench doctor`, and is counted in run output. An erratum corrects the annotation;
writing a label in one case ('Others' as 'others') is a normalisation, reported apart.

Generic rules leave a row whose onset is after its offset alone: nothing but a rule naming that
row can know what was meant, and validation excludes it otherwise.

A missing apex is not an error of the annotation and is left missing here: every strategy and side
fills it by the dataset's rule (`mer_bench.missing_apex`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

from mer_bench.data.sample import KeyFrames, Sample

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


# How far outside onset..offset an apex may lie and still be taken as the coder's slip at the
# clip's edge: 50 ms, at least 2 frames (200 fps: 10 frames, 100: 5, 60: 3, 30: 2). Coders place
# key frames to within a few tens of ms, and 50 ms is a tenth of the longest micro-expression
# (500 ms), so a clamped apex stays near where the coder saw the peak. SAMM's 028_4_1 (apex 1143,
# offset 1134: 45 ms late) is such a slip; its 032_3_1 (apex 1930 for onset 4896, offset 4970:
# 15 s early, likely a slipped digit) is not, and clamping it to the onset would make its
# onset -> apex input no motion at all.
APEX_TOLERANCE_S = 0.05


def apex_tolerance(fps: float) -> int:
    """Frames an apex may lie outside onset..offset and be clamped: 50 ms, at least 2 frames."""
    return max(2, round(APEX_TOLERANCE_S * fps))


def _apex_outside(sample: Sample) -> tuple[int, int, int] | None:
    """(apex, frames outside onset..offset, tolerance) of an apex outside a well-ordered clip."""
    kf = sample.annotated
    if kf.apex is None or kf.onset > kf.offset or kf.onset <= kf.apex <= kf.offset:
        return None
    distance = kf.onset - kf.apex if kf.apex < kf.onset else kf.apex - kf.offset
    return kf.apex, distance, apex_tolerance(sample.fps)


def _apex_near_clamped(sample: Sample) -> tuple[Sample, str] | None:
    outside = _apex_outside(sample)
    if outside is None or outside[1] > outside[2]:
        return None
    kf = sample.annotated
    apex = min(max(kf.apex, kf.onset), kf.offset)
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, apex, kf.offset))
    return fixed, (f"apex {kf.apex} is {outside[1]} frames outside onset..offset "
                   f"{kf.onset}..{kf.offset} (within {outside[2]}); clamped to {apex}")


def _apex_far_missing(sample: Sample) -> tuple[Sample, str] | None:
    outside = _apex_outside(sample)
    if outside is None or outside[1] <= outside[2]:
        return None
    kf = sample.annotated
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, None, kf.offset))
    return fixed, (f"apex {kf.apex} is {outside[1]} frames outside onset..offset "
                   f"{kf.onset}..{kf.offset} (more than {outside[2]}); counted as missing")


def _offset_to_last_frame(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
    if not sample.frame_numbers or kf.onset > kf.offset:
        return None
    last = sample.frame_numbers[-1]
    if kf.offset <= last:
        return None
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, kf.apex, last))
    return fixed, f"offset {kf.offset} past the clip's last frame; set to {last}"


APEX_OUTSIDE_CLAMPED = ErratumRule(
    "apex-outside-clamped",
    "An apex at most 50 ms (2 frames or more) outside onset..offset, a slip at the clip's edge, "
    "is clamped to the nearer end of the interval.",
    _apex_near_clamped)
APEX_FAR_OUTSIDE_MISSING = ErratumRule(
    "apex-far-outside-missing",
    "An apex farther than that outside onset..offset (e.g. a slipped digit) says nothing about "
    "where the peak is: it counts as missing (apex None), and the dataset's one missing-apex "
    "rule places it.",
    _apex_far_missing)

OFFSET_PAST_LAST_FRAME = ErratumRule(
    "offset-past-last-frame",
    "An offset beyond the clip's last frame becomes the last frame (clips of SAMM and MMEW end at "
    "the coded offset; MEB hand-corrects one SAMM and 16 MMEW rows). Applied before the apex "
    "rules, so a missing or stray apex is placed within the corrected onset..offset.",
    _offset_to_last_frame)

# The apex rules, in order. After the errata ``apex is None`` means missing (written as missing,
# or far outside its clip); `mer_bench.missing_apex` fills it by the dataset's one rule.
APEX_RULES: tuple[ErratumRule, ...] = (APEX_OUTSIDE_CLAMPED, APEX_FAR_OUTSIDE_MISSING)
COMMON_RULES: tuple[ErratumRule, ...] = APEX_RULES

# For datasets whose clip folders end at the coded offset (SAMM, MMEW): the offset is fixed before
# the apex rules, so that a missing or stray apex is placed within the corrected onset..offset.
OFFSET_FIRST_RULES: tuple[ErratumRule, ...] = (OFFSET_PAST_LAST_FRAME, *APEX_RULES)
