"""Reader of the native SAMM layout: FACS coding workbook plus SAMM/<sss>/<clip>/<sss>_<N>.jpg."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from mer_bench.data.errata import (
    APEX_OUTSIDE_CLAMPED,
    LABEL_SPELLING,
    MISSING_APEX_MIDPOINT,
    ErratumRule,
)
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DatasetSpec
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
MISSING_APEX_MARKS = frozenset({"-1", "/", "-"})

FRAME_PATTERN = re.compile(r"^\d+_(\d+)\.jpg$", re.IGNORECASE)  # 006_05562.jpg, 011_1234.jpg


# --- helpers shared with the 4DME reader (casme2.py has private twins of most of them) ------------


def normalise_header(header: object) -> str:
    return "".join(str(header).split()).lower()


def is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def as_int(value: object) -> int | None:
    """An integer cell value (int, integral float, or digits as text, maybe signed); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.0*)?\s*", value):
        return int(float(value))
    return None


def shown(value: object) -> str:
    """A cell value as quoted in messages; blank cells say so."""
    return "(empty)" if is_blank(value) else repr(value)


def cell_text(value: object) -> str:
    """A cell as text: blanks are '', integral numbers lose their '.0'."""
    if is_blank(value):
        return ""
    number = as_int(value) if isinstance(value, float) else None
    return str(number) if number is not None else str(value).strip()


def find_workbook(dataset_dir: Path, pattern: str, coding_file: Path | None, what: str,
                  example: str) -> Path:
    """The one workbook of ``dataset_dir`` matching ``pattern`` (or ``coding_file``)."""
    if not dataset_dir.is_dir():
        raise DataError(f"{dataset_dir}: {what} folder not found; point --data-root at the folder "
                        f"holding {dataset_dir.name}/")
    if coding_file is not None:
        path = coding_file if coding_file.is_absolute() else dataset_dir / coding_file
        if not path.is_file():
            raise DataError(f"{path}: coding file not found; check the coding_file setting")
        return path
    found = sorted(p for p in dataset_dir.glob(pattern) if not p.name.startswith("~$"))
    if not found:
        raise DataError(f"{dataset_dir}: no {pattern} coding spreadsheet; copy {example} from "
                        f"the {what} release into this folder")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(f"{dataset_dir}: several coding spreadsheets ({names}); keep one of them "
                        "or name it with coding_file")
    return found[0]


def read_sheets(path: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook as raw cells (no header row taken), in workbook order."""
    try:
        return pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # any parse failure is a bad file, reported as one line
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: cannot read the spreadsheet ({reason}); "
                        "re-copy it from the release") from None


def find_header_row(cells: pd.DataFrame, anchors: Sequence[str], limit: int) -> int | None:
    """Index of the first of ``limit`` rows holding every ``anchors`` header text, or None."""
    wanted = {normalise_header(a) for a in anchors}
    for index in range(min(limit, len(cells))):
        present = {normalise_header(v) for v in cells.iloc[index].values if not is_blank(v)}
        if wanted <= present:
            return index
    return None


def locate_columns(header_cells: Sequence[object], names: Sequence[str], required: Sequence[str],
                   where: str) -> dict[str, int]:
    """Column position of each of ``names`` found in the header (case and spaces ignored)."""
    by_name: dict[str, int] = {}
    for position, value in enumerate(header_cells):
        if not is_blank(value):
            by_name.setdefault(normalise_header(value), position)
    columns = {}
    for name in names:
        position = by_name.get(normalise_header(name))
        if position is None:
            if name in required:
                raise DataError(f"{where}: no {name!r} column in the header; "
                                "restore the original header row")
            continue
        columns[name] = position
    return columns


def numbered_frames(clip_dir: Path, pattern: re.Pattern[str], where: str, naming: str
                    ) -> tuple[tuple[int, ...], tuple[Path, ...]]:
    """Frame numbers and paths of one clip folder, in numeric order (9 before 10)."""
    if not clip_dir.is_dir():
        raise DataError(f"{where}: clip folder {clip_dir} not found; restore it or delete the row")
    by_number: dict[int, Path] = {}
    for path in clip_dir.iterdir():
        match = pattern.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in by_number:
            raise DataError(f"{where}: {path.name} and {by_number[number].name} in {clip_dir} are "
                            f"both frame {number}; delete one")
        by_number[number] = path
    if not by_number:
        raise DataError(f"{where}: clip folder {clip_dir} has no {naming} frames; "
                        "restore the frames")
    numbers = tuple(sorted(by_number))
    return numbers, tuple(by_number[n] for n in numbers)


def check_key_frames(numbers: Sequence[int], keyframes: KeyFrames, names: Sequence[str],
                     clip_dir: Path, where: str, *, offset_past_end_ok: bool = False) -> None:
    """Every annotated key frame must be a frame of the clip folder.

    An apex outside the clip is left for the apex-outside-clamped erratum; with
    ``offset_past_end_ok`` an offset after the last frame is left for an erratum rule too.
    A gap elsewhere in the clip is not an error here: ``mer-bench doctor`` reports it.
    """
    present = set(numbers)
    first, last = numbers[0], numbers[-1]
    onset_name, apex_name, offset_name = names
    checks = [(onset_name, keyframes.onset), (offset_name, keyframes.offset)]
    if offset_past_end_ok and keyframes.offset > last:
        checks.pop()
    if keyframes.apex is not None and first <= keyframes.apex <= last:
        checks.append((apex_name, keyframes.apex))
    for name, number in checks:
        if number not in present:
            raise DataError(f"{where}: {name} {number} has no frame in {clip_dir} "
                            f"(frames {first}..{last}); fix the cell or restore the frame")


# --- SAMM --------------------------------------------------------------------------------------


def subject_id(number: int) -> str:
    """The subject id used in samples and folder names: 6 -> '006'."""
    return f"{number:03d}"


def read_samm(dataset_dir: Path, *, coding_file: Path | None = None) -> list[Sample]:
    """Samples of a SAMM folder, sorted by (subject, clip); frames sorted by frame number."""
    dataset_dir = Path(dataset_dir)
    coding = find_workbook(dataset_dir, CODING_GLOB, coding_file, "SAMM", CODING_FILE)
    sheet, cells, header_index = _micro_sheet(coding)
    where_header = f"{coding}: sheet {sheet}: row {header_index + 1}"
    columns = locate_columns(cells.iloc[header_index].values, HEADER, REQUIRED_COLUMNS,
                             where_header)
    frames_root = _frames_root(dataset_dir)
    samples: list[Sample] = []
    seen: dict[tuple[str, str], int] = {}
    for index in range(header_index + 1, len(cells)):
        row = {name: cells.iat[index, position] for name, position in columns.items()}
        if is_blank(row[COL_SUBJECT]) and is_blank(row[COL_FILENAME]):
            continue  # blank separator or trailing row
        excel_row = index + 1
        where = f"{coding}: sheet {sheet}: row {excel_row}"
        sample = _sample_from_row(row, where, frames_root,
                                  {"coding_file": coding.name, "coding_sheet": sheet,
                                   "coding_row": str(excel_row)})
        key = (sample.subject, sample.clip)
        if key in seen:
            raise DataError(f"{where}: {sample.subject}/{sample.clip} repeats row {seen[key]}; "
                            "delete one of the two rows")
        seen[key] = excel_row
        samples.append(sample)
    return sorted(samples, key=lambda s: (s.subject, s.clip))


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
    onset = _frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = _frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = _apex_of(row[COL_APEX], where)
    if onset > offset:
        raise DataError(f"{where}: {COL_ONSET} {onset} is after {COL_OFFSET} {offset}; "
                        "fix the two cells")
    emotion = cell_text(row[COL_EMOTION])
    if " ".join(emotion.split()).lower() not in _KNOWN_EMOTIONS:
        raise DataError(f"{where}: {COL_EMOTION} {shown(row[COL_EMOTION])} is not a SAMM emotion "
                        f"({', '.join(EMOTIONS)}); fix the cell")
    keyframes = KeyFrames(onset=onset, apex=apex, offset=offset)
    clip_dir = frames_root / subject / clip
    numbers, paths = numbered_frames(clip_dir, FRAME_PATTERN, where, "<subject>_<N>.jpg")
    check_key_frames(numbers, keyframes, (COL_ONSET, COL_APEX, COL_OFFSET), clip_dir, where,
                     offset_past_end_ok=True)
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
    )



def _subject_of(value: object, where: str) -> str:
    number = as_int(value)
    if number is None or number < 0:
        raise DataError(f"{where}: {COL_SUBJECT} {shown(value)} is not a subject number; "
                        "write e.g. 006")
    return subject_id(number)


def _frame_number(value: object, column: str, where: str) -> int:
    number = as_int(value)
    if number is None or number < 0:
        raise DataError(f"{where}: {column} {shown(value)} is not a frame number; "
                        "write the frame number")
    return number


def _apex_of(value: object, where: str) -> int | None:
    if is_blank(value) or cell_text(value) in MISSING_APEX_MARKS:
        return None
    number = as_int(value)
    if number is None or number < 0:
        raise DataError(f"{where}: {COL_APEX} {shown(value)} is not a frame number; "
                        "write the frame number, or -1 where there is none")
    return number


# --- errata ------------------------------------------------------------------------------------


def _offset_past_clip_end(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
    last = sample.frame_numbers[-1]
    if kf.offset <= last:
        return None
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, kf.apex, last))
    return fixed, f"offset {kf.offset} after the clip's last frame; set to {last}"


OFFSET_PAST_CLIP_END = ErratumRule(
    "offset-past-clip-end",
    "An offset after the clip folder's last frame becomes the last frame (MEB corrects one SAMM "
    "offset to its folder's last frame).",
    _offset_past_clip_end)

# The offset is fixed first, so that a missing apex is placed between the corrected key frames.
SAMM_ERRATA: tuple[ErratumRule, ...] = (LABEL_SPELLING, OFFSET_PAST_CLIP_END,
                                        MISSING_APEX_MIDPOINT, APEX_OUTSIDE_CLAMPED)

# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "1"


def _write_twin(out_dir: Path, scale: float, seed: int) -> None:
    # imported here so that reading real data never loads the renderer
    from mer_bench.synth.samm import write_samm_twin

    write_samm_twin(out_dir, scale=scale, seed=seed)


SAMM = DatasetSpec(
    name="samm",
    title="SAMM",
    folder="SAMM",
    fps=FPS,
    read=read_samm,
    write_twin=_write_twin,
    twin_version=TWIN_VERSION,
    face_crop=True,
    errata=SAMM_ERRATA,
)
