"""Reader of the native CASME II layout: coding spreadsheet plus Cropped/ or RAW frame folders."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pandas as pd

from mer_bench.data.native import (
    about_sample,
    cell_text,
    excel_rows,
    find_workbook,
    frame_number,
    numbered_frames,
    optional_frame,
    read_coding_sheet,
    read_rows,
    subject_number,
)
from mer_bench.data.sample import KeyFrames, Rows, Sample
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

Variant = Literal["auto", "cropped", "raw"]

CODING_GLOB = "CASME2-coding-*.xlsx"
FPS = 200.0

# Header text of the real coding files; the two unnamed columns sit at positions 2 and 6.
COL_SUBJECT = "Subject"
COL_FILENAME = "Filename"
COL_ONSET = "OnsetFrame"
COL_APEX = "ApexFrame"
COL_OFFSET = "OffsetFrame"
COL_AUS = "Action Units"
COL_EMOTION = "Estimated Emotion"
HEADER = (
    COL_SUBJECT,
    COL_FILENAME,
    None,
    COL_ONSET,
    COL_APEX,
    COL_OFFSET,
    None,
    COL_AUS,
    COL_EMOTION,
)
REQUIRED_COLUMNS = (COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION)

MISSING_APEX = "/"

# variant -> (folder under the dataset dir, frame file prefix); frames are <prefix><N>.jpg
FRAME_LAYOUTS: dict[str, tuple[str, str]] = {
    "cropped": ("Cropped", "reg_img"),
    "raw": ("CASME2_RAW_selected", "img"),
}


def _frame_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}(?P<number>\d+)\.jpg$", re.IGNORECASE)


def subject_id(number: int) -> str:
    """The subject id used in samples and folder names: 1 -> 'sub01'."""
    return f"sub{number:02d}"


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one coding spreadsheet of ``dataset_dir`` (or ``coding_file``, relative to it)."""
    return find_workbook(
        dataset_dir, CODING_GLOB, coding_file, title="CASME II", folder="CASME2",
        missing=f"no {CODING_GLOB} coding spreadsheet; copy e.g. CASME2-coding-20190701.xlsx "
                "from the CASME II release into this folder")


def read_casme2(
    dataset_dir: Path, *, variant: Variant = "auto", coding_file: Path | None = None
) -> Rows:
    """The rows of a CASME II folder as written, sorted by (subject, clip); frames in order."""
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    frames_root, prefix, variant_name = _frames_layout(dataset_dir, variant)
    table = read_coding_sheet(coding, (*REQUIRED_COLUMNS, COL_AUS), (COL_AUS,))
    return read_rows(
        excel_rows(table),
        lambda excel_row, row: _sample_from_row(row, coding, excel_row, frames_root, prefix,
                                                variant_name),
        str(coding))


def _frames_layout(dataset_dir: Path, variant: Variant) -> tuple[Path, str, str]:
    if variant == "auto":
        for name in ("cropped", "raw"):
            folder, prefix = FRAME_LAYOUTS[name]
            if (dataset_dir / folder).is_dir():
                return dataset_dir / folder, prefix, name
        raise DataError(
            f"{dataset_dir}: neither Cropped/ nor CASME2_RAW_selected/ found; "
            "unpack the CASME II frame folders here"
        )
    if variant not in FRAME_LAYOUTS:
        raise DataError(
            f"{dataset_dir}: unknown CASME II variant {variant!r}; use auto, cropped or raw"
        )
    folder, prefix = FRAME_LAYOUTS[variant]
    if not (dataset_dir / folder).is_dir():
        raise DataError(
            f"{dataset_dir / folder}: folder not found; unpack it or choose another variant"
        )
    return dataset_dir / folder, prefix, variant


def _sample_from_row(
    row: pd.Series,
    coding: Path,
    excel_row: int,
    frames_root: Path,
    prefix: str,
    variant: str,
) -> Sample:
    where = f"{coding}: row {excel_row}"
    subject = subject_id(subject_number(row[COL_SUBJECT], "sub", where, example="1 for sub01"))
    clip = cell_text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. EP02_01f)")
    with about_sample(f"casme2/{subject}/{clip}"):
        onset = frame_number(row[COL_ONSET], COL_ONSET, where)
        offset = frame_number(row[COL_OFFSET], COL_OFFSET, where)
        apex = optional_frame(row[COL_APEX], COL_APEX, where, missing={MISSING_APEX},
                              advice="write the frame number or '/'")
        clip_dir = frames_root / subject / clip
        numbers, paths = numbered_frames(clip_dir, _frame_pattern(prefix), where,
                                         f"{prefix}<N>.jpg")
        return Sample(
            dataset="casme2",
            subject=subject,
            clip=clip,
            frame_paths=paths,
            frame_numbers=numbers,
            fps=FPS,
            annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
            emotion=cell_text(row[COL_EMOTION]),
            action_units=cell_text(row.get(COL_AUS)),
            extra={"coding_file": coding.name, "coding_row": str(excel_row), "variant": variant},
            origin=where,
        )


# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "4"


CASME2 = DatasetSpec(
    name="casme2",
    title="CASME II",
    folder="CASME2",
    fps=FPS,
    read=read_casme2,
    write_twin=lazy_twin("mer_bench.synth.casme2:write_casme2_twin"),
    twin_version=TWIN_VERSION,
    key_columns=(COL_ONSET, COL_APEX, COL_OFFSET),
)
