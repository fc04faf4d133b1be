"""Reader of CAS(ME)^2's micro-expressions: the code_final workbook plus rawpic/ long-video frames.

The reference documents neither CAS(ME)^2's workbook nor its folders, so the layout read here is
ASSUMED, pieced together from what public loaders expect; every point below is unverified:

- The workbook is ``*code_final*.xlsx`` in the dataset folder (public code names it
  ``code_final.xlsx``); its first sheet has NO header row (public loaders read it with
  ``header=None``) and nine columns in this order: subject number, expression name
  (``<video>_<k>``, e.g. ``disgust1_2``: the k-th expression coded in that video), onset, apex,
  offset (frame numbers of the video), AUs, emotion (positive / negative / surprise / others),
  expression type (``micro-expression`` or ``macro-expression``), self-reported emotion. A first
  row holding column names instead of numbers is skipped.
- Only ``micro-expression`` rows are samples (Part B: 57 micro among 357 in the TAC 2018 release);
  macro rows are passed over without looking at their frames.
- Frames: ``rawpic/s<NN>/<NN>_<code><description>/img<N>.jpg``, one folder per long video of a
  subject; the subject number of the sheet is the folder's ``<NN>`` and the expression name's video
  part maps to the 4-digit video code in ``VIDEO_CODES``. A clip is the onset..offset range of its
  video's frames.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pandas as pd

from mer_bench.data.errata import COMMON_RULES
from mer_bench.data.native import (
    as_int,
    cell_text,
    excel_rows,
    find_workbook,
    frame_number,
    frames_in_range,
    optional_frame,
    prefixed_number,
    read_sheet,
    read_rows,
    shown,
)
from mer_bench.data.sample import Frames, KeyFrames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

FPS = 30.0  # unverified: the commonly cited CAS(ME)^2 frame rate
DATASET = "casme-sq"

CODING_GLOB = "*code_final*.xlsx"
FRAMES_DIR = "rawpic"
FRAME_PREFIX = "img"

# column positions of the header-less first sheet (assumed, see the module docstring)
COLUMNS = ("subject", "expression", "onset", "apex", "offset", "action units", "emotion", "type",
           "self-report")
(C_SUBJECT, C_EXPRESSION, C_ONSET, C_APEX, C_OFFSET, C_AUS, C_EMOTION, C_TYPE,
 C_SELF_REPORT) = range(len(COLUMNS))
REQUIRED = 8  # every column but the self-report

MICRO, MACRO = "micro-expression", "macro-expression"
EMOTIONS = ("positive", "negative", "surprise", "others")
MISSING_APEX = "/"

# Video name in the expression names -> 4-digit code at the start of its folder name (assumed:
# the codes follow the release's 0101..0508 stimulus numbering; the names are unverified).
VIDEO_CODES: dict[str, str] = {
    "disgust1": "0101",
    "disgust2": "0102",
    "anger1": "0401",
    "anger2": "0402",
    "happy1": "0502",
    "happy2": "0503",
    "happy3": "0505",
    "happy4": "0507",
    "happy5": "0508",
}


def subject_id(number: int) -> str:
    """The subject id used in samples and folder names: 15 -> 's15'."""
    return f"s{number:02d}"


def video_of(expression: str) -> str:
    """The video part of an expression name: 'disgust1_2' -> 'disgust1'."""
    return expression.rsplit("_", 1)[0]


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one code_final workbook of ``dataset_dir`` (or ``coding_file``, relative to it)."""
    return find_workbook(
        dataset_dir, CODING_GLOB, coding_file, title="CAS(ME)^2", folder="CAS(ME)2",
        several="code_final workbooks",
        missing=f"no {CODING_GLOB} workbook; copy the CAS(ME)^2 code_final workbook into this "
                "folder")


def read_casme_sq(dataset_dir: Path, *, coding_file: Path | None = None) -> Rows:
    """The micro-expression rows of a CAS(ME)^2 folder as written, sorted by (subject, clip).

    A clip is a range of its video's frames: they are looked up after the errata (``frames_of``).
    """
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    frames_root = dataset_dir / FRAMES_DIR
    if not frames_root.is_dir():
        raise DataError(f"{frames_root}: folder not found; unpack the CAS(ME)^2 rawpic frames here")
    table = _read_table(coding)
    listings: dict[Path, dict[int, Path]] = {}

    def frames_of(sample: Sample) -> Frames:
        video_dir = frames_root / sample.subject / sample.extra["video"]
        kf = sample.annotated
        return frames_in_range(video_dir, FRAME_PREFIX, kf.onset, kf.offset, sample.origin,
                               listings)

    return read_rows(_micro_rows(table),
                     lambda excel_row, cells: _sample_from_row(cells, coding, excel_row,
                                                               frames_root),
                     str(coding), frames_of=frames_of)


def _micro_rows(table: pd.DataFrame) -> Iterator[tuple[int, list[object]]]:
    """(Excel row, cells) of every row but a first row naming the columns."""
    for excel_row, row in excel_rows(table, first_row=1):  # no header: pandas row 0 is Excel row 1
        cells = list(row.values)
        if excel_row == 1 and _is_header(cells):
            continue
        yield excel_row, cells


def _read_table(coding: Path) -> pd.DataFrame:
    table = read_sheet(coding, header=None, noun="workbook")
    if table.shape[1] < REQUIRED:
        raise DataError(f"{coding}: row 1: the first sheet has {table.shape[1]} columns, expected "
                        f"{REQUIRED} or more ({', '.join(COLUMNS)}); restore the original sheet")
    return table


def _is_header(cells: list[object]) -> bool:
    """A first row naming columns: onset and offset hold words, not frame numbers."""
    return all(isinstance(cells[c], str) and as_int(cells[c]) is None
               for c in (C_ONSET, C_OFFSET))


def _sample_from_row(cells: list[object], coding: Path, excel_row: int,
                     frames_root: Path) -> Sample | None:
    """The sample of a micro-expression row, None for a macro-expression row (not read)."""
    where = f"{coding}: row {excel_row}"
    kind = normalise_label(cell_text(cells[C_TYPE]))
    if kind in (MACRO, "macro"):
        return None
    if kind not in (MICRO, "micro"):
        raise DataError(f"{where}: type {shown(cells[C_TYPE])} (column 8) is neither {MICRO} nor "
                        f"{MACRO}; fix the cell")
    number = _subject_number(cells[C_SUBJECT], where)
    expression = cell_text(cells[C_EXPRESSION])
    if not expression:
        raise DataError(f"{where}: the expression name (column 2) is empty; write e.g. "
                        "disgust1_1")
    onset = frame_number(cells[C_ONSET], "onset (column 3)", where)
    offset = frame_number(cells[C_OFFSET], "offset (column 5)", where)
    apex = optional_frame(cells[C_APEX], "apex (column 4)", where, missing={"", MISSING_APEX},
                          advice="write the frame number or '/'")
    emotion = cell_text(cells[C_EMOTION])
    if normalise_label(emotion) not in EMOTIONS:
        raise DataError(f"{where}: emotion {shown(cells[C_EMOTION])} (column 7) is not one of "
                        f"{', '.join(EMOTIONS)}; fix the cell")
    video_dir = _video_dir(frames_root, number, video_of(expression), where)
    self_report = cell_text(cells[C_SELF_REPORT]) if len(cells) > C_SELF_REPORT else ""
    return Sample(
        dataset=DATASET,
        subject=subject_id(number),
        clip=expression,
        frame_paths=(),
        frame_numbers=(),  # looked up after the errata, from the corrected onset..offset
        fps=FPS,
        annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
        emotion=emotion,
        action_units=cell_text(cells[C_AUS]),
        extra={"coding_file": coding.name, "coding_row": str(excel_row),
               "video": video_dir.name, "self_report": self_report},
        origin=where,
    )


def _video_dir(frames_root: Path, number: int, video: str, where: str) -> Path:
    code = VIDEO_CODES.get(video)
    if code is None:
        raise DataError(f"{where}: video {video!r} of the expression name is not one of "
                        f"{', '.join(VIDEO_CODES)}; fix the cell")
    subject_dir = frames_root / subject_id(number)
    if not subject_dir.is_dir():
        raise DataError(f"{where}: no folder {subject_dir.name} in {frames_root}; restore it or "
                        "delete the row")
    pattern = re.compile(rf"^0*{number}_{code}")
    found = sorted(p for p in subject_dir.iterdir() if p.is_dir() and pattern.match(p.name))
    if len(found) != 1:
        what = "no folder" if not found else "several folders"
        raise DataError(f"{where}: {what} {number:02d}_{code}* for video {video} in "
                        f"{subject_dir}; keep exactly one")
    return found[0]


def _subject_number(value: object, where: str) -> int:
    number = prefixed_number(value, "s")
    if number is None or number < 0:
        raise DataError(f"{where}: subject {shown(value)} (column 1) is not a subject number; "
                        "write e.g. 15 for s15")
    return number


# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "2"


CASME_SQ = DatasetSpec(
    name=DATASET,
    title="CAS(ME)^2",
    folder="CAS(ME)2",
    fps=FPS,
    read=read_casme_sq,
    write_twin=lazy_twin("mer_bench.synth.casme_sq:write_casme_sq_twin"),
    twin_version=TWIN_VERSION,
    # rawpic holds whole uncropped recordings (assumed, as is the rest of the layout)
    face_crop=True,
    errata=COMMON_RULES,
    key_columns=("onset (column 3)", "apex (column 4)", "offset (column 5)"),
)
