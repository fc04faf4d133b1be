"""Benchmark fixtures: a small CASME II twin in a private cache; the --throughput-page option."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def twin_samples(tmp_path_factory):
    from mer_bench.data.casme2 import read_casme2
    from mer_bench.synth import write_twin

    directory = tmp_path_factory.mktemp("bench-data") / "CASME2"
    write_twin("casme2", directory, scale=0.15, seed=0)
    return read_casme2(directory).samples


def pytest_addoption(parser):
    parser.addoption("--throughput-page", metavar="PATH", default=None,
                     help="Write the throughput page (results/throughput.md) from "
                          "test_throughput.py's measurements.")
