"""Shared fixtures: an isolated cache, one tiny CASME II twin per session, a CLI runner."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

TINY_SCALE = 0.15


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Twins and input tensors of the test session never touch the user's cache.

    Tests run the local executor unless they choose one: the default (Ray wherever more than one
    fold can train at once) would start Ray in every test process and in every `mer-bench`
    subprocess a test starts. One environment variable, inherited by those subprocesses, says it
    once; the tests of the default itself unset it (test_executors.py), the Ray tests name Ray.
    """
    cache = tmp_path_factory.mktemp("mer-bench-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MER_BENCH_CACHE", str(cache))
        patch.setenv("MER_BENCH_EXECUTOR", "local")
        patch.delenv("MER_BENCH_DATA", raising=False)
        yield cache


@pytest.fixture(scope="session")
def tiny_twin_root(tmp_path_factory) -> Path:
    """A data root holding a small CASME II twin (read-only: copy it before changing it)."""
    from mer_bench.synth import write_twin

    root = tmp_path_factory.mktemp("data-root")
    write_twin("casme2", root / "CASME2", scale=TINY_SCALE, seed=0)
    return root


@pytest.fixture
def twin_copy(tiny_twin_root, tmp_path) -> Path:
    """A private copy of the tiny twin that a test may damage."""
    target = tmp_path / "data"
    shutil.copytree(tiny_twin_root, target)
    return target


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run the mer-bench CLI in-process; returns (exit status, stdout, stderr)."""
    from mer_bench.cli import main

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["mer-bench", *map(str, args)])
        monkeypatch.setenv("COLUMNS", "200")
        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


RAY_TEST_CPUS = 4
RAY_TEST_GPUS = 1  # declared only: this machine has none, training still runs on the CPU


@pytest.fixture(scope="session")
def ray_session(isolated_cache):
    """One embedded Ray for the whole test session (it costs ~10 s and ~1 GB to start).

    It declares 4 CPUs and 1 GPU whatever the machine has, so scheduling and GPU packing can be
    tested on a 2-core machine without a GPU. Started after the cache is isolated, so its workers
    inherit MER_BENCH_CACHE.
    """
    pytest.importorskip("ray")
    from mer_bench.execute.ray_session import start_ray

    ray = start_ray(num_cpus=RAY_TEST_CPUS, num_gpus=RAY_TEST_GPUS)
    yield ray
    ray.shutdown()
