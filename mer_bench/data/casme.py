"""Reader of the native CASME (I) layout: coding spreadsheet plus Cropped/subNN/<Filename>/ frames.

The coding file's header (as distributed, e.g. ``CASME-coded-20190721.xls``; MEB converts it to
``casme.xlsx``) is ``Subject, Filename, <blank>, OnsetF, ApexF1, ApexF2, OffsetF, <blank>, Onset,
Total, AU, Emotion``: two apex columns (the first and last frame of the apex phase), durations in
ms, and a missing ApexF2 written as a backslash. ApexF1 is the sample's apex; ApexF2 is kept, as
written, in ``Sample.extra["apex2"]``.

Frame file names of the CASME release are not documented in the project's sources, so any image
whose name ends in an integer is a frame (``reg_EP01_12-73.jpg``, ``img73.jpg``), sorted by that
integer; one clip folder must use one naming scheme. A gap in a clip's frame numbers is left to
``mer-bench doctor``; a key frame falling in a gap is an error naming the row.

Unlike CASME II, an onset or offset outside its clip folder is not a reading error: the real coding
file has a few (MEB corrects five rows "based on the image folders"), so the reader returns them as
written and the ``casme-onset-offset-from-folder`` erratum moves them to the folder's first / last
frame.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from mer_bench.data.casme2 import _as_int, _is_blank, _normalise, _shown, _text
from mer_bench.data.errata import (
    APEX_OUTSIDE_CLAMPED,
    LABEL_SPELLING,
    MISSING_APEX_MIDPOINT,
    ErratumRule,
)
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DatasetSpec
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


# --- helpers any native reader can use (candidates for a shared module) --------------------------


def read_coding_sheet(path: Path, columns: Mapping[str, Sequence[str]],
                      optional: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The first sheet of ``path`` with its columns renamed to the keys of ``columns``.

    Each key lists the header spellings accepted for it; a required column that is absent is a
    one-line DataError naming the file and its header row.
    """
    # the release's old .xls format needs xlrd; everything else is read by openpyxl
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        table = pd.read_excel(path, sheet_name=0, header=0, dtype=object, engine=engine)
    except ImportError:
        raise DataError(f"{path}: reading this workbook format needs the xlrd package; "
                        f"pip install xlrd, or save the file as .xlsx") from None
    except Exception as exc:  # any parse failure is a bad file, reported as one line
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: cannot read the spreadsheet ({reason}); "
                        "re-copy it from the release") from None
    by_name = {_normalise(str(c)): c for c in table.columns}
    rename: dict[object, str] = {}
    for name, spellings in columns.items():
        found = next((by_name[_normalise(s)] for s in spellings if _normalise(s) in by_name), None)
        if found is None:
            if name in optional:
                continue
            raise DataError(f"{path}: row 1: no {spellings[0]!r} column in the header; "
                            "restore the original header row")
        rename[found] = name
    return table.rename(columns=rename)


def excel_rows(table: pd.DataFrame):
    """(Excel row number, row) of every non-blank data row; the header is Excel row 1."""
    for index, row in table.iterrows():
        if all(_is_blank(value) for value in row.values):
            continue
        yield int(index) + 2, row


def numbered_frames(clip_dir: Path, pattern: re.Pattern[str], where: str, naming: str
                    ) -> tuple[tuple[int, ...], tuple[Path, ...]]:
    """Frame numbers and paths of one clip folder in numeric order (frame 9 before frame 10).

    ``pattern`` matches a frame file name with a ``number`` group (and, optionally, a ``stem``
    group that must be the same for every frame); other files (Thumbs.db, notes) are ignored.
    A gap in the numbering is not an error here: ``mer-bench doctor`` reports it, and a key frame
    that falls in one is the reader's error. ``where`` starts every message; ``naming`` describes
    the expected file names.
    """
    if not clip_dir.is_dir():
        raise DataError(f"{where}: clip folder {clip_dir} not found; restore it or delete the row")
    by_number: dict[int, Path] = {}
    stems: dict[str, str] = {}
    for path in clip_dir.iterdir():
        match = pattern.match(path.name)
        if not match or not path.is_file():
            continue
        number = int(match.group("number"))
        if number in by_number:
            raise DataError(f"{where}: {path.name} and {by_number[number].name} in {clip_dir} "
                            f"are both frame {number}; delete one")
        by_number[number] = path
        if "stem" in pattern.groupindex:
            stems.setdefault(match.group("stem").lower(), path.name)
    if not by_number:
        raise DataError(f"{where}: clip folder {clip_dir} has no {naming} frames; "
                        "restore the frames")
    if len(stems) > 1:
        first, second = sorted(stems.values())[:2]
        raise DataError(f"{where}: {clip_dir} mixes two frame namings ({first}, {second}); "
                        "keep one sequence in the folder")
    numbers = tuple(sorted(by_number))
    return numbers, tuple(by_number[n] for n in numbers)


def check_not_in_gap(numbers: Sequence[int], named: Sequence[tuple[str, int | None]],
                     clip_dir: Path, where: str) -> None:
    """A key frame inside first..last of the clip must be one of its frames (not in a gap).

    Key frames outside the clip are left to errata rules, which move them to the clip's ends.
    """
    present = set(numbers)
    for name, number in named:
        if number is not None and numbers[0] <= number <= numbers[-1] and number not in present:
            raise DataError(f"{where}: {name} {number} has no frame in {clip_dir} (a gap in "
                            f"frames {numbers[0]}..{numbers[-1]}); fix the cell or restore "
                            "the frame")


# --- CASME ---------------------------------------------------------------------------------------


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one coding spreadsheet of ``dataset_dir`` (or ``coding_file``, relative to it)."""
    if not dataset_dir.is_dir():
        raise DataError(f"{dataset_dir}: CASME folder not found; "
                        "point --data-root at the folder holding CASME/")
    if coding_file is not None:
        path = coding_file if coding_file.is_absolute() else dataset_dir / coding_file
        if not path.is_file():
            raise DataError(f"{path}: coding file not found; check the coding_file setting")
        return path
    candidates = {p for p in dataset_dir.glob(CODING_GLOB)}
    if (dataset_dir / CODING_NAME).is_file():
        candidates.add(dataset_dir / CODING_NAME)
    # Excel leaves "~$name.xlsx" lock files beside an open workbook; they are not versions.
    found = sorted(p for p in candidates if not p.name.startswith("~$"))
    if not found:
        raise DataError(f"{dataset_dir}: no {CODING_NAME} or {CODING_GLOB} coding spreadsheet; "
                        "copy the CASME coding file into this folder")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(f"{dataset_dir}: several coding spreadsheets ({names}); keep one of them "
                        "or name it with coding_file")
    return found[0]


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


def read_casme(dataset_dir: Path, *, coding_file: Path | None = None) -> list[Sample]:
    """Samples of a CASME folder, sorted by (subject, clip); frames sorted by frame number."""
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    root, variant = frames_root(dataset_dir)
    table = read_coding_sheet(coding, COLUMNS, OPTIONAL_COLUMNS)
    samples: list[Sample] = []
    seen: dict[tuple[str, str], int] = {}
    for excel_row, row in excel_rows(table):
        sample = _sample_from_row(row, coding, excel_row, root, variant)
        key = (sample.subject, sample.clip)
        if key in seen:
            raise DataError(f"{coding}: row {excel_row}: {sample.subject}/{sample.clip} repeats "
                            f"row {seen[key]}; delete one of the two rows")
        seen[key] = excel_row
        samples.append(sample)
    return sorted(samples, key=lambda s: (s.subject, s.clip))


def _sample_from_row(row: pd.Series, coding: Path, excel_row: int, root: Path,
                     variant: str) -> Sample:
    where = f"{coding}: row {excel_row}"
    subject = _subject_of(row[COL_SUBJECT], where)
    clip = _text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. EP01_12)")
    onset = _frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = _frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = _optional_frame(row[COL_APEX], COL_APEX, where)
    apex2 = _optional_frame(row[COL_APEX2], COL_APEX2, where) if COL_APEX2 in row.index else None
    if onset > offset:
        raise DataError(f"{where}: OnsetF {onset} is after OffsetF {offset}; fix the two cells")
    emotion = _text(row[COL_EMOTION])
    if " ".join(emotion.split()).lower() not in EMOTIONS:
        raise DataError(f"{where}: Emotion {_shown(row[COL_EMOTION])} is not a CASME label "
                        f"({', '.join(sorted(EMOTIONS))}); fix the cell")
    clip_dir = root / subject / clip
    numbers, paths = numbered_frames(clip_dir, ANY_NUMBERED_FRAME, where, "<name><N>.jpg")
    check_not_in_gap(numbers, ((COL_ONSET, onset), (COL_APEX, apex), (COL_OFFSET, offset)),
                     clip_dir, where)
    return Sample(
        dataset=DATASET,
        subject=subject,
        clip=clip,
        frame_paths=paths,
        frame_numbers=numbers,
        fps=FPS,
        annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
        emotion=emotion,
        action_units=_text(row[COL_AUS]) if COL_AUS in row.index else "",
        extra={"coding_file": coding.name, "coding_row": str(excel_row), "variant": variant,
               "apex2": "" if apex2 is None else str(apex2)},
    )


def _subject_of(value: object, where: str) -> str:
    number = _as_int(value)
    if number is None and isinstance(value, str):
        match = re.fullmatch(r"\s*sub(\d+)\s*", value, re.IGNORECASE)
        number = int(match.group(1)) if match else None
    if number is None or number < 1:
        raise DataError(f"{where}: Subject {_shown(value)} is not a subject number; "
                        "write e.g. 1 for sub01")
    return subject_id(number)


def _frame_number(value: object, column: str, where: str) -> int:
    number = _as_int(value)
    if number is None:
        raise DataError(f"{where}: {column} {_shown(value)} is not a frame number; "
                        "write the frame number")
    return number


def _optional_frame(value: object, column: str, where: str) -> int | None:
    """A frame number, or None where the cell is empty or holds a missing mark ('\\', '/')."""
    if _is_blank(value) or (isinstance(value, str) and value.strip() in MISSING_APEX_MARKS):
        return None
    number = _as_int(value)
    if number is None:
        raise DataError(f"{where}: {column} {_shown(value)} is not a frame number; "
                        "write the frame number, or leave it empty if there is none")
    return number


# --- errata --------------------------------------------------------------------------------------


def _onset_offset_from_folder(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
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
CASME_ERRATA: tuple[ErratumRule, ...] = (LABEL_SPELLING, ONSET_OFFSET_FROM_FOLDER,
                                         MISSING_APEX_MIDPOINT, APEX_OUTSIDE_CLAMPED)

# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "1"


def _write_twin(out_dir: Path, scale: float, seed: int) -> None:
    # imported here so that reading real data never loads the renderer
    from mer_bench.synth.casme import write_casme_twin

    write_casme_twin(out_dir, scale=scale, seed=seed)


CASME = DatasetSpec(
    name=DATASET,
    title="CASME",
    folder="CASME",
    fps=FPS,
    read=read_casme,
    write_twin=_write_twin,
    twin_version=TWIN_VERSION,
    errata=CASME_ERRATA,
)
