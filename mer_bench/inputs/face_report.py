"""The doctor's face-detection section: for each dataset that is cropped, how its clips got a box."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tabulate import tabulate

from mer_bench.data.sample import Sample
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import DEFAULT_SPEC, Exclusion, resolve_face_crops
from mer_bench.inputs.face_detect import DEFAULT_DETECTOR


@dataclass(frozen=True)
class FaceDetectionSummary:
    """Clips whose face was found on the first frame, on another frame, borrowed from the subject's
    other clips, and the clips excluded (no face anywhere)."""

    clips: int
    first_frame: int
    other_frame: int
    subject: int
    excluded: tuple[Exclusion, ...]

    @property
    def first_frame_rate(self) -> float:
        return self.first_frame / self.clips if self.clips else 0.0


def face_detection_summary(samples: Sequence[Sample], cache: InputCache | None) -> FaceDetectionSummary:
    """The summary over one whole dataset's samples (the crops runs use)."""
    crops = resolve_face_crops(samples, cache)
    return FaceDetectionSummary(len(crops.crops) + len(crops.excluded), crops.count("first-frame"),
                                crops.count("other-frame"), crops.count("subject"), crops.excluded)


def face_section(summaries: Sequence[tuple[str, FaceDetectionSummary]]) -> str:
    """A table per dataset, then one line per excluded clip."""
    retries = len(DEFAULT_SPEC.retry_at)
    lines = [f"face detection ({DEFAULT_DETECTOR.name}) on each clip's first frame; without a face "
             f"there,\n{retries} more frames of the clip, then the median box of the subject's other "
             "clips, else the clip is excluded",
             tabulate([[name, s.clips, s.first_frame, s.other_frame, s.subject, len(s.excluded),
                        f"{100 * s.first_frame_rate:.1f}%"] for name, s in summaries],
                      headers=["dataset", "clips", "first frame", "other frame", "from subject",
                               "excluded", "first-frame rate"])]
    for name, summary in summaries:
        if summary.excluded:
            lines.append(f"{name}: {len(summary.excluded)} clips excluded, no face found")
            lines.extend(f"  {exclusion.line()}" for exclusion in summary.excluded)
    return "\n".join(lines)
