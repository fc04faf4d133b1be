"""The doctor's face-detection section: for each dataset that is cropped, how its clips got a box."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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


SECTION_TITLE = (f"face detection ({DEFAULT_DETECTOR.name}; without a face on a clip's first frame, "
                 f"{len(DEFAULT_SPEC.retry_at)} more of its frames, then the median box of the "
                 "subject's other clips)")


def summary_line(summary: FaceDetectionSummary) -> str:
    """How many clips got their box which way, and the first-frame detection rate."""
    return (f"{summary.clips} clips: face on the first frame {summary.first_frame} "
            f"({100 * summary.first_frame_rate:.1f}%), on another frame {summary.other_frame}, "
            f"box borrowed from the subject {summary.subject}, excluded {len(summary.excluded)}")


def face_section(summary: FaceDetectionSummary) -> tuple[str, list[str]]:
    """The section's title and lines: the summary, then one line per excluded clip."""
    return SECTION_TITLE, [summary_line(summary),
                           *(f"excluded {exclusion.line()}" for exclusion in summary.excluded)]
