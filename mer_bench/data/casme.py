"""Reader of the native CASME (I) layout: coding spreadsheet plus Cropped/subNN/<Filename>/ frames.

The coding file's header (as distributed, e.g. ``CASME-coded-20190721.xls``; MEB converts it to
``casme.xlsx``) is ``Subject, Filename, <blank>, OnsetF, ApexF1, ApexF2, OffsetF, <blank>, Onset,
Total, AU, Emotion``: two apex columns (the first and last frame of the apex phase), durations in
ms, and a missing ApexF2 written as a backslash. ApexF1 is the sample's apex; ApexF2 is kept, as
written, in ``Sample.extra["apex2"]``.

Frame file names of the CASME release are not documented in the project's sources, so any image
whose name ends in an integer is a frame (``reg_EP01_12-73.jpg``, ``img73.jpg``), sorted by that
integer; one clip folder must use one naming scheme. A gap in a clip's frame numbers is left to
``mer-bench doctor``; a row with a key frame falling in a gap is excluded, naming the row.

Unlike CASME II, an onset or offset outside its clip folder is a known error of the coding file,
not of the copy at hand: the real file has a few (MEB corrects five rows "based on the image
folders"), and the ``casme-onset-offset-from-folder`` erratum moves them to the folder's first /
last frame.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd

from mer_bench.data.errata import APEX_RULES, ErratumRule
from mer_bench.data.native import (
    cell_text,
    excel_rows,
    frame_number,
    given_file,
    numbered_frames,
    one_workbook,
    optional_frame,
    read_coding_sheet,
    read_rows,
    require_dataset_dir,
    shown,
    subject_number,
)
from mer_bench.data.sample import KeyFrames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

FPS = 60.0
DATASET = "casme"

# MEB's name first; the release's own file is CASME-coded-<date>.xls (also seen as -coding-).
CODING_NAME = "casme.xlsx"
CODING_GLOB = "CASME-cod*.xls*"
FRAMES_FOLDER = "Cropped"

# canonical column -> header spellings accepted (compared without spaces, case-insensitively)
COL_SUBJECT = "Subject"
COL_FILENAME = "Filename"
COL_ONSET = "OnsetF"
COL_APEX = "ApexF1"
COL_APEX2 = "ApexF2"
COL_OFFSET = "OffsetF"
COL_AUS = "AU"
COL_EMOTION = "Emotion"
COLUMNS: dict[str, tuple[str, ...]] = {
    COL_SUBJECT: ("Subject",),
    COL_FILENAME: ("Filename",),
    COL_ONSET: ("OnsetF",),
    COL_APEX: ("ApexF1",),
    COL_APEX2: ("ApexF2",),
    COL_OFFSET: ("OffsetF",),
    COL_AUS: ("AU", "Action Units"),
    COL_EMOTION: ("Emotion", "Estimated Emotion"),
}
OPTIONAL_COLUMNS = frozenset({COL_APEX2, COL_AUS})
# The release's header, blank cells included (pandas reads them as 'Unnamed: 2' / 'Unnamed: 7').
HEADER = ("Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Onset",
          "Total", "AU", "Emotion")

# How the coding files write an apex that is not there: '\' in the release, '/' as in CASME II.
MISSING_APEX_MARKS = frozenset({"/", "\\", "-"})

# Labels of the coding file; 'amusement' is the FG2013 paper's name for what the file calls
# 'happiness'. The list is the reference's (unverified) one.
EMOTIONS = frozenset({"happiness", "amusement", "sadness", "disgust", "surprise", "contempt",
                      "fear", "repression", "tense"})

IMAGE_SUFFIXES = ("jpg", "jpeg", "png", "bmp")
ANY_NUMBERED_FRAME = re.compile(
    rf"^(?P<stem>.*?)(?P<number>\d+)\.(?:{'|'.join(IMAGE_SUFFIXES)})$", re.IGNORECASE)


def subject_id(number: int) -> str:
    """The subject id of samples and folder names: 1 -> 'sub01'."""
    return f"sub{number:02d}"


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one coding spreadsheet of ``dataset_dir`` (or ``coding_file``, relative to it)."""
    require_dataset_dir(dataset_dir, "CASME", "CASME")
    if coding_file is not None:
        return given_file(dataset_dir, coding_file)
    candidates = set(dataset_dir.glob(CODING_GLOB))
    if (dataset_dir / CODING_NAME).is_file():
        candidates.add(dataset_dir / CODING_NAME)
    return one_workbook(dataset_dir, sorted(candidates),
                        missing=f"no {CODING_NAME} or {CODING_GLOB} coding spreadsheet; copy the "
                                "CASME coding file into this folder")


def frames_root(dataset_dir: Path) -> tuple[Path, str]:
    """The folder holding subNN/ clip folders: Cropped/ (MEB's layout) or the dataset folder."""
    cropped = dataset_dir / FRAMES_FOLDER
    if cropped.is_dir():
        return cropped, "cropped"
    if any(p.is_dir() and re.fullmatch(r"sub\d+", p.name, re.IGNORECASE)
           for p in dataset_dir.iterdir()):
        return dataset_dir, "plain"
    raise DataError(f"{dataset_dir}: neither Cropped/ nor subNN/ clip folders found; "
                    "unpack the CASME frame folders here")


def read_casme(dataset_dir: Path, *, coding_file: Path | None = None) -> Rows:
    """The rows of a CASME folder as written, sorted by (subject, clip); frames in order."""
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    root, variant = frames_root(dataset_dir)
    table = read_coding_sheet(coding, COLUMNS, OPTIONAL_COLUMNS)
    return read_rows(
        excel_rows(table),
        lambda excel_row, row: _sample_from_row(row, coding, excel_row, root, variant),
        str(coding))


def _sample_from_row(row: pd.Series, coding: Path, excel_row: int, root: Path,
                     variant: str) -> Sample:
    where = f"{coding}: row {excel_row}"
    subject = subject_id(subject_number(row[COL_SUBJECT], "sub", where, example="1 for sub01"))
    clip = cell_text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. EP01_12)")
    onset = frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = _optional_frame(row[COL_APEX], COL_APEX, where)
    apex2 = _optional_frame(row.get(COL_APEX2), COL_APEX2, where)
    emotion = cell_text(row[COL_EMOTION])
    if normalise_label(emotion) not in EMOTIONS:
        raise DataError(f"{where}: Emotion {shown(row[COL_EMOTION])} is not a CASME label "
                        f"({', '.join(sorted(EMOTIONS))}); fix the cell")
    clip_dir = root / subject / clip
    numbers, paths = numbered_frames(clip_dir, ANY_NUMBERED_FRAME, where, "<name><N>.jpg")
    return Sample(
        dataset=DATASET,
        subject=subject,
        clip=clip,
        frame_paths=paths,
        frame_numbers=numbers,
        fps=FPS,
        annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
        emotion=emotion,
        action_units=cell_text(row.get(COL_AUS)),
        extra={"coding_file": coding.name, "coding_row": str(excel_row), "variant": variant,
               "apex2": "" if apex2 is None else str(apex2)},
        origin=where,
    )


def _optional_frame(value: object, column: str, where: str) -> int | None:
    """A frame number, or None where the cell is empty or holds a missing mark ('\\', '/')."""
    return optional_frame(value, column, where, missing=MISSING_APEX_MARKS | {""},
                          advice="write the frame number, or leave it empty if there is none")


# --- errata --------------------------------------------------------------------------------------


def _onset_offset_from_folder(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
    if kf.onset > kf.offset:
        return None  # not a key frame past the folder's end: validation excludes the row
    first, last = sample.frame_numbers[0], sample.frame_numbers[-1]
    onset = kf.onset if first <= kf.onset <= last else first
    offset = kf.offset if first <= kf.offset <= last else last
    if (onset, offset) == (kf.onset, kf.offset):
        return None
    changed = [f"{name} {old} -> {new}" for name, old, new in
               (("onset", kf.onset, onset), ("offset", kf.offset, offset)) if old != new]
    fixed = dataclasses.replace(sample, annotated=KeyFrames(onset, kf.apex, offset))
    return fixed, (f"{', '.join(changed)}: outside the clip folder's frames {first}..{last}, "
                   "set to the folder's first / last frame")


ONSET_OFFSET_FROM_FOLDER = ErratumRule(
    "casme-onset-offset-from-folder",
    "An OnsetF / OffsetF outside its clip folder becomes the folder's first / last frame (the "
    "CASME coding file has a few; MEB corrects them from the image folders).",
    _onset_offset_from_folder)

# Onset/offset first, so that the apex rules see the corrected interval.
CASME_ERRATA: tuple[ErratumRule, ...] = (ONSET_OFFSET_FROM_FOLDER, *APEX_RULES)

# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "2"


CASME = DatasetSpec(
    name=DATASET,
    title="CASME",
    folder="CASME",
    fps=FPS,
    read=read_casme,
    write_twin=lazy_twin("mer_bench.synth.casme:write_casme_twin"),
    twin_version=TWIN_VERSION,
    errata=CASME_ERRATA,
    key_columns=(COL_ONSET, COL_APEX, COL_OFFSET),
)
