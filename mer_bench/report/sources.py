"""What data a record was scored on, as tables group it.

A record's ``data_source`` is written by the job (``DataSource.describe`` per dataset, joined with
" + " for composite and cross-dataset protocols):

    twin:<dataset>:v<generator version>:scale=<s>:seed=<k>     a synthetic twin
    data:<dataset>:<dataset folder>                             real data below a data root

Tables never mix two data sources. Pages group tables by ``DataSourceGroup``: the twins of one
(scale, seed), or one real data root. Within a group, one protocol's records must also agree on the
whole description (twin generator versions, dataset folders): that is the table's identity.
A description in any other form is its own group, named by the description itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

_TWIN = re.compile(r"twin:(?P<dataset>[^:]+):v(?P<version>[^:]+):scale=(?P<scale>[^:]+):seed=(?P<seed>[^:]+)")
_REAL = re.compile(r"data:(?P<dataset>[^:]+):(?P<folder>.+)")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True, order=True)
class DataSourceGroup:
    """Records that share one data origin: twins of one (scale, seed), or one real data root.

    ``order`` sorts twins before real data and smaller twin scales first; ``label`` is short (table
    cells), ``title`` is a heading, ``slug`` is safe in a file name.
    """

    order: tuple
    label: str
    title: str
    slug: str


def _scale_text(scale: str) -> str:
    try:
        return f"{float(scale):g}"
    except ValueError:
        return scale


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


@lru_cache(maxsize=None)
def data_source_group(data_source: str) -> DataSourceGroup:
    """The group of a record's ``data_source`` description (see the module docstring)."""
    parts = data_source.split(" + ")
    twins = [_TWIN.fullmatch(part) for part in parts]
    if all(twins):
        scales = sorted({_scale_text(m["scale"]) for m in twins}, key=lambda s: (len(s), s))
        seeds = sorted({m["seed"] for m in twins})
        scale, seed = "/".join(scales), "/".join(seeds)
        numeric = tuple(float(s) if s.replace(".", "", 1).isdigit() else 0.0 for s in scales)
        return DataSourceGroup((0, numeric, seed), f"twin x{scale} seed {seed}",
                               f"Synthetic twins at scale {scale}, twin seed {seed}",
                               _UNSAFE.sub("_", f"twin-x{scale}-seed{seed}"))
    reals = [_REAL.fullmatch(part) for part in parts]
    if all(reals):
        roots = sorted({str(PurePosixPath(m["folder"].replace("\\", "/")).parent) for m in reals})
        root = " + ".join(roots)
        name = _UNSAFE.sub("_", PurePosixPath(roots[0]).name or "root")
        return DataSourceGroup((1, root), f"real data {root}", f"Real data under {root}",
                               f"real-{name}-{_short_hash(root)}")
    return DataSourceGroup((2, data_source), data_source, f"Data: {data_source}",
                           f"data-{_short_hash(data_source)}")


__all__ = ["DataSourceGroup", "data_source_group"]
