"""`mer-bench doctor`: which datasets a data root holds, whether each reads cleanly, what was fixed.

The doctor never raises on bad data: a reader's error becomes the dataset's verdict, and any other
exception is reported as a reader crash naming the dataset, so one broken dataset cannot hide the
state of the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mer_bench.data.errata import AppliedFix, apply_errata
from mer_bench.data.sample import Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.datasource import cache_dir
from mer_bench.errors import MerBenchError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_report import FaceDetectionSummary, face_detection_summary


@dataclass
class DatasetReport:
    name: str
    title: str
    folder: Path
    present: bool
    samples: int = 0
    subjects: int = 0
    fixes: list[AppliedFix] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    faces: FaceDetectionSummary | None = None  # datasets shipped without face crops only

    @property
    def usable(self) -> bool:
        return self.present and self.error is None

    @property
    def status(self) -> str:
        if not self.present:
            return "absent"
        notes = self.problems or (self.faces and self.faces.excluded)
        return "error" if self.error else ("usable, with notes" if notes else "usable")


def clip_problems(sample: Sample) -> list[str]:
    """Frame-numbering and key-frame-order findings for one clip (after errata)."""
    problems = []
    numbers = sample.frame_numbers
    gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b - a > 1]
    if gaps:
        shown = ", ".join(f"{a + 1}..{b - 1}" for a, b in gaps[:3])
        problems.append(f"{sample.sample_id}: frames missing inside the clip ({shown})")
    kf = sample.annotated
    if kf.apex is not None and not kf.onset <= kf.apex <= kf.offset:
        problems.append(f"{sample.sample_id}: apex {kf.apex} outside onset..offset "
                        f"{kf.onset}..{kf.offset}")
    return problems


def diagnose_dataset(spec: DatasetSpec, root: Path) -> DatasetReport:
    folder = root / spec.folder
    report = DatasetReport(spec.name, spec.title, folder, folder.is_dir())
    if not report.present:
        return report
    try:
        samples, report.fixes = apply_errata(spec.read(folder), spec.errata)
    except MerBenchError as error:
        report.error = str(error)
        return report
    except Exception as error:  # a reader bug must not hide the other datasets' state
        report.error = f"reader crashed: {type(error).__name__}: {error}"
        return report
    report.samples = len(samples)
    report.subjects = len({s.subject for s in samples})
    report.problems = [line for sample in samples for line in clip_problems(sample)]
    if not samples:
        report.error = f"{folder}: no annotated clip found; check the dataset layout"
    elif spec.face_crop:
        _find_faces(report, samples)
    return report


def _find_faces(report: DatasetReport, samples: list[Sample]) -> None:
    try:  # in the input cache that runs use
        report.faces = face_detection_summary(samples, InputCache(cache_dir() / "inputs"))
    except MerBenchError as error:
        report.problems.append(f"face detection stopped: {error}")


def diagnose(root: Path) -> list[DatasetReport]:
    """One report per registered dataset, in registry order (absent datasets included)."""
    return [diagnose_dataset(DATASETS.get(name), root) for name in DATASETS.names()]
