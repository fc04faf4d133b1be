"""Versioned result records (one per benchmark cell) and the on-disk store that writes them atomically.

Layout: ``<root>/records/<data>/<protocol>/<model>/<keyframes>/seed<k>/`` holding ``record.json``
(every field but the tables, plus ``schema_version``), ``predictions.parquet`` and, when recorded,
``keyframes.parquet``. ``<data>`` names the data source (`data_key`: a twin's scale and seed, or a
real data root), so records made on different data never share a path. A record directory is
built beside its target and renamed into place, so a reader sees the old record whole, the new
record whole, or (for a new cell) nothing. Writers and publishers of one results folder take its
lock file (`ResultStore.lock`), so concurrent runs lose no record and never interleave a
leaderboard.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import quote

import pandas as pd
from filelock import FileLock

import mer_bench
from mer_bench.errors import ConfigError, DataError
from mer_bench.metrics import Metrics

if TYPE_CHECKING:
    from mer_bench.datasource import DataSource

# 2: the data source joined a cell's identity (``cell.data``, and the record path below it)
SCHEMA_VERSION = 2
LOCK_FILE = ".lock"  # in records/, where dot-names are never records

RECORD_FILE = "record.json"
PREDICTIONS_FILE = "predictions.parquet"
KEYFRAMES_FILE = "keyframes.parquet"

PREDICTION_COLUMNS = ("sample_id", "subject", "fold", "y_true", "y_pred", "true_label", "pred_label")
KEYFRAME_COLUMNS = (
    "sample_id", "annotated_onset", "annotated_apex", "annotated_offset",
    "train_onset", "train_apex", "train_offset", "test_onset", "test_apex", "test_offset",
)


# How the evaluated model is chosen. ``fixed-epochs``: the last epoch of a fixed budget (default).
# ``optuna-nested``: hyper-parameters tuned by Optuna on validation subjects from the training side,
# then a fixed budget. ``oracle``: the best epoch on the test subject, which leaks test labels and
# exists only to measure how much that inflates published numbers.
DEFAULT_SELECTION = "fixed-epochs"
SELECTION_MODES = ("fixed-epochs", "optuna-nested", "oracle")


def data_key(source: "DataSource") -> str:
    """The data source as a record path component: ``twin-scale0.15-seed0`` for synthetic twins,
    ``real-<folder>-<hash of its absolute path>`` for a real data root.

    A twin's generator version is not part of it: a new generator makes the old twin's records
    stale (their config hash differs), and a re-run replaces them.
    """
    if source.root is None:
        return f"twin-scale{source.twin_scale:g}-seed{source.twin_seed}"
    root = Path(source.root).expanduser().resolve()
    digest = hashlib.sha256(str(root).encode("utf-8")).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", root.name).strip("-") or "root"
    return f"real-{name}-{digest}"


@dataclass(frozen=True)
class Cell:
    """One cell of the benchmark: (protocol, model, keyframe strategy, seed, selection mode) on a
    data source (``data``, see `data_key`)."""

    protocol: str
    model: str
    keyframes: str
    seed: int
    selection: str = DEFAULT_SELECTION
    data: str = field(kw_only=True)

    def __post_init__(self) -> None:
        for name in ("protocol", "model", "keyframes", "data"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"Cell.{name} must be a non-empty string, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"Cell.seed must be a non-negative int, got {self.seed!r}")
        if self.selection not in SELECTION_MODES:
            raise ValueError(f"Cell.selection must be one of {', '.join(SELECTION_MODES)}, "
                             f"got {self.selection!r}")

    @property
    def seed_dir(self) -> str:
        """``seed<k>`` for the default selection mode, ``seed<k>-<mode>`` otherwise."""
        suffix = "" if self.selection == DEFAULT_SELECTION else f"-{self.selection}"
        return f"seed{self.seed}{suffix}"

    @property
    def cell_id(self) -> str:
        return f"{self.data}/{self.protocol}/{self.model}/{self.keyframes}/{self.seed_dir}"

    @property
    def relpath(self) -> Path:
        """Directory of this cell's record below ``records/``; safe on any filesystem."""
        return Path(
            _path_component(self.data),
            _path_component(self.protocol),
            _path_component(self.model),
            _path_component(self.keyframes),
            self.seed_dir,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "model": self.model, "keyframes": self.keyframes, "seed": self.seed,
                "selection": self.selection, "data": self.data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        return cls(str(data["protocol"]), str(data["model"]), str(data["keyframes"]), int(data["seed"]),
                   str(data.get("selection", DEFAULT_SELECTION)), data=str(data["data"]))


def _path_component(name: str) -> str:
    # Percent-encoding is reversible, so two names can never share a directory ("timm:x" vs "timm_x").
    # A leading dot is encoded too: dot-names are reserved for in-flight temporary directories.
    encoded = quote(name, safe="")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays serialise as the Python values they hold, so a config holding
    # np.int64(3) hashes the same as one holding 3.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable; convert it (e.g. Path -> str)")


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value``: sorted keys, no whitespace, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    )


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a job config; independent of key order."""
    try:
        text = canonical_json(dict(config))
    except (TypeError, ValueError) as error:
        raise ValueError(f"config cannot be hashed: {error}") from error
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(kw_only=True, eq=False)
class JobResult:
    """Everything one job produced for one cell, and everything needed to trace it.

    ``config`` holds whatever determines the job (model params, budget, input spec, keyframe params,
    data source) as JSON-able values; ``config_hash`` must equal ``config_hash(config)``.
    ``predictions`` has one row per test sample of every fold: sample_id, subject, fold, y_true,
    y_pred (class indices), true_label, pred_label (class names).
    """

    cell: Cell
    protocol_version: str
    protocol_hash: str
    config: dict[str, Any]
    config_hash: str
    selection_mode: str = "fixed-epochs"
    metrics: Metrics
    param_count: int
    flops: int | None = None
    n_samples: int
    n_folds: int
    predictions: pd.DataFrame
    keyframes_used: pd.DataFrame | None = None
    curves: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    package_versions: dict[str, str] = field(default_factory=dict)
    wall_time_s: float
    started_at: str
    data_source: str
    # Neither is hashed: they say what the run cost and where, not what it computed. Seconds
    # inside the worker per fold, in fold order (data loading excluded; empty in older records),
    # and the device the folds trained on (None in older records).
    fold_wall_s: list[float] = field(default_factory=list)
    device: str | None = None

    def record_dict(self) -> dict[str, Any]:
        """The JSON part of the record: every field but the tables."""
        return {
            "schema_version": SCHEMA_VERSION,
            "cell_id": self.cell.cell_id,
            "cell": self.cell.to_dict(),
            "protocol_version": self.protocol_version,
            "protocol_hash": self.protocol_hash,
            "config": self.config,
            "config_hash": self.config_hash,
            "selection_mode": self.selection_mode,
            "metrics": self.metrics.to_dict(),
            "param_count": self.param_count,
            "flops": self.flops,
            "n_samples": self.n_samples,
            "n_folds": self.n_folds,
            "curves": self.curves,
            "git_commit": self.git_commit,
            "package_versions": self.package_versions,
            "wall_time_s": self.wall_time_s,
            "started_at": self.started_at,
            "data_source": self.data_source,
            "fold_wall_s": list(self.fold_wall_s),
            "device": self.device,
            "tables": ["predictions"] + (["keyframes"] if self.keyframes_used is not None else []),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobResult):
            return NotImplemented
        # Records compare through a JSON round trip (tuples become lists, numpy scalars plain numbers),
        # tables with .equals (values and dtypes; DataFrame == DataFrame is elementwise, not a bool).
        return (
            _json_normalised(self.record_dict()) == _json_normalised(other.record_dict())
            and _same_table(self.predictions, other.predictions)
            and _same_table(self.keyframes_used, other.keyframes_used)
        )

    __hash__ = None  # type: ignore[assignment]


def _json_normalised(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default))


def _same_table(left: pd.DataFrame | None, right: pd.DataFrame | None) -> bool:
    if left is None or right is None:
        return left is right
    return left.reset_index(drop=True).equals(right.reset_index(drop=True))


def _check_writable(result: JobResult) -> None:
    """Raise ValueError if ``result`` breaks an invariant a reader relies on."""
    where = f"JobResult for {result.cell.cell_id}"
    if result.selection_mode != result.cell.selection:
        raise ValueError(f"{where}: selection_mode {result.selection_mode!r} differs from the cell's "
                         f"{result.cell.selection!r}")
    expected_hash = config_hash(result.config)
    if result.config_hash != expected_hash:
        raise ValueError(f"{where}: config_hash does not match config; set it to config_hash(config)")
    missing = [c for c in PREDICTION_COLUMNS if c not in result.predictions.columns]
    if missing:
        raise ValueError(f"{where}: predictions lack columns {missing}")
    for column in ("y_true", "y_pred"):
        if not pd.api.types.is_integer_dtype(result.predictions[column]):
            raise ValueError(f"{where}: predictions.{column} must be integer class indices")
    if not len(result.predictions) == result.n_samples == result.metrics.n:
        raise ValueError(
            f"{where}: {len(result.predictions)} prediction rows, n_samples={result.n_samples}, "
            f"metrics.n={result.metrics.n}; all three must agree"
        )
    if result.keyframes_used is not None:
        missing = [c for c in KEYFRAME_COLUMNS if c not in result.keyframes_used.columns]
        if missing:
            raise ValueError(f"{where}: keyframes_used lacks columns {missing}")


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    frame.reset_index(drop=True).to_parquet(path, engine="pyarrow", index=False)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def check_writable(path: Path, what: str, *, create: bool = True) -> Path:
    """``path`` made absolute and proven writable, or a one-line error.

    ``create=True`` creates the folder; ``create=False`` leaves nothing behind (the check of a run
    that may still stop before it writes): the nearest existing folder on the path is probed.
    """
    path = Path(path).expanduser().resolve()
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise NotADirectoryError(20, "a file is in the way", str(existing))
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=existing))
    except OSError as error:
        raise ConfigError(f"{what} {path} is not writable ({error.strerror or error}); "
                          "choose a folder you can write to") from None
    return path


# below records/<data>/: protocol / model / keyframes / seed dir / record.json
RECORD_GLOB = f"*/*/*/*/{RECORD_FILE}"


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class ResultStore:
    """Result records under ``<root>/records/``: atomic writes, validated loads, one lock."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the results folder's lock: record writes and publishing take it, so two runs
        writing one folder never interleave (an OS file lock: released if a process dies)."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(self.records_dir / LOCK_FILE):
            yield

    def path_of(self, cell: Cell) -> Path:
        return self.records_dir / cell.relpath

    def has(self, cell: Cell) -> bool:
        return (self.path_of(cell) / RECORD_FILE).is_file()

    def write(self, result: JobResult) -> Path:
        """Write ``result`` as its cell's record, replacing any previous one whole; returns its directory."""
        _check_writable(result)
        target = self.path_of(result.cell)
        with self.lock():
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
            try:
                temp.mkdir()
                self._write_files(result, temp)
                self._swap_into_place(temp, target)
            finally:
                shutil.rmtree(temp, ignore_errors=True)
        return target

    def _write_files(self, result: JobResult, directory: Path) -> None:
        tables = {PREDICTIONS_FILE: result.predictions}
        if result.keyframes_used is not None:
            tables[KEYFRAMES_FILE] = result.keyframes_used
        for name, frame in tables.items():
            _write_table(frame, directory / name)
            _fsync_file(directory / name)
        text = json.dumps(result.record_dict(), indent=2, sort_keys=False, default=_json_default)
        with open(directory / RECORD_FILE, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @staticmethod
    def _swap_into_place(temp: Path, target: Path) -> None:
        # rename(2) cannot replace a non-empty directory, so the old record steps aside first and is
        # deleted only once the new one is in place. Should the process die between the two renames,
        # the old record survives whole as ".<seed>.old-*" beside the target.
        if not target.exists():
            os.replace(temp, target)
            return
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
        os.replace(target, old)
        try:
            os.replace(temp, target)
        except BaseException:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def sweep_unfinished(self) -> None:
        """Clean up after a writer killed mid-write: delete half-built records, and put back a
        replaced record whose replacement never arrived. Safe while other runs write here:
        their writes hold the lock this takes."""
        if not self.records_dir.is_dir():
            return
        with self.lock():
            for path in sorted(self.records_dir.glob(f"{RECORD_GLOB.rsplit('/', 1)[0]}/.*")):
                name, _, kind = path.name[1:].rpartition(".")
                target = path.with_name(name)
                if kind.startswith("old-") and not target.exists():
                    os.replace(path, target)
                elif kind.startswith(("tmp-", "old-")):
                    shutil.rmtree(path, ignore_errors=True)

    def load(self, cell: Cell) -> JobResult:
        directory = self.path_of(cell)
        if not (directory / RECORD_FILE).is_file():
            raise DataError(f"{directory}: no result record for {cell.cell_id}; run that cell first")
        return _load_record(directory)

    def check_layout(self) -> None:
        """A one-line error if the folder holds records in the layout before data sources had
        their own folder (``records/<protocol>/<model>/<keyframes>/seed<k>/``)."""
        old = sorted(self.records_dir.glob(f"*/*/*/*/{RECORD_FILE}"))
        old = [path for path in old if not _hidden(path.relative_to(self.records_dir))]
        if old:
            example = old[0].parent.relative_to(self.root)
            raise DataError(
                f"{self.records_dir}: {len(old)} records in the old layout without a data-source "
                f"folder (e.g. {example.as_posix()}); move them out of {self.records_dir} or "
                "delete them, then run again: mer-bench now keeps each data source apart "
                "(records/<data>/<protocol>/...)")

    def load_all(self, *, data: str | None = None) -> list[JobResult]:
        """Every record in the store (or those of one data source), sorted by cell id; in-flight
        temporary directories are skipped."""
        self.check_layout()
        pattern = f"{_path_component(data) if data else '*'}/{RECORD_GLOB}"
        results = [
            _load_record(path.parent)
            for path in self.records_dir.glob(pattern)
            if not _hidden(path.relative_to(self.records_dir))
        ]
        return sorted(results, key=lambda result: result.cell.cell_id)

    def data_sources(self) -> list[str]:
        """The data sources (`data_key`) that have records here."""
        self.check_layout()
        return sorted({path.relative_to(self.records_dir).parts[0]
                       for path in self.records_dir.glob(f"*/{RECORD_GLOB}")
                       if not _hidden(path.relative_to(self.records_dir))})


def _read_record_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}: broken JSON ({error.msg} at line {error.lineno}); "
            f"delete {path.parent} and re-run that cell"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({error}); delete {path.parent} and re-run that cell") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a result record (top level is not an object); delete {path.parent}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise DataError(
                f"{path}: schema_version {version} is newer than this mer-bench reads "
                f"({SCHEMA_VERSION}); upgrade mer-bench"
            )
        raise DataError(
            f"{path}: unknown schema_version {version!r} (this mer-bench reads {SCHEMA_VERSION}); "
            f"delete {path.parent} and re-run that cell"
        )
    return data


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as error:  # pyarrow raises several unrelated types for a damaged file
        raise DataError(f"{path}: unreadable table ({error}); delete {path.parent} and re-run that cell") from None


def _load_record(directory: Path) -> JobResult:
    path = directory / RECORD_FILE
    data = _read_record_json(path)
    tables = data.get("tables", ["predictions"])
    try:
        result = JobResult(
            cell=Cell.from_dict(data["cell"]),
            protocol_version=str(data["protocol_version"]),
            protocol_hash=str(data["protocol_hash"]),
            config=dict(data["config"]),
            config_hash=str(data["config_hash"]),
            selection_mode=str(data["selection_mode"]),
            metrics=Metrics.from_dict(data["metrics"]),
            param_count=int(data["param_count"]),
            flops=None if data["flops"] is None else int(data["flops"]),
            n_samples=int(data["n_samples"]),
            n_folds=int(data["n_folds"]),
            predictions=_read_table(directory / PREDICTIONS_FILE),
            keyframes_used=_read_table(directory / KEYFRAMES_FILE) if "keyframes" in tables else None,
            curves=dict(data["curves"]),
            git_commit=data["git_commit"],
            package_versions=dict(data["package_versions"]),
            wall_time_s=float(data["wall_time_s"]),
            started_at=str(data["started_at"]),
            data_source=str(data["data_source"]),
            fold_wall_s=[float(v) for v in data.get("fold_wall_s", [])],
            device=data.get("device"),
        )
    except KeyError as error:
        raise DataError(f"{path}: missing field {error}; delete {directory} and re-run that cell") from None
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: malformed field ({error}); delete {directory} and re-run that cell") from None
    if result.config_hash != config_hash(result.config):
        raise DataError(f"{path}: config does not match config_hash (edited by hand?); re-run that cell")
    return result


def git_commit() -> str | None:
    """HEAD commit of the repository mer-bench runs from; None outside git or without git."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(mer_bench.__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = completed.stdout.strip()
    return commit if completed.returncode == 0 and commit else None


# Everything that can change a number: training, data reading (spreadsheets, frames, flow), search.
_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "mer_bench": ("mer-bench",),
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "timm": ("timm",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "scikit-learn": ("scikit-learn",),
    "opencv": (
        "opencv-contrib-python-headless",
        "opencv-contrib-python",
        "opencv-python-headless",
        "opencv-python",
    ),
    "pandas": ("pandas",),
    "pyarrow": ("pyarrow",),
    "openpyxl": ("openpyxl",),
    "optuna": ("optuna",),
    "ray": ("ray",),
}


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape a result; a package not installed is left out."""
    versions = {"python": platform.python_version()}
    for key, distributions in _DISTRIBUTIONS.items():
        for distribution in distributions:
            try:
                versions[key] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    # Run from a source checkout without `pip install -e`, mer_bench has no distribution metadata.
    versions.setdefault("mer_bench", mer_bench.__version__)
    return versions
