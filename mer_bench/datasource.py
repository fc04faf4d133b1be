"""Where samples come from: a real data root (--data-root / MER_BENCH_DATA) or synthetic twins.

Without a data root the synthetic twins are the embedded default: each is generated once, in the
dataset's native layout, under the cache folder, and then read by the same reader real data uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from mer_bench.data.loading import LoadedDataset, load_dataset_dir
from mer_bench.data.sample import Excluded, Sample
from mer_bench.data.sample_list import (read_sample_list, select_listed, twin_selection,
                                        write_sample_list)
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.errors import DataError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import without_faceless_rows

if TYPE_CHECKING:
    from mer_bench.protocols import Protocol, SampleListSpec

DATA_ENV = "MER_BENCH_DATA"
CACHE_ENV = "MER_BENCH_CACHE"


def cache_dir() -> Path:
    """Generated twins and input tensors: ``MER_BENCH_CACHE`` or ``~/.cache/mer-bench``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path.home() / ".cache" / "mer-bench"


@dataclass(frozen=True)
class DataSource:
    """A real data root, or (root None) twins generated at ``twin_scale`` from ``twin_seed``.

    ``strict`` and ``allow_count_mismatch`` say how a run treats what it loads, not which data it
    is (they take no part in equality): with ``strict`` a row excluded on loading is an error;
    ``allow_count_mismatch`` lets a run go on when real data misses its protocol's published
    counts (see ``protocol_check.check_before_run``).
    """

    root: Path | None
    twin_scale: float = 1.0
    twin_seed: int = 0
    strict: bool = field(default=False, compare=False)
    allow_count_mismatch: bool = field(default=False, compare=False)

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
        return dataset.present_in(self.dataset_dir(dataset))


def resolve_data_source(data_root: Path | None, twin_scale: float = 1.0, twin_seed: int = 0, *,
                        strict: bool = False, allow_count_mismatch: bool = False) -> DataSource:
    """The data root from the option, else ``MER_BENCH_DATA``, else the synthetic twins."""
    if data_root is None and os.environ.get(DATA_ENV):
        data_root = Path(os.environ[DATA_ENV])
    if data_root is not None:
        check_data_root(data_root)
        return DataSource(data_root.resolve(), strict=strict,
                          allow_count_mismatch=allow_count_mismatch)
    if not 0 < twin_scale <= 1:
        raise DataError(f"twin scale {twin_scale} is out of range; use a value in (0, 1]")
    return DataSource(None, twin_scale, twin_seed, strict=strict,
                      allow_count_mismatch=allow_count_mismatch)


def check_data_root(data_root: Path) -> None:
    """A data root must be a folder: a file or a missing path is one line saying which."""
    if data_root.is_file():
        raise DataError(f"data root {data_root} is a file, not a folder; pass --data-root DIR "
                        f"(or set {DATA_ENV}) to the folder holding the datasets, e.g. the one "
                        "holding CASME2/")
    if not data_root.is_dir():
        raise DataError(f"data root {data_root} does not exist; pass --data-root DIR (or set "
                        f"{DATA_ENV}) to a folder holding e.g. CASME2/, or omit both to use "
                        "the synthetic twins")


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
    """The dataset's samples: read, errata applied, validated (see `load_dataset`)."""
    return load_dataset(dataset, source).samples


def load_dataset(dataset: DatasetSpec, source: DataSource) -> LoadedDataset:
    """Read the dataset (generating its twin first if needed), apply its errata and validate.

    With ``source.strict`` a row excluded on loading is an error naming the first one.
    """
    if source.is_twin:
        ensure_twin(dataset, source)
    directory = source.dataset_dir(dataset)
    if not dataset.present_in(directory):
        raise DataError(f"{directory}: no {dataset.title} folder under the data root; put the "
                        f"dataset there as {dataset.looked_for} or choose other protocols")
    loaded = _read_cached(dataset, directory)
    if source.strict and loaded.excluded:
        raise DataError(f"{dataset.title}: {len(loaded.excluded)} rows excluded on loading, "
                        f"and --strict allows none (the first: {loaded.excluded[0]}); fix them "
                        "(mer-bench doctor lists every one) or run without --strict")
    return loaded


@lru_cache(maxsize=16)
def _read_cached(dataset: DatasetSpec, directory: Path) -> LoadedDataset:
    loaded = load_dataset_dir(dataset, directory)
    if not dataset.face_crop:
        return loaded
    # Crops are resolved over the whole dataset (a clip may borrow its subject's box); a clip
    # with no face at all is a row excluded on loading (see inputs.face_crop).
    return without_faceless_rows(loaded, InputCache(cache_dir() / "inputs"))


# --- sample lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListUsed:
    """The sample list a protocol used: which of its files, where, its hash and what it gave."""

    spec: "SampleListSpec"
    path: Path
    sha256: str
    entries: int  # entries naming clips of the protocol's datasets
    dropped: tuple[str, ...] = ()  # entries naming clips excluded on loading

    def describe(self) -> str:
        return (f"sample list {self.spec.file} ({self.entries} entries, sha256 "
                f"{self.sha256[:12]})")


@dataclass(frozen=True)
class ProtocolData:
    """A protocol's samples (restricted to its sample list) and how loading got them."""

    samples: list[Sample]
    excluded: dict[str, list[Excluded]]  # dataset name -> rows excluded on loading
    sample_list: ListUsed | None = None


def protocol_data(protocol: "Protocol", source: DataSource) -> ProtocolData:
    """Every sample of the protocol's datasets, restricted to its sample list if it has one.

    On twins the lists are written from the twins themselves (see `data.sample_list`); on real
    data a missing list is an error naming where to put it.
    """
    samples = [sample for name in protocol.datasets
               for sample in load_samples(DATASETS.get(name), source)]
    excluded = {name: load_dataset(DATASETS.get(name), source).excluded
                for name in protocol.datasets}
    if not protocol.sample_lists:
        return ProtocolData(samples, excluded)
    if source.is_twin:
        write_twin_sample_lists(protocol, source, samples)
    chosen = sample_list_path(protocol, source)
    if chosen is None:
        where = list_base(protocol, source) / protocol.sample_lists[0].file
        files = " or ".join(spec.file.rsplit("/", 1)[-1] for spec in protocol.sample_lists)
        raise DataError(f"{where}: protocol {protocol.id} needs its sample list there (the "
                        f"MEGC2019 ground truth, {files}); add it or choose another protocol")
    spec, path = chosen
    listed = read_sample_list(path)
    kept = select_listed(samples, listed, protocol.datasets,
                         [item for rows in excluded.values() for item in rows])
    entries = sum(entry.dataset in protocol.datasets for entry in listed.entries)
    return ProtocolData(kept.samples, excluded,
                        ListUsed(spec, path, listed.sha256, entries, tuple(kept.dropped)))


def protocol_samples(protocol: "Protocol", source: DataSource) -> list[Sample]:
    """The protocol's samples (see `protocol_data`)."""
    return protocol_data(protocol, source).samples


def data_provenance(protocol: "Protocol", source: DataSource) -> dict:
    """What a record says of the data beyond its source: rows excluded on loading (per dataset,
    where any) and the sample list used with its SHA-256 (for protocols with one). Nothing where
    the protocol's data is not there (a dry run compares configs before any data is checked)."""
    datasets = [DATASETS.get(name) for name in protocol.datasets]
    if not all(source.has(d) for d in datasets) or missing_sample_list(protocol, source):
        return {}
    data = protocol_data(protocol, source)
    provenance: dict = {}
    excluded = {name: len(rows) for name, rows in data.excluded.items() if rows}
    if excluded:
        provenance["excluded_rows"] = excluded
    if data.sample_list is not None:
        provenance["sample_list"] = {"file": data.sample_list.spec.file,
                                     "sha256": data.sample_list.sha256}
    return provenance


def list_base(protocol: "Protocol", source: DataSource) -> Path:
    """The folder the protocol's sample list files are relative to: the data root, or for twins
    the protocol's own folder of written lists."""
    return (source.twin_root() / "sample-lists" / protocol.id if source.is_twin
            else source.root)


def sample_list_path(protocol: "Protocol", source: DataSource
                     ) -> "tuple[SampleListSpec, Path] | None":
    """The first of the protocol's sample list files present (which one a run uses)."""
    base = list_base(protocol, source)
    return next(((spec, base / spec.file) for spec in protocol.sample_lists
                 if (base / spec.file).is_file()), None)


def missing_sample_list(protocol: "Protocol", source: DataSource) -> Path | None:
    """Where the protocol's sample list should be, if a real data root holds none of its files."""
    if not protocol.sample_lists or source.is_twin or sample_list_path(protocol, source):
        return None
    return source.root / protocol.sample_lists[0].file


def write_twin_sample_lists(protocol: "Protocol", source: DataSource,
                            samples: list[Sample]) -> None:
    """Each of the protocol's list files, written for the twins in its own published format."""
    rows = [(s.dataset, s.subject, s.clip, protocol.classes[label]) for s in samples
            if (label := protocol.label_of(s)) is not None]
    chosen = twin_selection(rows)
    for spec in protocol.sample_lists:
        write_sample_list(list_base(protocol, source) / spec.file, chosen)
