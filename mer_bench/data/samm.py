"""Reader of the native SAMM layout: FACS coding workbook and SAMM/<sss>/<clip>/<sss>_<N>.jpg.

Known quirks of ``SAMM_Micro_FACS_Codes_v2.xlsx``, each pinned by a test
(tests/test_samm_reader.py; the twin writes them at scale 1, mer_bench/synth/samm.py):

- the header sits below a title and notes block (Excel row 14; MEB reads it with ``header=13``);
- Estimated Emotions are capitalised ('Anger'; some copies lower-case a few): loading normalises
  them, reported apart from the errata (all 159 rows; mer-bench issue 15);
- three rows have no apex (MEB), written -1 here (assumed marker);
- 028_4_1 has apex 1143 just past its offset 1134 (9 frames, 45 ms): clamped to the offset by the
  ``apex-outside-clamped`` erratum; 032_3_1 has apex 1930 for onset 4896 and offset 4970, likely a
  slipped digit: the ``apex-far-outside-missing`` erratum makes it missing rather than clamping it
  to the onset (mer-bench issue 15). MEGC2019's answer file leaves 032_3_1 out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mer_bench.data.errata import OFFSET_FIRST_RULES
from mer_bench.data.native import (
    about_sample,
    as_int,
    cell_text,
    find_header_row,
    find_workbook,
    frame_number,
    locate_columns,
    numbered_frames,
    optional_frame,
    read_rows,
    read_sheets,
    rows_below_header,
    shown,
)
from mer_bench.data.sample import KeyFrames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

FPS = 200.0
# The release names its workbook SAMM_Micro_FACS_Codes_v2.xlsx; some copies carry the date
# (SAMM_20181215_Micro_FACS_Codes_v2.xlsx). Excel's "~$" lock files are not versions.
CODING_FILE = "SAMM_Micro_FACS_Codes_v2.xlsx"
CODING_GLOB = "SAMM*Micro_FACS_Codes*.xlsx"
# The micro-expression sheet; a workbook with several sheets is read from this one.
MICRO_SHEET = "MICRO_ONLY"
# The header sits below a title and notes block (Excel row 14 in the release); it is found by
# its 'Subject' and 'Filename' cells within this many rows rather than trusted to a fixed row.
HEADER_SEARCH_ROWS = 40
# The release keeps the frames in a SAMM/ folder beside the workbook; subject folders directly
# beside the workbook are accepted too.
FRAMES_FOLDER = "SAMM"

COL_SUBJECT = "Subject"
COL_FILENAME = "Filename"
COL_INDUCEMENT = "Inducement Code"
COL_ONSET = "Onset Frame"
COL_APEX = "Apex Frame"
COL_OFFSET = "Offset Frame"
COL_DURATION = "Duration"
COL_TYPE = "Type"
COL_AUS = "Action Units"
COL_EMOTION = "Estimated Emotion"
COL_OBJECTIVE = "Objective Classes"
COL_NOTES = "Notes"
HEADER = (
    COL_SUBJECT,
    COL_FILENAME,
    COL_INDUCEMENT,
    COL_ONSET,
    COL_APEX,
    COL_OFFSET,
    COL_DURATION,
    COL_TYPE,
    COL_AUS,
    COL_EMOTION,
    COL_OBJECTIVE,
    COL_NOTES,
)
REQUIRED_COLUMNS = (COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION)
# Columns kept in Sample.extra, under these keys (protocols on objective classes read them).
_EXTRA_KEYS = {COL_OBJECTIVE: "objective_class", COL_INDUCEMENT: "inducement_code"}

# Estimated emotions of the release (any case; 'Others' is accepted beside 'Other').
EMOTIONS = ("Anger", "Contempt", "Disgust", "Fear", "Happiness", "Sadness", "Surprise", "Other")
_KNOWN_EMOTIONS = frozenset(e.lower() for e in EMOTIONS) | {"others"}

# How a missing apex may be written (the release leaves 3 apexes unmarked; -1 is assumed to be
# its marker, and blanks, '/' and '-' are read the same way).
MISSING_APEX_MARKS = frozenset({"", "-1", "/", "-"})

# 006_05562.jpg, 011_1234.jpg
FRAME_PATTERN = re.compile(r"^\d+_(?P<number>\d+)\.jpg$", re.IGNORECASE)


def subject_id(number: int) -> str:
    """The subject id used in samples and folder names: 6 -> '006'."""
    return f"{number:03d}"


def read_samm(dataset_dir: Path, *, coding_file: Path | None = None) -> Rows:
    """The rows of a SAMM folder as written, sorted by (subject, clip); frames in order."""
    dataset_dir = Path(dataset_dir)
    coding = find_workbook(
        dataset_dir, CODING_GLOB, coding_file, title="SAMM", folder=dataset_dir.name,
        missing=f"no {CODING_GLOB} coding spreadsheet; copy {CODING_FILE} from the SAMM release "
                "into this folder")
    sheet, cells, header_index = _micro_sheet(coding)
    source = f"{coding}: sheet {sheet}"
    columns = locate_columns(cells.iloc[header_index].values, HEADER, REQUIRED_COLUMNS,
                             f"{source}: row {header_index + 1}")
    frames_root = _frames_root(dataset_dir)
    rows = rows_below_header(cells, header_index, columns, (COL_SUBJECT, COL_FILENAME))
    return read_rows(
        rows,
        lambda excel_row, row: _sample_from_row(
            row, f"{source}: row {excel_row}", frames_root,
            {"coding_file": coding.name, "coding_sheet": sheet, "coding_row": str(excel_row)}),
        source)


def _micro_sheet(coding: Path) -> tuple[str, pd.DataFrame, int]:
    """The sheet to read (MICRO_ONLY if present, else the first with the header) and its header."""
    sheets = read_sheets(coding)
    by_name = {name.strip().upper(): name for name in sheets}
    order = list(sheets)
    if MICRO_SHEET in by_name:
        order = [by_name[MICRO_SHEET]]
    for name in order:
        header_index = find_header_row(sheets[name], (COL_SUBJECT, COL_FILENAME),
                                       HEADER_SEARCH_ROWS)
        if header_index is not None:
            return name, sheets[name], header_index
    where = f"sheet {order[0]}" if len(order) == 1 else f"sheets {', '.join(order)}"
    raise DataError(f"{coding}: {where}: no header row with 'Subject' and 'Filename' in the first "
                    f"{HEADER_SEARCH_ROWS} rows; restore the original header row")


def _frames_root(dataset_dir: Path) -> Path:
    nested = dataset_dir / FRAMES_FOLDER
    return nested if nested.is_dir() else dataset_dir


def _sample_from_row(row: dict[str, object], where: str, frames_root: Path,
                     extra: dict[str, str]) -> Sample:
    subject = _subject_of(row[COL_SUBJECT], where)
    clip = cell_text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. 006_1_2)")
    with about_sample(f"samm/{subject}/{clip}"):
        onset = frame_number(row[COL_ONSET], COL_ONSET, where)
        offset = frame_number(row[COL_OFFSET], COL_OFFSET, where)
        apex = optional_frame(row[COL_APEX], COL_APEX, where, missing=MISSING_APEX_MARKS,
                              advice="write the frame number, or -1 where there is none")
        emotion = cell_text(row[COL_EMOTION])
        if normalise_label(emotion) not in _KNOWN_EMOTIONS:
            raise DataError(f"{where}: {COL_EMOTION} {shown(row[COL_EMOTION])} is not a SAMM "
                            f"emotion ({', '.join(EMOTIONS)}); fix the cell")
        keyframes = KeyFrames(onset=onset, apex=apex, offset=offset)
        clip_dir = frames_root / subject / clip
        numbers, paths = numbered_frames(clip_dir, FRAME_PATTERN, where, "<subject>_<N>.jpg")
        for name in (COL_OBJECTIVE, COL_INDUCEMENT):
            if name in row:
                extra[_EXTRA_KEYS[name]] = cell_text(row[name])
        return Sample(
            dataset="samm",
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


def _subject_of(value: object, where: str) -> str:
    number = as_int(value)
    if number is None or number < 0:
        raise DataError(f"{where}: {COL_SUBJECT} {shown(value)} is not a subject number; "
                        "write e.g. 006")
    return subject_id(number)


# --- errata ------------------------------------------------------------------------------------

# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "4"


SAMM = DatasetSpec(
    name="samm",
    title="SAMM",
    folder="SAMM",
    fps=FPS,
    read=read_samm,
    write_twin=lazy_twin("mer_bench.synth.samm:write_samm_twin"),
    twin_version=TWIN_VERSION,
    face_crop=True,
    errata=OFFSET_FIRST_RULES,
    key_columns=(COL_ONSET, COL_APEX, COL_OFFSET),
)
