"""Each protocol's published counts against the data present: `mer-bench protocols --check`, and
the check a run makes before training (on real data a failed check stops it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from mer_bench.data.doctor import unmapped_labels
from mer_bench.data.sample import Excluded
from mer_bench.data.spec import DATASETS
from mer_bench.datasource import (DataSource, ListUsed, load_dataset, missing_sample_list,
                                  protocol_data, twin_scale_of)
from mer_bench.errors import DataError
from mer_bench.protocols import ExpectedCounts, Protocol, protocol_registry

SHOWN_REASONS = 3  # excluded rows named per dataset; `mer-bench doctor` lists every one


@dataclass
class ProtocolCheck:
    protocol: Protocol
    present: bool
    samples: int = 0
    subjects: int = 0
    scale: float | None = None  # twin scale, None for real data
    problems: list[str] = field(default_factory=list)  # count mismatches, one line each
    expected: ExpectedCounts | None = None  # the counts checked (they depend on the list used)
    excluded: dict[str, list[Excluded]] = field(default_factory=dict)  # dataset -> rows left out
    sample_list: ListUsed | None = None
    notes: list[str] = field(default_factory=list)  # what loading did, one line each
    absent: str = ""  # what is missing, when not present

    @property
    def scaled_twin(self) -> bool:
        return self.scale not in (None, 1.0)

    @property
    def assumed(self) -> bool:
        return bool(self.expected and self.expected.assumed)

    @property
    def status(self) -> str:
        if not self.present:
            return "data absent"
        if not self.problems:
            return "matches"
        if self.scaled_twin:
            return f"scaled twin ({self.scale:g}): counts not expected to match"
        return f"{len(self.problems)} mismatches" + (" (counts assumed)" if self.assumed else "")

    @property
    def failed(self) -> bool:
        """A mismatch with published (not assumed) counts, where they should match."""
        return self.present and bool(self.problems) and not self.scaled_twin and not self.assumed

    @property
    def n_excluded(self) -> int:
        return sum(len(rows) for rows in self.excluded.values())

    def excluded_summary(self) -> str:
        """How many rows were excluded on loading and the first reason, or ''."""
        rows = [row for part in self.excluded.values() for row in part]
        if not rows:
            return ""
        return f"{len(rows)} rows excluded on loading (the first: {rows[0]})"


def check_protocol(protocol: Protocol, source: DataSource) -> ProtocolCheck:
    datasets = [DATASETS.get(name) for name in protocol.datasets]
    missing = [d.looked_for for d in datasets if not source.has(d)]
    absent_list = missing_sample_list(protocol, source)
    if missing or absent_list:
        shown = missing + ([str(absent_list.relative_to(source.root))] if absent_list else [])
        return ProtocolCheck(protocol, present=False, absent=f"no {', '.join(shown)}")
    data = protocol_data(protocol, source)
    expected = protocol.expected_with(data.sample_list.spec if data.sample_list else None)
    labelled = protocol.label_samples(data.samples)
    scales = {twin_scale_of(source.dataset_dir(d)) for d in datasets}
    return ProtocolCheck(
        protocol, True, len(labelled), len({item.sample.subject_key for item in labelled}),
        max(scales, key=lambda s: -1 if s is None else s),
        protocol.check_counts(labelled, expected), expected, data.excluded, data.sample_list,
        _loading_notes(protocol, source, data.excluded, data.sample_list))


def _loading_notes(protocol: Protocol, source: DataSource, excluded: dict[str, list[Excluded]],
                   sample_list: ListUsed | None) -> list[str]:
    notes = []
    for name in protocol.datasets:
        dataset = DATASETS.get(name)
        loaded = load_dataset(dataset, source)
        done = [f"{len(loaded.fixes)} errata fixes"] if loaded.fixes else []
        if loaded.normalised:
            done.append(f"{len(loaded.normalised)} labels normalised")
        if excluded[name]:
            done.append(f"{len(excluded[name])} rows excluded")
        if done:
            notes.append(f"{dataset.title}: {', '.join(done)} (mer-bench doctor lists them)")
        notes += [f"  excluded: {row}" for row in excluded[name][:SHOWN_REASONS]]
        if len(excluded[name]) > SHOWN_REASONS:
            notes.append(f"  ... {len(excluded[name]) - SHOWN_REASONS} more excluded rows")
        notes += [f"  {dataset.title}: {line}" for line in unmapped_labels(name, loaded.samples)]
    if sample_list is not None:
        notes.append(f"{protocol.id}: {sample_list.describe()}")
        notes += [f"  dropped: {line}" for line in sample_list.dropped]
    return notes


def check_protocols(source: DataSource, pattern: str = "*") -> list[ProtocolCheck]:
    registry = protocol_registry()
    return [check_protocol(registry.get(pid), source) for pid in registry.names(pattern)]


def check_before_run(protocol: Protocol, source: DataSource,
                     say: Callable[[str], None]) -> ProtocolCheck:
    """Check a protocol's data before a run trains on it, saying what loading did.

    On real data a mismatch with published counts stops the run (a DataError), unless
    ``source.allow_count_mismatch``: never just a warning before training on the wrong set.
    Assumed counts and twins only warn (a scaled twin is not expected to match).
    """
    check = check_protocol(protocol, source)
    kind = ("real data" if check.scale is None
            else f"synthetic twin, scale {check.scale:g}")
    say(f"{protocol.id}: {check.samples} samples, {check.subjects} subjects ({kind})")
    for line in check.notes:
        say(f"  {line}")
    if not check.problems:
        return check
    if check.scaled_twin:
        say("  counts differ from the published ones, as expected for a scaled twin")
        return check
    if check.failed and source.root is not None and not source.allow_count_mismatch:
        excluded = check.excluded_summary()
        raise DataError(f"{protocol.id}: the data does not give the published counts "
                        f"({'; '.join(check.problems)})" + (f"; {excluded}" if excluded else "")
                        + "; check the data with mer-bench doctor, or pass "
                        "--allow-count-mismatch to run on it anyway")
    for line in check.problems:
        say(f"  count check: {line}")
    return check
