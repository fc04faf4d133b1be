"""On-disk cache of built input arrays, keyed by everything that determines their content."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path, PurePath
from typing import Callable, Mapping

import numpy as np

# Bump when the entry layout or the meaning of keys changes, so that old entries are never read.
CACHE_FORMAT_VERSION = 1


def cache_key_hash(key: Mapping[str, object]) -> str:
    """sha256 hex digest of the key as canonical JSON (sorted keys, no spaces), format version included."""
    document = {"cache_format": CACHE_FORMAT_VERSION, "key": key}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_jsonable)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class InputCache:
    """Arrays stored as ``<root>/<first two hex digits>/<sha256>.npy``; entries are written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, key: Mapping[str, object]) -> Path:
        """Where the entry for ``key`` lives (whether or not it exists yet)."""
        digest = cache_key_hash(key)
        return self.root / digest[:2] / f"{digest}.npy"

    def get_or_build(self, key: Mapping[str, object], build: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key``; on a miss, ``build()`` it, store it, and return it."""
        path = self.path_for(key)
        cached = _load(path)
        if cached is not None:
            return cached
        array = np.asarray(build())
        _save_atomically(path, array)
        return array


def _load(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError):
        # Entries are replaced atomically, so a bad one comes from outside (disk fault, manual
        # copy); rebuilding it is always safe.
        return None


def _save_atomically(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file sits in the same directory so os.replace is a same-filesystem rename:
    # readers see either no entry or a complete one, never a partial write.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _jsonable(value: object) -> object:
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cache key value {value!r} of type {type(value).__name__} is not JSON-serialisable")
