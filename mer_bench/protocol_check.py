"""`mer-bench protocols --check`: each protocol's expected counts against the data present."""

from __future__ import annotations

from dataclasses import dataclass, field

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import (DataSource, missing_sample_list, protocol_samples,
                                  twin_scale_of)
from mer_bench.protocols import Protocol, protocol_registry


@dataclass
class ProtocolCheck:
    protocol: Protocol
    present: bool
    samples: int = 0
    subjects: int = 0
    scale: float | None = None  # twin scale, None for real data
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.present:
            return "data absent"
        if not self.problems:
            return "matches"
        if self.scale not in (None, 1.0):
            return f"scaled twin ({self.scale:g}): counts not expected to match"
        return f"{len(self.problems)} mismatches"

    @property
    def failed(self) -> bool:
        return self.present and bool(self.problems) and self.scale in (None, 1.0)


def check_protocol(protocol: Protocol, source: DataSource) -> ProtocolCheck:
    datasets = [DATASETS.get(name) for name in protocol.datasets]
    if not all(source.has(d) for d in datasets) or missing_sample_list(protocol, source):
        return ProtocolCheck(protocol, present=False)
    labelled = protocol.label_samples(protocol_samples(protocol, source))
    scales = {twin_scale_of(source.dataset_dir(d)) for d in datasets}
    return ProtocolCheck(protocol, True, len(labelled),
                         len({item.sample.subject_key for item in labelled}),
                         max(scales, key=lambda s: -1 if s is None else s),
                         protocol.check_counts(labelled))


def check_protocols(source: DataSource, pattern: str = "*") -> list[ProtocolCheck]:
    registry = protocol_registry()
    return [check_protocol(registry.get(pid), source) for pid in registry.names(pattern)]
