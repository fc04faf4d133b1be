"""What the native-layout readers share: spreadsheet cells and sheets, workbooks, frame folders.

Each reader (``casme2.py``, ``samm.py``, ...) knows its own dataset's files and quirks; the jobs
that are the same for every dataset live here once: reading a cell as a number or as text, finding
the one coding workbook, reading a sheet and locating its columns, collecting rows (a bad row is
excluded, not the dataset), listing a clip folder's numbered frames. Readers parse, they do not
judge: whether key frames are in order and have frames is checked after the errata (see
``mer_bench.data.loading``). Every error is one DataError line that starts with the file (and row)
it concerns.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator, Mapping, Sequence, TypeVar

import pandas as pd

from mer_bench.data.sample import Excluded, Frames, Rows, Sample
from mer_bench.errors import DataError

R = TypeVar("R")
# Wanted columns: canonical names, or canonical name -> header spellings accepted (first = shown).
Columns = Sequence[str] | Mapping[str, Sequence[str]]

# --- cells ----------------------------------------------------------------------------------------


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


def prefixed_number(value: object, prefix: str) -> int | None:
    """A number cell, or text ``<prefix><digits>`` in any case: ('sub01', 'sub') -> 1; else None.

    ``prefix`` is a regular expression (``r"spNO\\.?\\s*"`` reads 'spNO.1' and 'spno 1').
    """
    number = as_int(value)
    if number is None and isinstance(value, str):
        match = re.fullmatch(rf"\s*{prefix}(\d+)\s*", value, re.IGNORECASE)
        number = int(match.group(1)) if match else None
    return number


def subject_number(value: object, prefix: str, where: str, *, example: str) -> int:
    """A Subject cell: a number from 1, or text ``<prefix><digits>``; else an error naming it."""
    number = prefixed_number(value, prefix)
    if number is None or number < 1:
        raise DataError(f"{where}: Subject {shown(value)} is not a subject number; "
                        f"write e.g. {example}")
    return number


def shown(value: object) -> str:
    """A cell value as quoted in messages; blank cells say so."""
    return "(empty)" if is_blank(value) else repr(value)


def cell_text(value: object) -> str:
    """A cell as text: blanks are '', integral numbers lose their '.0' (an AU written as 4)."""
    if is_blank(value):
        return ""
    number = as_int(value) if isinstance(value, float) else None
    return str(number) if number is not None else str(value).strip()


def frame_number(value: object, column: str, where: str, *,
                 advice: str = "write the frame number") -> int:
    """A frame number cell; anything else (a negative number too) is an error naming the cell."""
    number = as_int(value)
    if number is None or number < 0:
        raise DataError(f"{where}: {column} {shown(value)} is not a frame number; {advice}")
    return number


def optional_frame(value: object, column: str, where: str, *, missing: Collection[str],
                   advice: str) -> int | None:
    """A frame number, or None where the cell's text is one of ``missing`` ('' for a blank)."""
    if cell_text(value) in missing:
        return None
    return frame_number(value, column, where, advice=advice)


# --- workbooks ------------------------------------------------------------------------------------


def require_dataset_dir(dataset_dir: Path, title: str, folder: str) -> None:
    if not dataset_dir.is_dir():
        raise DataError(f"{dataset_dir}: {title} folder not found; point --data-root at the "
                        f"folder holding {folder}/")


def given_file(dataset_dir: Path, given: Path, setting: str = "coding_file") -> Path:
    """``given`` (relative to ``dataset_dir``), which must exist: the reader's ``setting``."""
    path = given if given.is_absolute() else dataset_dir / given
    if not path.is_file():
        what = setting.replace("_", " ")
        raise DataError(f"{path}: {what} not found; check the {setting} setting")
    return path


def one_workbook(dataset_dir: Path, found: Iterable[Path], *, missing: str,
                 several: str = "coding spreadsheets", setting: str = "coding_file") -> Path:
    """The one workbook among ``found``; none is ``missing``, several say to keep one."""
    # Excel leaves "~$name.xlsx" lock files beside an open workbook; they are not versions.
    files = [path for path in found if not path.name.startswith("~$")]
    if not files:
        raise DataError(f"{dataset_dir}: {missing}")
    if len(files) > 1:
        names = ", ".join(str(path.relative_to(dataset_dir)) for path in files)
        raise DataError(f"{dataset_dir}: several {several} ({names}); keep one of them or name "
                        f"it with {setting}")
    return files[0]


def find_workbook(dataset_dir: Path, pattern: str, coding_file: Path | None, *, title: str,
                  folder: str, missing: str, several: str = "coding spreadsheets") -> Path:
    """The one workbook of ``dataset_dir`` matching ``pattern`` (or ``coding_file``)."""
    require_dataset_dir(dataset_dir, title, folder)
    if coding_file is not None:
        return given_file(dataset_dir, coding_file)
    return one_workbook(dataset_dir, sorted(dataset_dir.glob(pattern)), missing=missing,
                        several=several)


# --- sheets ---------------------------------------------------------------------------------------


def read_sheet(path: Path, *, header: int | None = 0, noun: str = "spreadsheet") -> pd.DataFrame:
    """The first sheet of a workbook as raw cells, its row ``header`` (None: none) as the header."""
    return _read_excel(path, sheet=0, header=header, noun=noun)


def read_sheets(path: Path, *, header: int | None = None, noun: str = "spreadsheet"
                ) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook as raw cells (no header row taken by default), in order."""
    return _read_excel(path, sheet=None, header=header, noun=noun)


def _read_excel(path: Path, *, sheet: int | None, header: int | None, noun: str
                ) -> pd.DataFrame | dict[str, pd.DataFrame]:
    # the release's old .xls format needs xlrd; everything else is read by openpyxl
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        return pd.read_excel(path, sheet_name=sheet, header=header, dtype=object, engine=engine)
    except ImportError:
        raise DataError(f"{path}: reading this workbook format needs the xlrd package; "
                        f"pip install xlrd, or save the file as .xlsx") from None
    except Exception as exc:  # any parse failure is a bad file, reported as one line
        if engine == "openpyxl" and _is_ole_container(path):
            # an encrypted .xlsx is stored in an OLE container, not a zip
            raise DataError(f"{path}: the {noun} is password-protected (or an old binary "
                            "workbook); open it, remove the password and save it as .xlsx") from None
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: cannot read the {noun} ({reason}); "
                        "re-copy it from the release") from None


OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


def _is_ole_container(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(OLE_MAGIC)) == OLE_MAGIC
    except OSError:
        return False


def normalise_header(header: object) -> str:
    return "".join(str(header).split()).lower()


def find_header_row(cells: pd.DataFrame, anchors: Sequence[str], limit: int) -> int | None:
    """Index of the first of ``limit`` rows holding every ``anchors`` header text, or None."""
    wanted = {normalise_header(a) for a in anchors}
    for index in range(min(limit, len(cells))):
        present = {normalise_header(v) for v in cells.iloc[index].values if not is_blank(v)}
        if wanted <= present:
            return index
    return None


def locate_columns(header_cells: Sequence[object], columns: Columns, required: Collection[str],
                   where: str, *, header: str = "the header") -> dict[str, int]:
    """Position of each wanted column in the header (case and spaces ignored; first one wins).

    A ``required`` column that is absent is an error naming ``where``; others are left out.
    """
    spellings = columns if isinstance(columns, Mapping) else {name: (name,) for name in columns}
    by_name: dict[str, int] = {}
    for position, value in enumerate(header_cells):
        if not is_blank(value):
            by_name.setdefault(normalise_header(value), position)
    found = {}
    for name, accepted in spellings.items():
        keys = [normalise_header(spelling) for spelling in accepted]
        position = next((by_name[key] for key in keys if key in by_name), None)
        if position is None:
            if name in required:
                raise DataError(f"{where}: no {accepted[0]!r} column in {header}; "
                                "restore the original header row")
            continue
        found[name] = position
    return found


def rename_columns(table: pd.DataFrame, columns: Columns, required: Collection[str], where: str,
                   *, header: str = "the header") -> pd.DataFrame:
    """``table`` with its wanted columns renamed to their canonical names."""
    positions = locate_columns(list(table.columns), columns, required, where, header=header)
    return table.rename(columns={table.columns[p]: name for name, p in positions.items()})


def read_coding_sheet(path: Path, columns: Columns,
                      optional: Collection[str] = frozenset()) -> pd.DataFrame:
    """The first sheet of ``path``, header in row 1, its columns renamed to canonical names.

    A wanted column not in ``optional`` that is absent is an error naming the file and row 1.
    """
    required = [name for name in columns if name not in optional]
    return rename_columns(read_sheet(path), columns, required, f"{path}: row 1")


def excel_rows(table: pd.DataFrame, *, first_row: int = 2) -> Iterator[tuple[int, pd.Series]]:
    """(Excel row number, row) of every non-blank row; ``first_row`` is the number of row 0."""
    for index, row in table.iterrows():
        if all(is_blank(value) for value in row.values):
            continue
        yield int(index) + first_row, row


def rows_below_header(cells: pd.DataFrame, header_index: int, columns: Mapping[str, int],
                      keys: Sequence[str]) -> Iterator[tuple[int, dict[str, object]]]:
    """(Excel row number, wanted cells by name) of the rows below the header.

    Rows blank in every ``keys`` column (separators, trailing rows) are passed over.
    """
    for index in range(header_index + 1, len(cells)):
        row = {name: cells.iat[index, position] for name, position in columns.items()}
        if all(is_blank(row[key]) for key in keys):
            continue
        yield index + 1, row


class RowError(DataError):
    """A DataError about one row whose sample (dataset/subject/clip) is known."""

    def __init__(self, message: str, sample_id: str) -> None:
        super().__init__(message)
        self.sample_id = sample_id


@contextmanager
def about_sample(sample_id: str) -> Iterator[None]:
    """Errors raised inside name ``sample_id``: an excluded row can then be matched, e.g. by the
    MEGC2019 list entry that names it."""
    try:
        yield
    except RowError:
        raise
    except DataError as error:
        raise RowError(str(error), sample_id) from None


def _subject_slash_clip(sample: Sample) -> str:
    return f"{sample.subject}/{sample.clip}"


def read_rows(rows: Iterable[tuple[int, R]], parse: Callable[[int, R], Sample | None],
              source: str, *, describe: Callable[[Sample], str] = _subject_slash_clip,
              frames_of: Callable[[Sample], Frames] | None = None) -> Rows:
    """The samples ``parse(excel_row, row)`` makes of ``rows``, sorted by (subject, clip).

    A row ``parse`` refuses (a DataError naming the file and row) is excluded with that reason,
    not the whole dataset; ``parse`` returns None for rows that are not samples at all. A clip on a
    second row is excluded too, naming both rows (the first is kept).
    """
    samples: list[Sample] = []
    excluded: list[Excluded] = []
    seen: dict[tuple[str, str], int] = {}
    for excel_row, row in rows:
        try:
            sample = parse(excel_row, row)
        except DataError as error:
            excluded.append(Excluded(str(error), getattr(error, "sample_id", None)))
            continue
        if sample is None:
            continue
        key = (sample.subject, sample.clip)
        if key in seen:
            excluded.append(Excluded(f"{source}: row {excel_row}: {describe(sample)} repeats row "
                                     f"{seen[key]}; delete one of the two rows",
                                     sample.sample_id))
            continue
        seen[key] = excel_row
        samples.append(sample)
    return Rows(sorted(samples, key=lambda s: (s.subject, s.clip)), excluded, frames_of)


# --- frame folders --------------------------------------------------------------------------------


def numbered_frames(clip_dir: Path, pattern: re.Pattern[str], where: str, naming: str) -> Frames:
    """Frame numbers and paths of one clip folder in numeric order (frame 9 before frame 10).

    ``pattern`` matches a frame file name with a ``number`` group (and, optionally, a ``stem``
    group that must be the same for every frame); other files (Thumbs.db, notes) are ignored.
    A gap in the numbering is not an error here: ``mer-bench doctor`` reports it, and a key frame
    that falls in one is excluded by the validation after the errata. ``where`` starts every
    message; ``naming`` describes the expected file names.
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


def frames_in_range(video_dir: Path, prefix: str, first: int, last: int, where: str,
                    listings: dict[Path, dict[int, Path]]) -> Frames:
    """Frames ``first..last`` of a long video folder holding ``<prefix><N>.jpg``, in numeric order.

    A whole video has thousands of frames and a clip a few dozen, so each frame is looked up by
    name; a folder is listed (once per read, in ``listings``) only when a name is not found, which
    covers zero-padded copies. A frame missing inside the range is an error naming it.
    """
    numbers = tuple(range(first, last + 1))
    paths = []
    for number in numbers:
        path = video_dir / f"{prefix}{number}.jpg"
        if not path.is_file():
            path = _listed_frames(video_dir, prefix, listings).get(number)
        if path is None:
            raise DataError(
                f"{where}: frame {number} of the clip {first}..{last} is missing from "
                f"{video_dir}; restore the frame or fix the row"
            )
        paths.append(path)
    return numbers, tuple(paths)


def _listed_frames(video_dir: Path, prefix: str,
                   listings: dict[Path, dict[int, Path]]) -> dict[int, Path]:
    if video_dir not in listings:
        pattern = re.compile(rf"^{re.escape(prefix)}0*(\d+)\.jpg$", re.IGNORECASE)
        found: dict[int, Path] = {}
        for path in sorted(video_dir.iterdir()):
            match = pattern.match(path.name)
            if match:
                found.setdefault(int(match.group(1)), path)
        listings[video_dir] = found
    return listings[video_dir]


def bounded_dirs(root: Path, max_depth: int, *, skip: re.Pattern[str] | None = None
                 ) -> Iterator[tuple[int, Path]]:
    """(depth, folder) breadth first, ``root`` at depth 0, never below ``max_depth``.

    Hidden folders and folders whose name matches ``skip`` (frame folders with thousands of files)
    are yielded but not entered.
    """
    level = [root]
    for depth in range(max_depth + 1):
        following = []
        for folder in level:
            yield depth, folder
            if depth == max_depth or (skip is not None and skip.match(folder.name)):
                continue
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
            following += [c for c in children if not c.name.startswith(".")]
        level = following
