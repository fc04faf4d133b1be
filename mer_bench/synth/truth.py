"""The twin's truth sidecar: true key frames per sample, read only by evaluation."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError

TRUTH_FILE = "twin_truth.csv"
COLUMNS = (
    "sample_id",
    "subject",
    "clip",
    "emotion",
    "action_units",
    "onset",
    "apex",
    "offset",
    "amplitude_px",
)


@dataclass(frozen=True)
class TruthRecord:
    """One sidecar row; ``sample_id`` is ``Sample.sample_id`` of the clip the reader returns."""

    sample_id: str
    subject: str
    clip: str
    emotion: str
    action_units: str
    truth: KeyFrames
    amplitude_px: float


def write_truth(dataset_dir: Path, records: Iterable[TruthRecord]) -> Path:
    path = Path(dataset_dir) / TRUTH_FILE
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in records:
            writer.writerow(
                [
                    r.sample_id,
                    r.subject,
                    r.clip,
                    r.emotion,
                    r.action_units,
                    r.truth.onset,
                    r.truth.apex,
                    r.truth.offset,
                    f"{r.amplitude_px:.4f}",
                ]
            )
    return path


def load_truth(dataset_dir: Path) -> dict[str, KeyFrames]:
    """True key frames of a twin, keyed by sample id ('casme2/sub01/EP02_01f')."""
    path = Path(dataset_dir) / TRUTH_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: not found; only synthetic twins have true key frames (mer-bench twin ...)"
        )
    truth: dict[str, KeyFrames] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c
            for c in ("sample_id", "onset", "apex", "offset")
            if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise DataError(f"{path}: row 1: no {', '.join(missing)} column; regenerate the twin")
        for line, row in enumerate(reader, start=2):
            try:
                keyframes = KeyFrames(int(row["onset"]), int(row["apex"]), int(row["offset"]))
            except (TypeError, ValueError):
                raise DataError(
                    f"{path}: row {line}: key frames are not integers; regenerate the twin"
                ) from None
            if row["sample_id"] in truth:
                raise DataError(
                    f"{path}: row {line}: {row['sample_id']} repeats; regenerate the twin"
                )
            truth[row["sample_id"]] = keyframes
    return truth
