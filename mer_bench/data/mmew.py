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

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path

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
_FRAME_NAME = re.compile(r"^(\d+)\.jpg$", re.IGNORECASE)
_SUBJECT_DIR = re.compile(r"^S(\d+)$", re.IGNORECASE)


def subject_id(number: int) -> str:
    """The subject id used in samples, clip names and website folders: 3 -> 'S03'."""
    return f"S{number:02d}"


def emotion_key(label: str) -> str:
    """Labels and folder names compare ignoring case and spaces ('Happiness ' == 'happiness')."""
    return " ".join(label.split()).lower()


@dataclass(frozen=True)
class ClipFolder:
    """Where one clip's frames sit: its emotion folder, its subject folder (website layout)."""

    emotion: str
    path: Path
    subject: str | None = None


def read_mmew(dataset_dir: Path, *, coding_file: Path | None = None) -> list[Sample]:
    """Samples of an MMEW folder, sorted by (subject, clip); frames sorted by frame number."""
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    frames_root, layout = _frames_root(dataset_dir)
    clips = _index_clip_folders(frames_root, layout)
    table = _read_table(coding)
    samples: list[Sample] = []
    seen: dict[tuple[str, str], int] = {}
    for index, row in table.iterrows():
        excel_row = int(index) + 2  # header is row 1, pandas index 0 is Excel row 2
        if all(_is_blank(value) for value in row.values):
            continue
        sample = _sample_from_row(row, coding, excel_row, clips, frames_root, layout)
        key = (sample.subject, sample.clip)
        if key in seen:
            raise DataError(
                f"{coding}: row {excel_row}: {sample.subject}/{sample.clip} repeats "
                f"row {seen[key]}; delete one of the two rows"
            )
        seen[key] = excel_row
        samples.append(sample)
    return sorted(samples, key=lambda s: (s.subject, s.clip))


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one MMEW_Micro_Exp spreadsheet of ``dataset_dir`` (or ``coding_file``, relative)."""
    if not dataset_dir.is_dir():
        raise DataError(
            f"{dataset_dir}: MMEW folder not found; point --data-root at the folder holding MMEW/"
        )
    if coding_file is not None:
        path = coding_file if coding_file.is_absolute() else dataset_dir / coding_file
        if not path.is_file():
            raise DataError(f"{path}: coding file not found; check the coding_file setting")
        return path
    # Excel leaves "~$name.xlsx" lock files beside an open workbook; they are not versions.
    found = sorted(p for p in dataset_dir.glob(CODING_GLOB) if not p.name.startswith("~$"))
    if not found:
        raise DataError(
            f"{dataset_dir}: no {CODING_GLOB} spreadsheet; copy MMEW_Micro_Exp.xlsx from the "
            "MMEW release into this folder"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(
            f"{dataset_dir}: several MMEW spreadsheets ({names}); keep one of them "
            "or name it with coding_file"
        )
    return found[0]


def _frames_root(dataset_dir: Path) -> tuple[Path, str]:
    """The folder holding the clips and its layout: 'emotion' (<emotion>/<clip>) or 'subject'."""
    candidates = [dataset_dir / FRAMES_DIR, dataset_dir]
    for root in candidates:
        if not root.is_dir():
            continue
        children = [c for c in root.iterdir() if c.is_dir()]
        if any(emotion_key(c.name) in EMOTIONS for c in children):
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
        emotion = emotion_key(emotion_dir.name)
        if emotion not in EMOTIONS:
            continue  # stray folders (e.g. __MACOSX) hold no clips
        for clip_dir in sorted(d for d in emotion_dir.iterdir() if d.is_dir()):
            index.setdefault(clip_dir.name, []).append(ClipFolder(emotion, clip_dir, subject))
    return index


def _read_table(coding: Path) -> pd.DataFrame:
    try:
        table = pd.read_excel(coding, sheet_name=0, header=0, dtype=object, engine="openpyxl")
    except Exception as exc:  # any parse failure is a bad file, reported as one line
        reason = " ".join(str(exc).split())
        raise DataError(
            f"{coding}: cannot read the spreadsheet ({reason}); re-copy it from the release"
        ) from None
    by_name = {_header_key(str(c)): c for c in table.columns}
    rename: dict[object, str] = {}
    for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        column = by_name.get(_header_key(name))
        if column is None:
            if name in REQUIRED_COLUMNS:
                raise DataError(
                    f"{coding}: row 1: no {name!r} column in the header; "
                    "restore the original header row"
                )
            continue
        rename[column] = name
    return table.rename(columns=rename)


def _header_key(header: str) -> str:
    return "".join(header.split()).lower()


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_int(value: object) -> int | None:
    """An integer cell value (int, integral float, or digits as text); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.0*)?\s*", value):
        return int(float(value))
    return None


def _shown(value: object) -> str:
    """A cell value as quoted in messages; blank cells say so."""
    return "(empty)" if _is_blank(value) else repr(value)


def _text(value: object) -> str:
    return "" if _is_blank(value) else str(value).strip()


def _cell(row: pd.Series, column: str) -> object:
    return row[column] if column in row.index else None


def _sample_from_row(
    row: pd.Series,
    coding: Path,
    excel_row: int,
    clips: dict[str, list[ClipFolder]],
    frames_root: Path,
    layout: str,
) -> Sample:
    where = f"{coding}: row {excel_row}"
    subject = _subject_of(row[COL_SUBJECT], where)
    clip = _text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. S01-01-001)")
    emotion = _text(row[COL_EMOTION])
    if emotion_key(emotion) not in EMOTIONS:
        raise DataError(
            f"{where}: Estimated Emotion {_shown(row[COL_EMOTION])} is not an MMEW label; "
            f"write one of {', '.join(sorted(EMOTIONS))}"
        )
    onset = _frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = _frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = _apex_of(row[COL_APEX], where)
    if onset > offset:
        raise DataError(
            f"{where}: OnsetFrame {onset} is after OffsetFrame {offset}; fix the two cells"
        )
    folder = _clip_folder(clips.get(clip, []), clip, emotion, subject, where, frames_root, layout)
    numbers, paths = _frames_of(folder.path, where)
    _check_key_frames_present(numbers, onset, apex, offset, folder.path, where)
    extra = {"coding_file": coding.name, "coding_row": str(excel_row), "layout": layout}
    remarks = _text(_cell(row, COL_REMARKS))
    if remarks:
        extra["remarks"] = remarks
    return Sample(
        dataset="mmew",
        subject=subject,
        clip=clip,
        frame_paths=paths,
        frame_numbers=numbers,
        fps=FPS,
        annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
        emotion=emotion,
        action_units=_text(_cell(row, COL_AUS)),
        extra=extra,
    )


def _subject_of(value: object, where: str) -> str:
    number = _as_int(value)
    if number is None and isinstance(value, str):
        match = re.fullmatch(r"\s*S(\d+)\s*", value, re.IGNORECASE)
        number = int(match.group(1)) if match else None
    if number is None or number < 1:
        raise DataError(
            f"{where}: Subject {_shown(value)} is not a subject number; write e.g. 1 for S01"
        )
    return subject_id(number)


def _frame_number(value: object, column: str, where: str) -> int:
    number = _as_int(value)
    if number is None:
        raise DataError(
            f"{where}: {column} {_shown(value)} is not a frame number; write the frame number"
        )
    return number


def _apex_of(value: object, where: str) -> int | None:
    if _is_blank(value) or (isinstance(value, str) and value.strip() == MISSING_APEX):
        return None
    number = _as_int(value)
    if number is None:
        raise DataError(
            f"{where}: ApexFrame {_shown(value)} is not a frame number; "
            "write the frame number or leave it empty"
        )
    return number


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
    expected = (frames_root / emotion_key(emotion) / clip if layout == "emotion"
                else frames_root / subject / emotion_key(emotion) / clip)
    if not found:
        raise DataError(f"{where}: clip folder {expected} not found; restore it or delete the row")
    if len(found) > 1:
        places = " and ".join(str(f.path) for f in found)
        raise DataError(f"{where}: clip {clip} is filed twice ({places}); keep one folder")
    (folder,) = found
    if folder.emotion != emotion_key(emotion):
        raise DataError(
            f"{where}: Estimated Emotion is {emotion!r} but clip {clip} is filed under "
            f"{folder.emotion!r} ({folder.path}); fix the label or move the folder"
        )
    return folder


def _frames_of(clip_dir: Path, where: str) -> tuple[tuple[int, ...], tuple[Path, ...]]:
    """Frame numbers and paths of one clip folder, in numeric order (9.jpg before 10.jpg)."""
    by_number: dict[int, Path] = {}
    for path in clip_dir.iterdir():
        match = _FRAME_NAME.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in by_number:
            raise DataError(
                f"{where}: {path.name} and {by_number[number].name} in {clip_dir} are both frame "
                f"{number}; delete one"
            )
        by_number[number] = path
    if not by_number:
        raise DataError(
            f"{where}: clip folder {clip_dir} has no <N>.jpg frames; restore the frames"
        )
    numbers = tuple(sorted(by_number))
    return numbers, tuple(by_number[n] for n in numbers)


def _check_key_frames_present(
    numbers: tuple[int, ...], onset: int, apex: int | None, offset: int, clip_dir: Path,
    where: str,
) -> None:
    """Key frames inside the clip's frame range must have a frame.

    An apex or offset beyond the clip's last frame is left as written: those are the known MMEW
    annotation errors, fixed (and reported) by the dataset's errata rules.
    """
    first, last = numbers[0], numbers[-1]
    present = set(numbers)
    checks = [(COL_ONSET, onset, True), (COL_OFFSET, offset, offset <= last)]
    if apex is not None:
        checks.append((COL_APEX, apex, first <= apex <= last))
    for name, number, must_exist in checks:
        if must_exist and number not in present:
            raise DataError(
                f"{where}: {name} {number} has no frame in {clip_dir} "
                f"(frames {first}..{last}); fix the cell or restore the frame"
            )


def _offset_past_last_frame(sample: Sample) -> tuple[Sample, str] | None:
    kf = sample.annotated
    last = sample.frame_numbers[-1]
    if kf.offset <= last:
        return None
    fixed = dataclasses.replace(sample, annotated=KeyFrames(kf.onset, kf.apex, last))
    return fixed, f"offset {kf.offset} past the clip's last frame; set to {last}"


# MEB corrects apex and offset of 16 MMEW rows by hand; which way each row is wrong is not
# documented. A written offset past the end of the clip is one reading of those errors: since
# MMEW clips end at the coded offset, the last frame is the best available offset.
OFFSET_PAST_LAST_FRAME = ErratumRule(
    "offset-past-last-frame",
    "An OffsetFrame beyond the clip's last frame becomes the last frame (MMEW clips are cut at "
    "the coded offset; MEB hand-corrects 16 MMEW rows' apex and offset).",
    _offset_past_last_frame)

# The offset is fixed before the apex rules, so that an apex is clamped into the corrected
# onset..offset and a missing apex takes the corrected midpoint.
MMEW_ERRATA: tuple[ErratumRule, ...] = (LABEL_SPELLING, OFFSET_PAST_LAST_FRAME,
                                        MISSING_APEX_MIDPOINT, APEX_OUTSIDE_CLAMPED)

# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "1"


def _write_twin(out_dir: Path, scale: float, seed: int) -> None:
    # imported here so that reading real data never loads the renderer
    from mer_bench.synth.mmew import write_mmew_twin

    write_mmew_twin(out_dir, scale=scale, seed=seed)


# face_crop=False: the micro-expression frames are taken to be face images already (as the
# repositories that read them assume); not confirmed against the release.
MMEW = DatasetSpec(
    name="mmew",
    title="MMEW",
    folder="MMEW",
    fps=FPS,
    read=read_mmew,
    write_twin=_write_twin,
    twin_version=TWIN_VERSION,
    face_crop=False,
    errata=MMEW_ERRATA,
)
