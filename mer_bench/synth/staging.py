"""Build an output folder beside its destination and swap it in whole: no half tree on a crash."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mer_bench.errors import DataError

TWIN_MARKER = "twin_manifest.json"


@contextmanager
def staged_directory(out_dir: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``out_dir``, on error it is removed.

    An existing ``out_dir`` is replaced only if it is empty or an earlier twin (it holds
    ``twin_manifest.json``): real data is never overwritten.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / TWIN_MARKER).is_file():
        raise DataError(
            f"{out_dir}: folder exists and is not a synthetic twin; choose an empty or new folder"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if out_dir.exists():
        out_dir.rename(old)
    stage.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
