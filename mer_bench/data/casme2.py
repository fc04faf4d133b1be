"""Reader of the native CASME II layout: coding spreadsheet plus Cropped/ or RAW frame folders."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

import pandas as pd

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DatasetSpec
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
    return re.compile(rf"^{prefix}(\d+)\.jpg$", re.IGNORECASE)


def subject_id(number: int) -> str:
    """The subject id used in samples and folder names: 1 -> 'sub01'."""
    return f"sub{number:02d}"


def find_coding_file(dataset_dir: Path, coding_file: Path | None = None) -> Path:
    """The one coding spreadsheet of ``dataset_dir`` (or ``coding_file``, relative to it)."""
    if not dataset_dir.is_dir():
        raise DataError(
            f"{dataset_dir}: CASME II folder not found; "
            "point --data-root at the folder holding CASME2/"
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
            f"{dataset_dir}: no {CODING_GLOB} coding spreadsheet; copy e.g. "
            "CASME2-coding-20190701.xlsx from the CASME II release into this folder"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(
            f"{dataset_dir}: several coding spreadsheets ({names}); keep one of them "
            "or name it with coding_file"
        )
    return found[0]


def read_casme2(
    dataset_dir: Path, *, variant: Variant = "auto", coding_file: Path | None = None
) -> list[Sample]:
    """Samples of a CASME II folder, sorted by (subject, clip); frames sorted by frame number."""
    dataset_dir = Path(dataset_dir)
    coding = find_coding_file(dataset_dir, coding_file)
    frames_root, prefix, variant_name = _frames_layout(dataset_dir, variant)
    table = _read_table(coding)
    samples: list[Sample] = []
    seen: dict[tuple[str, str], int] = {}
    for index, row in table.iterrows():
        excel_row = int(index) + 2  # header is row 1, pandas index 0 is Excel row 2
        if all(_is_blank(value) for value in row.values):
            continue
        sample = _sample_from_row(row, coding, excel_row, frames_root, prefix, variant_name)
        key = (sample.subject, sample.clip)
        if key in seen:
            raise DataError(
                f"{coding}: row {excel_row}: {sample.subject}/{sample.clip} repeats "
                f"row {seen[key]}; delete one of the two rows"
            )
        seen[key] = excel_row
        samples.append(sample)
    return sorted(samples, key=lambda s: (s.subject, s.clip))


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


def _read_table(coding: Path) -> pd.DataFrame:
    try:
        table = pd.read_excel(coding, sheet_name=0, header=0, dtype=object, engine="openpyxl")
    except Exception as exc:  # any parse failure is a bad file, reported as one line
        reason = " ".join(str(exc).split())
        raise DataError(
            f"{coding}: cannot read the spreadsheet ({reason}); re-copy it from the release"
        ) from None
    by_name = {_normalise(str(c)): c for c in table.columns}
    rename: dict[object, str] = {}
    for name in (*REQUIRED_COLUMNS, COL_AUS):
        column = by_name.get(_normalise(name))
        if column is None:
            if name in REQUIRED_COLUMNS:
                raise DataError(
                    f"{coding}: row 1: no {name!r} column in the header; "
                    "restore the original header row"
                )
            continue
        rename[column] = name
    return table.rename(columns=rename)


def _normalise(header: str) -> str:
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


def _sample_from_row(
    row: pd.Series,
    coding: Path,
    excel_row: int,
    frames_root: Path,
    prefix: str,
    variant: str,
) -> Sample:
    where = f"{coding}: row {excel_row}"
    subject = _subject_of(row[COL_SUBJECT], where)
    clip = _text(row[COL_FILENAME])
    if not clip:
        raise DataError(f"{where}: Filename is empty; write the clip folder name (e.g. EP02_01f)")
    onset = _frame_number(row[COL_ONSET], COL_ONSET, where)
    offset = _frame_number(row[COL_OFFSET], COL_OFFSET, where)
    apex = _apex_of(row[COL_APEX], where)
    if onset > offset:
        raise DataError(
            f"{where}: OnsetFrame {onset} is after OffsetFrame {offset}; fix the two cells"
        )
    clip_dir = frames_root / subject / clip
    numbers, paths = _frames_of(clip_dir, prefix, where)
    present = set(numbers)
    for name, number in ((COL_ONSET, onset), (COL_OFFSET, offset)):
        if number not in present:
            raise DataError(
                f"{where}: {name} {number} has no frame in {clip_dir} "
                f"(frames {numbers[0]}..{numbers[-1]}); fix the cell or restore the frame"
            )
    return Sample(
        dataset="casme2",
        subject=subject,
        clip=clip,
        frame_paths=paths,
        frame_numbers=numbers,
        fps=FPS,
        annotated=KeyFrames(onset=onset, apex=apex, offset=offset),
        emotion=_text(row[COL_EMOTION]),
        action_units=_text(row[COL_AUS]) if COL_AUS in row.index else "",
        extra={"coding_file": coding.name, "coding_row": str(excel_row), "variant": variant},
    )


def _subject_of(value: object, where: str) -> str:
    number = _as_int(value)
    if number is None and isinstance(value, str):
        match = re.fullmatch(r"\s*sub(\d+)\s*", value, re.IGNORECASE)
        number = int(match.group(1)) if match else None
    if number is None or number < 1:
        raise DataError(
            f"{where}: Subject {_shown(value)} is not a subject number; write e.g. 1 for sub01"
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
    if isinstance(value, str) and value.strip() == MISSING_APEX:
        return None
    number = _as_int(value)
    if number is None:
        raise DataError(
            f"{where}: ApexFrame {_shown(value)} is not a frame number; "
            "write the frame number or '/'"
        )
    return number


def _frames_of(clip_dir: Path, prefix: str, where: str) -> tuple[tuple[int, ...], tuple[Path, ...]]:
    """Frame numbers and paths of one clip folder, in numeric order (img9 before img10)."""
    pattern = _frame_pattern(prefix)
    if not clip_dir.is_dir():
        raise DataError(f"{where}: clip folder {clip_dir} not found; restore it or delete the row")
    by_number: dict[int, Path] = {}
    for path in clip_dir.iterdir():
        match = pattern.match(path.name)
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
            f"{where}: clip folder {clip_dir} has no {prefix}<N>.jpg frames; restore the frames"
        )
    numbers = tuple(sorted(by_number))
    return numbers, tuple(by_number[n] for n in numbers)


# Bumped whenever the twin generator's output changes, so cached twins are regenerated.
TWIN_VERSION = "2"


def _write_twin(out_dir: Path, scale: float, seed: int) -> None:
    # imported here so that reading real data never loads the renderer
    from mer_bench.synth.casme2 import write_casme2_twin

    write_casme2_twin(out_dir, scale=scale, seed=seed)


CASME2 = DatasetSpec(
    name="casme2",
    title="CASME II",
    folder="CASME2",
    fps=FPS,
    read=read_casme2,
    write_twin=_write_twin,
    twin_version=TWIN_VERSION,
)
