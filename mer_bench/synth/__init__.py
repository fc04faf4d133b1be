"""Synthetic twins: seeded stand-ins for real datasets, written in each dataset's native layout."""

from __future__ import annotations

from pathlib import Path

from mer_bench.data.spec import DATASETS
from mer_bench.errors import ConfigError


def write_twin(dataset: str, out_dir: Path, scale: float = 1.0, seed: int = 0) -> Path:
    """Write the twin of ``dataset`` into ``out_dir`` (its dataset folder, e.g. <root>/CASME2)."""
    spec = DATASETS.get(dataset)
    if spec.write_twin is None:
        raise ConfigError(
            f"dataset {dataset!r} has no synthetic twin yet; pick one of the datasets that has"
        )
    if not scale > 0:
        raise ConfigError(f"twin scale must be positive, got {scale}; use e.g. 0.2 for CI")
    spec.write_twin(Path(out_dir), scale, seed)
    return Path(out_dir)


__all__ = ["write_twin"]
