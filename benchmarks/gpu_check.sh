#!/usr/bin/env bash
# Train a few folds of every zoo model on CUDA; print step times and peak GPU memory.
#
# From a fresh checkout on a GPU machine:
#     benchmarks/gpu_check.sh                    # every model, 3 folds, 3 epochs, on cuda
#     benchmarks/gpu_check.sh --device cuda:1 --models gamdss-bdrt htnet --folds 5
# It sets up the Makefile's virtual environment first (`make setup`; .venv, or VENV=...), and
# generates the CASME II twin and its inputs into the cache on first use (MER_BENCH_CACHE).
# MER_BENCH_PYTHON=/path/to/python skips the set-up and runs with that interpreter instead.
# Options: see `benchmarks/gpu_check.py --help` (--device cpu runs the same check on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${MER_BENCH_PYTHON:-}" ]]; then
    python="$MER_BENCH_PYTHON"
else
    make --no-print-directory setup
    python="${VENV:-.venv}/bin/python"
fi
if [[ " $* " != *" --device cpu "* ]] && ! "$python" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "error: torch sees no CUDA GPU here (torch.cuda.is_available() is False); run it on a GPU machine, or pass --device cpu" >&2
    exit 2
fi
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$python" benchmarks/gpu_check.py "$@"
