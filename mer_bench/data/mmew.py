"""Reader of the native MMEW layout: MMEW_Micro_Exp.xlsx plus per-emotion clip frame folders.

Layout (the one MEB and HTNet read)::

    MMEW/MMEW_Micro_Exp.xlsx
    MMEW/Micro_Expression/<emotion>/<Filename>/<N>.jpg     e.g. surprise/S01-02-001/17.jpg

The MMEW website shows the frames one level deeper, under a subject folder
(``S03/happiness/S03-01-002/1.jpg``); that variant is read too, inside ``Micro_Expression/`` or
directly in the dataset folder. The emotion folder must agree with the row's Estimated Emotion.

Every row of the public copies has OnsetFrame 1: MMEW clips are cut at the coded onset, and
frames are numbered from 1 within each clip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mer_bench.data.errata import OFFSET_FIRST_RULES
from mer_bench.data.native import (
    cell_text,
    excel_rows,
    find_workbook,
    frame_number,
    numbered_frames,
    optional_frame,
    read_coding_sheet,
    read_rows,
    shown,
    subject_number,
)
from mer_bench.data.sample import KeyFrames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec, lazy_twin
from mer_bench.errors import DataError

CODING_GLOB = "MMEW_Micro_Exp*.xlsx"
FRAMES_DIR = "Micro_Expression"

# 90 fps is the figure usually cited for MMEW; no primary source confirms it (assumed).
FPS = 90.0

COL_SUBJECT = "Subject"
COL_FILENAME = "Filename"
COL_ONSET = "OnsetFrame"
COL_APEX = "ApexFrame"
COL_OFFSET = "OffsetFrame"
COL_AUS = "Action Units"
COL_EMOTION = "Estimated Emotion"
COL_REMARKS = "remarks"
HEADER = (COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_AUS, COL_EMOTION,
          COL_REMARKS)
REQUIRED_COLUMNS = (COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION)
OPTIONAL_COLUMNS = (COL_AUS, COL_REMARKS)

# The seven Estimated Emotion labels; each names the frame folder of its clips.
EMOTIONS = ("happiness", "surprise", "disgust", "fear", "sadness", "anger", "others")

MISSING_APEX = "/"
_FRAME_NAME = re.compile(r"^(?P<number>\d+)\.jpg$", re.IGNORECASE)
_SUBJECT_DIR = re.compile(r"^S(\d+)$", re.IGNORECASE)


def subject_id(number: int) -> str:
    """The subject id used in samples, clip names and website folders: 3 -> 'S03'."""
    return f"S{number:02d}"


@dataclass(frozen=True)
class ClipFolder:
    """Where one clip's frames sit: its emotion folder, its subject folder (website layout)."""

    emotion: str
    path: Path
    subject: str | None = None


def read_mmew(dataset_dir: Path, *, coding_file: Path | None = None) -> Rows:
    """The rows of an MMEW folder as written, sorted by (subject, clip); frames in order."""
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    frames_root, layout = _frames_root(dataset_dir)
    clips = _index_clip_folders(frames_root, layout)
    table = read_coding_sheet(coding, (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS), OPTIONAL_COLUMNS)
    return read_rows(
        excel_rows(table),
        lambda excel_row, row: _sample_from_row(row, coding, excel_row, clips, frames_root,
                                                layout),
        str(coding))


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one MMEW_Micro_Exp spreadsheet of ``dataset_dir`` (or ``coding_file``, relative)."""
    return find_workbook(
        dataset_dir, CODING_GLOB, coding_file, title="MMEW", folder="MMEW",
        several="MMEW spreadsheets",
        missing=f"no {CODING_GLOB} spreadsheet; copy MMEW_Micro_Exp.xlsx from the MMEW release "
                "into this folder")


def _frames_root(dataset_dir: Path) -> tuple[Path, str]:
    """The folder holding the clips and its layout: 'emotion' (<emotion>/<clip>) or 'subject'."""
    candidates = [dataset_dir / FRAMES_DIR, dataset_dir]
    for root in candidates:
        if not root.is_dir():
            continue
        children = [c for c in root.iterdir() if c.is_dir()]
        if any(normalise_label(c.name) in EMOTIONS for c in children):
            return root, "emotion"
        if any(_SUBJECT_DIR.match(c.name) for c in children):
            return root, "subject"
    raise DataError(
        f"{dataset_dir}: no {FRAMES_DIR}/<emotion>/<clip>/ frame folders found; unpack the MMEW "
        f"micro-expression frames as {FRAMES_DIR}/ here"
    )


def _index_clip_folders(root: Path, layout: str) -> dict[str, list[ClipFolder]]:
    """Every clip folder under ``root`` by clip name (a clip filed twice appears twice)."""
    emotion_dirs: list[tuple[Path, str | None]] = []
    if layout == "emotion":
        emotion_dirs = [(d, None) for d in root.iterdir() if d.is_dir()]
    else:
        for subject_dir in root.iterdir():
            match = _SUBJECT_DIR.match(subject_dir.name)
            if subject_dir.is_dir() and match:
                subject = subject_id(int(match.group(1)))
                emotion_dirs.extend((d, subject) for d in subject_dir.iterdir() if d.is_dir())
    index: dict[str, list[ClipFolder]] = {}
    for emotion_dir, subject in sorted(emotion_dirs):
        emotion = normalise_label(emotion_dir.name)
        if emotion not in EMOTIONS:
            continue  # stray folders (e.g. __MACOSX) hold no clips
        for clip_dir in sorted(d for d in emotion_dir.iterdir() if d.is_dir()):
            index.setdefault(clip_dir.name, []).append(ClipFolder(emotion, clip_dir, subject))
    return index


def _sample_from_row(
    row: pd.Series,
    coding: Path,
    excel_row: int,
    clips: dict[str, list[ClipFolder]],
    frames_root: Path,
    layout: str,
) -> Sample:
    where = f"{coding}: row {excel_row}"
    subject = subject_id(subject_number(row[COL_SUBJECT], "S", where, example="1 for S01"))
    clip = cell_text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. S01-01-001)")
    emotion = cell_text(row[COL_EMOTION])
    if normalise_label(emotion) not in EMOTIONS:
        raise DataError(
            f"{where}: Estimated Emotion {shown(row[COL_EMOTION])} is not an MMEW label; "
            f"write one of {', '.join(sorted(EMOTIONS))}"
        )
    onset = frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = optional_frame(row[COL_APEX], COL_APEX, where, missing={"", MISSING_APEX},
                          advice="write the frame number or leave it empty")
    folder = _clip_folder(clips.get(clip, []), clip, emotion, subject, where, frames_root, layout)
    keyframes = KeyFrames(onset=onset, apex=apex, offset=offset)
    numbers, paths = numbered_frames(folder.path, _FRAME_NAME, where, "<N>.jpg")
    extra = {"coding_file": coding.name, "coding_row": str(excel_row), "layout": layout}
    remarks = cell_text(row.get(COL_REMARKS))
    if remarks:
        extra["remarks"] = remarks
    return Sample(
        dataset="mmew",
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


def _clip_folder(
    found: list[ClipFolder],
    clip: str,
    emotion: str,
    subject: str,
    where: str,
    frames_root: Path,
    layout: str,
) -> ClipFolder:
    """The row's clip folder; it must be filed under the row's emotion (and subject, if any)."""
    if layout == "subject":
        found = [f for f in found if f.subject == subject]
    expected = (frames_root / normalise_label(emotion) / clip if layout == "emotion"
                else frames_root / subject / normalise_label(emotion) / clip)
    if not found:
        raise DataError(f"{where}: clip folder {expected} not found; restore it or delete the row")
    if len(found) > 1:
        places = " and ".join(str(f.path) for f in found)
        raise DataError(f"{where}: clip {clip} is filed twice ({places}); keep one folder")
    (folder,) = found
    if folder.emotion != normalise_label(emotion):
        raise DataError(
            f"{where}: Estimated Emotion is {emotion!r} but clip {clip} is filed under "
            f"{folder.emotion!r} ({folder.path}); fix the label or move the folder"
        )
    return folder


# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "2"


# face_crop=False: the micro-expression frames are taken to be face images already (as the
# repositories that read them assume); not confirmed against the release.
MMEW = DatasetSpec(
    name="mmew",
    title="MMEW",
    folder="MMEW",
    fps=FPS,
    read=read_mmew,
    write_twin=lazy_twin("mer_bench.synth.mmew:write_mmew_twin"),
    twin_version=TWIN_VERSION,
    face_crop=False,
    errata=OFFSET_FIRST_RULES,
    key_columns=(COL_ONSET, COL_APEX, COL_OFFSET),
)
