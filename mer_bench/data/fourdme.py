"""Reader of the native 4DME layout: labelling workbook plus gray_micro/<sub_ID>/<fold_name>/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from mer_bench.data.native import (
    as_int,
    cell_text,
    find_header_row,
    find_workbook,
    frame_number,
    is_blank,
    locate_columns,
    numbered_frames,
    read_rows,
    read_sheets,
    rows_below_header,
    shown,
)
from mer_bench.data.sample import KeyFrames, Rows, Sample
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

Variant = Literal["auto", "raw", "cropped"]

# The 2D grey video of 4DME runs at about 60 fps; the reference gives no figure (assumed).
FPS = 60.0
# Note the space in the release's name. The "_extras_release v1.xlsx" workbook (self-reported and
# video emotions) sits beside it and is not a coding file.
CODING_FILE = "4DME_Labelling_Micro_release v1.xlsx"
CODING_GLOB = "4DME_Labelling_Micro_release*.xlsx"
HEADER_SEARCH_ROWS = 10

COL_SUBJECT = "sub_ID"
COL_CLIP = "fold_name"
COL_ONSET = "Onset"
COL_APEX = "Apex"
COL_OFFSET = "Offset"
COL_AUS = "AUs"
COL_EMOTION = "Emotion"
COL_FOLD = "fold"
# The five emotion categories, each also a one-hot column.
CATEGORIES = ("Positive", "Negative", "Surprise", "Repression", "Others")
HEADER = (COL_SUBJECT, COL_CLIP, COL_ONSET, COL_APEX, COL_OFFSET, COL_AUS, COL_EMOTION,
          *CATEGORIES, COL_FOLD)
REQUIRED_COLUMNS = (COL_SUBJECT, COL_CLIP, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION,
                    *CATEGORIES)

# variant -> frames folder: the grey micro clips, or MEB-style self-made face crops of them
FRAME_FOLDERS: dict[str, str] = {"raw": "gray_micro", "cropped": "gray_micro_crop"}
# Frame files are assumed to be named by their frame number (<n>.jpg); since the release's naming
# is not documented here, any prefix ending in a non-digit (img_0046.jpg, S01_046.jpg) and
# .png / .bmp are accepted too: the trailing digits are the frame number.
FRAME_PATTERN = re.compile(r"^(?:.*\D)?(?P<number>\d+)\.(?:jpe?g|png|bmp)$", re.IGNORECASE)
# An Emotion cell naming several categories ('Negative+Surprise') must match several one-hot 1s.
_CATEGORY_SPLIT = re.compile(r"\s*[+,/&]\s*")


def read_fourdme(dataset_dir: Path, *, variant: Variant = "auto",
                 coding_file: Path | None = None) -> Rows:
    """The rows of a 4DME folder as written, sorted by (subject, clip); frames in order."""
    dataset_dir = Path(dataset_dir)
    coding = find_workbook(
        dataset_dir, CODING_GLOB, coding_file, title="4DME", folder=dataset_dir.name,
        missing=f"no {CODING_GLOB} coding spreadsheet; copy {CODING_FILE} from the 4DME release "
                "into this folder")
    frames_root, variant_name = _frames_layout(dataset_dir, variant)
    cells = next(iter(read_sheets(coding).values()))
    header_index = find_header_row(cells, (COL_SUBJECT, COL_CLIP), HEADER_SEARCH_ROWS)
    if header_index is None:
        raise DataError(f"{coding}: row 1: no header row with 'sub_ID' and 'fold_name'; "
                        "restore the original header row")
    columns = locate_columns(cells.iloc[header_index].values, HEADER, REQUIRED_COLUMNS,
                             f"{coding}: row {header_index + 1}")
    rows = rows_below_header(cells, header_index, columns, (COL_SUBJECT, COL_CLIP))
    return read_rows(
        rows,
        lambda excel_row, row: _sample_from_row(
            row, f"{coding}: row {excel_row}", frames_root,
            {"coding_file": coding.name, "coding_row": str(excel_row), "variant": variant_name}),
        str(coding))


def _frames_layout(dataset_dir: Path, variant: Variant) -> tuple[Path, str]:
    if variant == "auto":
        for name in ("raw", "cropped"):
            if (dataset_dir / FRAME_FOLDERS[name]).is_dir():
                return dataset_dir / FRAME_FOLDERS[name], name
        raise DataError(f"{dataset_dir}: neither gray_micro/ nor gray_micro_crop/ found; "
                        "unpack the 4DME grey micro-expression clips here")
    if variant not in FRAME_FOLDERS:
        raise DataError(f"{dataset_dir}: unknown 4DME variant {variant!r}; "
                        "use auto, raw or cropped")
    folder = dataset_dir / FRAME_FOLDERS[variant]
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found; unpack it or choose another variant")
    return folder, variant


def _sample_from_row(row: dict[str, object], where: str, frames_root: Path,
                     extra: dict[str, str]) -> Sample:
    subject = cell_text(row[COL_SUBJECT])
    clip = cell_text(row[COL_CLIP])
    if not subject or not clip:
        empty = COL_SUBJECT if not subject else COL_CLIP
        raise DataError(f"{where}: {empty} is empty; write the folder name under gray_micro/")
    onset = frame_number(row[COL_ONSET], COL_ONSET, where)
    apex = frame_number(row[COL_APEX], COL_APEX, where)
    offset = frame_number(row[COL_OFFSET], COL_OFFSET, where)
    emotion = _emotion_of(row, where)
    keyframes = KeyFrames(onset=onset, apex=apex, offset=offset)
    clip_dir = frames_root / subject / clip
    numbers, paths = numbered_frames(clip_dir, FRAME_PATTERN, where, "<n>.jpg")
    if COL_FOLD in row:
        extra["fold"] = cell_text(row[COL_FOLD])
    return Sample(
        dataset="4dme",
        subject=subject,
        clip=clip,
        frame_paths=paths,
        frame_numbers=numbers,
        fps=FPS,
        annotated=keyframes,
        emotion=emotion,
        action_units=cell_text(row.get(COL_AUS)),
        extra=extra,
        origin=where,
    )


def _emotion_of(row: dict[str, object], where: str) -> str:
    """The Emotion text as written, checked against the one-hot category columns."""
    emotion = cell_text(row[COL_EMOTION])
    by_key = {c.lower(): c for c in CATEGORIES}
    named = [by_key.get(part.lower()) for part in _CATEGORY_SPLIT.split(emotion)] if emotion \
        else [None]
    if None in named:
        raise DataError(f"{where}: {COL_EMOTION} {shown(row[COL_EMOTION])} is not a 4DME "
                        f"emotion category ({', '.join(CATEGORIES)}); fix the cell")
    flagged = [c for c in CATEGORIES if _one_hot(row[c], c, where)]
    if set(named) != set(flagged):
        shown_flags = ", ".join(flagged) if flagged else "none"
        raise DataError(f"{where}: {COL_EMOTION} {emotion!r} disagrees with the one-hot columns "
                        f"(set: {shown_flags}); correct the Emotion cell or the one-hot cells")
    return emotion


def _one_hot(value: object, column: str, where: str) -> bool:
    if is_blank(value):
        return False
    number = as_int(value) if not isinstance(value, bool) else int(value)
    if number not in (0, 1):
        raise DataError(f"{where}: {column} {shown(value)} is not 0 or 1; write 1 for the "
                        "sample's category and 0 elsewhere")
    return number == 1


# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "2"


FOURDME = DatasetSpec(
    name="4dme",
    title="4DME",
    folder="4DME",
    fps=FPS,
    read=read_fourdme,
    write_twin=lazy_twin("mer_bench.synth.fourdme:write_fourdme_twin"),
    twin_version=TWIN_VERSION,
    face_crop=True,
    key_columns=(COL_ONSET, COL_APEX, COL_OFFSET),
)
