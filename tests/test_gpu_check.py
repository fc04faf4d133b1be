"""benchmarks/gpu_check.sh: its CPU path end to end at tiny size, and its one-line refusal where
torch sees no GPU (on a GPU machine, the same tiny check runs on CUDA instead)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
TINY = ["--models", "ststnet", "--folds", "2", "--epochs", "1"]


def check(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MER_BENCH_PYTHON": sys.executable}  # no `make setup` in a test
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_cpu_path_trains_and_prints_step_times(tiny_twin_root):
    done = check("--device", "cpu", *TINY, "--data-root", str(tiny_twin_root))
    assert done.returncode == 0, done.stderr[-2000:]
    header, _, row = done.stdout.strip().splitlines()[-3:]
    assert header.split()[:6] == ["model", "device", "input", "batch", "folds", "ms/step"]
    cells = row.split()
    assert cells[:5] == ["ststnet", "cpu", "28px", "32", "2"] and float(cells[5]) > 0
    assert cells[7] == "-"  # no GPU memory on the CPU


def test_on_cuda_it_runs_where_there_is_a_gpu_and_refuses_in_one_line_elsewhere(tiny_twin_root):
    done = check(*TINY, "--data-root", str(tiny_twin_root))
    if torch.cuda.is_available():
        assert done.returncode == 0, done.stderr[-2000:]
        assert "peak MiB" in done.stdout
    else:
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "error: torch sees no CUDA GPU here (torch.cuda.is_available() is False); run it on "
            "a GPU machine, or pass --device cpu"]
