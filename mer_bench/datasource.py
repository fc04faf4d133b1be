"""Where samples come from: a real data root (--data-root / MER_BENCH_DATA) or synthetic twins.

Without a data root the synthetic twins are the embedded default: each is generated once, in the
dataset's native layout, under the cache folder, and then read by the same reader real data uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from mer_bench.data.errata import AppliedFix, apply_errata
from mer_bench.data.sample_list import (keep_listed, read_sample_list, twin_selection,
                                        write_sample_list)
from mer_bench.data.sample import Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.errors import DataError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import without_faceless

if TYPE_CHECKING:
    from mer_bench.protocols import Protocol

DATA_ENV = "MER_BENCH_DATA"
CACHE_ENV = "MER_BENCH_CACHE"


def cache_dir() -> Path:
    """Generated twins and input tensors: ``MER_BENCH_CACHE`` or ``~/.cache/mer-bench``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path.home() / ".cache" / "mer-bench"


@dataclass(frozen=True)
class DataSource:
    """A real data root, or (root None) twins generated at ``twin_scale`` from ``twin_seed``."""

    root: Path | None
    twin_scale: float = 1.0
    twin_seed: int = 0

    @property
    def is_twin(self) -> bool:
        return self.root is None

    def twin_root(self) -> Path:
        return cache_dir() / "twins" / f"scale-{self.twin_scale:g}-seed-{self.twin_seed}"

    def dataset_dir(self, dataset: DatasetSpec) -> Path:
        base = self.twin_root() if self.root is None else self.root
        return base / dataset.folder

    def describe(self, dataset: DatasetSpec) -> str:
        if self.root is None:
            return (f"twin:{dataset.name}:v{dataset.twin_version}:scale={self.twin_scale:g}"
                    f":seed={self.twin_seed}")
        return f"data:{dataset.name}:{self.dataset_dir(dataset)}"

    def has(self, dataset: DatasetSpec) -> bool:
        """Whether the dataset can be read from here (twins can always be generated)."""
        if self.root is None:
            return dataset.write_twin is not None
        return self.dataset_dir(dataset).is_dir()


def resolve_data_source(data_root: Path | None, twin_scale: float = 1.0,
                        twin_seed: int = 0) -> DataSource:
    """The data root from the option, else ``MER_BENCH_DATA``, else the synthetic twins."""
    if data_root is None and os.environ.get(DATA_ENV):
        data_root = Path(os.environ[DATA_ENV])
    if data_root is not None:
        if not data_root.is_dir():
            raise DataError(f"data root {data_root} does not exist; pass --data-root DIR (or set "
                            f"{DATA_ENV}) to a folder holding e.g. CASME2/, or omit both to use "
                            "the synthetic twins")
        return DataSource(data_root.resolve())
    if not 0 < twin_scale <= 1:
        raise DataError(f"twin scale {twin_scale} is out of range; use a value in (0, 1]")
    return DataSource(None, twin_scale, twin_seed)


def ensure_twin(dataset: DatasetSpec, source: DataSource) -> Path:
    """The twin's folder, generated first if it is missing or was made by another generator."""
    target = source.dataset_dir(dataset)
    if not twin_is_current(dataset, source):
        if dataset.write_twin is None:
            raise DataError(f"no synthetic twin exists for {dataset.name}; pass --data-root")
        dataset.write_twin(target, source.twin_scale, source.twin_seed)
    return target


def twin_is_current(dataset: DatasetSpec, source: DataSource) -> bool:
    manifest = _twin_manifest(source.dataset_dir(dataset))
    return manifest is not None and manifest.get("generator_version") == dataset.twin_version


def _twin_manifest(directory: Path) -> dict | None:
    path = directory / "twin_manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def twin_scale_of(directory: Path) -> float | None:
    """The scale a synthetic twin was generated at, or None for real data."""
    manifest = _twin_manifest(directory)
    return None if manifest is None else float(manifest.get("scale", 1.0))


def load_samples(dataset: DatasetSpec, source: DataSource) -> list[Sample]:
    """The dataset's samples with its errata rules applied (see `load_dataset` for the fixes)."""
    return load_dataset(dataset, source)[0]


def load_dataset(dataset: DatasetSpec, source: DataSource) -> tuple[list[Sample], list[AppliedFix]]:
    """Read the dataset (generating its twin first if needed) and apply its errata rules."""
    if source.is_twin:
        ensure_twin(dataset, source)
    directory = source.dataset_dir(dataset)
    if not directory.is_dir():
        raise DataError(f"{directory}: no {dataset.title} folder under the data root; "
                        f"put the dataset there as {dataset.folder}/ or choose other protocols")
    return _read_cached(dataset, directory)


@lru_cache(maxsize=16)
def _read_cached(dataset: DatasetSpec, directory: Path) -> tuple[list[Sample], list[AppliedFix]]:
    return apply_errata(dataset.read(directory), dataset.errata)


def protocol_samples(protocol: "Protocol", source: DataSource) -> list[Sample]:
    """Every sample of the protocol's datasets, less those with no face to crop, restricted to its
    sample list if it has one.

    On twins the list is written from the twins themselves (see `data.sample_list`); on real
    data a missing list is an error naming where to put it.
    """
    samples = [sample for name in protocol.datasets
               for sample in load_samples(DATASETS.get(name), source)]
    # Face crops are resolved over whole datasets (a clip may borrow its subject's box); a clip
    # with no face anywhere is left out here, before any selection (see inputs.face_crop).
    samples = without_faceless(samples, InputCache(cache_dir() / "inputs"))[0]
    if protocol.sample_list is None:
        return samples
    if source.is_twin:
        # one list per protocol, rewritten each time so it always follows the twins it describes
        path = source.twin_root() / "sample-lists" / f"{protocol.id}.csv"
        write_twin_sample_list(path, protocol, samples)
    else:
        path = source.root / protocol.sample_list
    if not path.is_file():
        raise DataError(f"{path}: protocol {protocol.id} needs its sample list there (the "
                        "MEGC2019 ground truth, combined_3class_gt.csv); add it or choose "
                        "another protocol")
    return keep_listed(samples, read_sample_list(path))


def missing_sample_list(protocol: "Protocol", source: DataSource) -> Path | None:
    """Where the protocol's sample list should be, if it is missing from a real data root."""
    if protocol.sample_list is None or source.is_twin:
        return None
    path = source.root / protocol.sample_list
    return None if path.is_file() else path


def write_twin_sample_list(path: Path, protocol: "Protocol", samples: list[Sample]) -> None:
    rows = [(s.dataset, s.subject, s.clip, protocol.classes[label]) for s in samples
            if (label := protocol.label_of(s)) is not None]
    write_sample_list(path, twin_selection(rows))
