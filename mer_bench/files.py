"""Atomic file writes: a reader sees the old file whole or the new file whole, never a part of one.

The one home for writing generated files (pages, tables, figures): each is written to a hidden
temporary file beside its target, flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write ``data`` atomically unless ``path`` already holds exactly it; returns whether it wrote.

    An unchanged file keeps its inode and modification time, so regenerating pages from the same
    records touches nothing.
    """
    path = Path(path)
    content = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_file() and path.read_bytes() == content:
        return False
    atomic_write_bytes(path, content)
    return True


__all__ = ["atomic_write_bytes", "atomic_write_text", "write_if_changed"]
