"""A dataset: a `DatasetSpec` with a reader of its native layout.

Layout (under the data root): ``TOYME/labels.csv`` with columns subject, clip, onset, apex,
offset, emotion; frames ``TOYME/<subject>/<clip>/<frame number>.jpg``.
"""

import csv
from pathlib import Path

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DatasetSpec
from mer_bench.errors import DataError


def read_toyme(folder: Path) -> list[Sample]:
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise DataError(f"{labels}: missing; TOYME needs its labels.csv (subject, clip, onset, "
                        "apex, offset, emotion)")
    samples = []
    with open(labels, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            frames = sorted((folder / row["subject"] / row["clip"]).glob("*.jpg"),
                            key=lambda path: int(path.stem))
            if not frames:
                raise DataError(f"{folder / row['subject'] / row['clip']}: no frames; put the "
                                "clip's frames there as <number>.jpg")
            samples.append(Sample(
                dataset="toyme", subject=row["subject"], clip=row["clip"],
                frame_paths=tuple(frames), frame_numbers=tuple(int(p.stem) for p in frames),
                fps=30.0, emotion=row["emotion"],
                annotated=KeyFrames(int(row["onset"]), int(row["apex"]), int(row["offset"]))))
    return sorted(samples, key=lambda s: (s.subject, s.clip))


TOYME = DatasetSpec(name="toyme", title="Toy ME", folder="TOYME", fps=30.0, read=read_toyme)
