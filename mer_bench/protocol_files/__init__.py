"""Package data: the protocol definitions (one YAML file per dataset) and the named suites.

Shipped inside the package so that a wheel works like an editable install; `folder()` is where
they are, unless ``MER_BENCH_PROTOCOLS`` names another folder.
"""

import os
from pathlib import Path

PROTOCOLS_ENV = "MER_BENCH_PROTOCOLS"


def folder() -> Path:
    """The protocol folder: ``MER_BENCH_PROTOCOLS`` or this package's own."""
    override = os.environ.get(PROTOCOLS_ENV)
    return Path(override) if override else Path(__file__).resolve().parent
