"""Byte-reproducible .xlsx files: the same rows always give the same bytes."""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

from openpyxl import Workbook

# openpyxl stamps the save time into docProps/core.xml and the zip entries; both are pinned.
FIXED_TIME = datetime.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def write_sheet(
    path: Path,
    header: Sequence[str | None],
    rows: Iterable[Sequence[object]],
    sheet_title: str = "Sheet1",
) -> None:
    """One sheet with ``header`` in row 1 (None leaves a header cell blank) and ``rows`` below."""
    write_workbook(path, [(sheet_title, [header, *rows])])


def write_workbook(path: Path, sheets: Sequence[tuple[str, Iterable[Sequence[object]]]]) -> None:
    """Sheets in order, each (title, rows from row 1); a sheet without rows is left empty."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    workbook.properties.creator = "mer-bench"
    workbook.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_pin_timestamps(buffer.getvalue()))


def _pin_timestamps(data: bytes) -> bytes:
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _STAMP.sub(rb"\g<1>" + stamp + rb"\g<3>", content)
            pinned = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            pinned.compress_type = zipfile.ZIP_DEFLATED
            pinned.external_attr = 0o600 << 16
            target.writestr(pinned, content)
    return out.getvalue()
