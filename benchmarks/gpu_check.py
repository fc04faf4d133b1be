"""Train a few folds of every zoo model on a device and print step times and peak memory.

Meant for a GPU machine (``benchmarks/gpu_check.sh`` runs it from a fresh checkout); with
``--device cpu`` it is the same check on the CPU, which the test suite runs at tiny size.

Per model (and, for the models meant for it, with mixed precision too): the folds of
casme2-5class on the CASME II twin (or the real data, ``--data-root``), trained exactly as a benchmark job trains them
(`execute.cell.train_fold`: same inputs, seeds, budget), with the epochs capped at ``--epochs``.
Printed per model: the device, seconds per training step (the fold's training time over its
steps; the first fold, which pays CUDA's kernel selection and warm-up, is left out when there are
more), samples per second, and the peak GPU memory torch allocated for one fold
(``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

PROTOCOL = "casme2-5class"
AMP_MODELS = ("gamdss-bdrt", "htnet")  # large models: mixed precision is meant for them


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default: cuda)")
    parser.add_argument("--models", nargs="*", help="models to check (default: every zoo model)")
    parser.add_argument("--folds", type=int, default=3, help="folds per model (default: 3)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per fold, at most the model's own (default: 3)")
    parser.add_argument("--twin-scale", type=float, default=1.0,
                        help="CASME II twin size (default: 1, the real dataset's)")
    parser.add_argument("--data-root", type=Path, help="a folder holding the real CASME II (CASME2/) to "
                                            "train on instead of its twin")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    import torch
    from tabulate import tabulate

    from mer_bench.datasource import resolve_data_source
    from mer_bench.device import resolve_device
    from mer_bench.errors import MerBenchError
    from mer_bench.execute.cell import load_cell, train_fold
    from mer_bench.models import MODELS
    from mer_bench.store import Cell, data_key

    try:
        device = resolve_device(args.device)
    except MerBenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    source = resolve_data_source(args.data_root, args.twin_scale, 0)
    names = args.models or MODELS.names()
    variants = [name for model in names
                for name in ([model, f"{model}[amp=true]"] if model in AMP_MODELS else [model])]
    cuda = device.startswith("cuda")
    if cuda:
        print(f"device: {device} ({torch.cuda.get_device_name(torch.device(device))}), "
              f"torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    rows = []
    for name in variants:
        spec = MODELS.get(name)
        budget = replace(spec.budget, epochs=min(args.epochs, spec.budget.epochs))
        started = time.perf_counter()
        data = load_cell(Cell(PROTOCOL, name, "annotated", 0, data=data_key(source)), source)
        prepare_s = time.perf_counter() - started
        steps, times, peaks = 0, [], []
        for fold in data.folds[:args.folds]:
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
            run, _, _ = train_fold(data, fold, budget=budget, device=device)
            n_train = len(fold.train_ids)
            steps = budget.epochs * math.ceil(n_train / budget.batch_size)
            times.append(run.wall_s)
            peaks.append(torch.cuda.max_memory_allocated(device) / 2**20 if cuda else float("nan"))
        timed = times[1:] or times
        step_s = statistics.median(timed) / steps
        rows.append([name, device, f"{spec.input_size}px", budget.batch_size, len(times),
                     f"{step_s * 1000:.1f}", f"{budget.batch_size / step_s:.0f}",
                     f"{max(peaks):.0f}" if cuda else "-", f"{prepare_s:.1f}",
                     f"{times[0]:.1f}"])
        print(f"{name}: {step_s * 1000:.1f} ms/step", flush=True)
    print(tabulate(rows, headers=["model", "device", "input", "batch", "folds", "ms/step",
                                  "samples/s", "peak MiB", "inputs s", "first fold s"],
                   disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
