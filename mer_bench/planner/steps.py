"""Timed training steps of a registered model, the cost measurement under the planner and the
throughput table.

A step is what `mer_bench.train` does per batch: forward, cross-entropy, backward (a two-branch
model adds the falling branch's forward and loss), an AdamW step, and reading the loss back. It
runs on random inputs of the model's shape, with as many threads as the model reserves CPUs.
`measure_steps` does this in a fresh process, so that its peak resident memory is a worker's:
Python, torch, the job code, the model, its optimiser state and one batch's activations.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from mer_bench.errors import ConfigError

# Keep timing a batch size until this long has passed (and at least MIN_STEPS steps).
MIN_SECONDS = 1.0
MIN_STEPS = 1
MAX_STEPS = 50


@dataclass(frozen=True)
class StepTiming:
    """Seconds per training step of one model on one device, timed at two batch sizes."""

    model: str
    device: str
    threads: int
    batch_size: int  # the budget's, which training uses
    timed_batches: tuple[int, int]
    timed_step_s: tuple[float, float]
    predict_s_per_sample: float
    peak_rss: int  # bytes, of the process that timed the steps

    @property
    def step_s(self) -> float:
        """A step at the budget's batch size."""
        return self.step_at(self.batch_size)

    @property
    def extrapolated(self) -> bool:
        return self.batch_size not in self.timed_batches

    def step_at(self, batch: int) -> float:
        """A step at ``batch`` samples: linear in the batch size through the two timings."""
        (small, large), (small_s, large_s) = self.timed_batches, self.timed_step_s
        if small == large:
            return large_s * batch / large
        slope = (large_s - small_s) / (large - small)
        return max(small_s + slope * (batch - small), 0.0)

    def fold_seconds(self, *, epochs: int, n_train: int, n_test: int,
                     predict_every_epoch: bool = False) -> float:
        """Training ``epochs`` over ``n_train`` samples in batches of ``batch_size`` (a last
        batch of one is skipped, as `mer_bench.train` does), then predicting ``n_test``."""
        full, rest = divmod(n_train, self.batch_size)
        epoch = full * self.step_s + (self.step_at(rest) if rest >= 2 else 0.0)
        predictions = epochs if predict_every_epoch else 1
        return epochs * epoch + predictions * n_test * self.predict_s_per_sample

    @classmethod
    def from_dict(cls, data: dict) -> "StepTiming":
        return cls(**{**data, "timed_batches": tuple(data["timed_batches"]),
                      "timed_step_s": tuple(data["timed_step_s"])})


def training_step(model_name: str, *, num_classes: int, batch_size: int,
                  device: str = "cpu") -> Callable[[], float]:
    """One training step of ``model_name`` on a fixed random batch, as a function to call."""
    import torch
    from torch import nn

    from mer_bench.inputs.representations import INPUTS
    from mer_bench.models import MODELS

    spec = MODELS.get(model_name)
    torch.manual_seed(0)
    size = spec.input_size
    rising = [torch.randn(batch_size, INPUTS.get(kind).channels, size, size, device=device)
              for kind in spec.inputs]
    falling = [x.flip(0) for x in rising] if spec.two_branch else None
    targets = torch.arange(batch_size, device=device) % num_classes
    model = spec.build(num_classes).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec.budget.lr,
                                  weight_decay=spec.budget.weight_decay)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        optimiser.zero_grad()
        loss = loss_fn(model(*rising), targets)
        if falling is not None:
            loss = loss + loss_fn(model(*falling), targets)
        loss.backward()
        optimiser.step()
        return loss.item()  # waits for the device, as training does every batch

    return step


def prediction(model_name: str, *, num_classes: int, batch_size: int,
               device: str = "cpu") -> Callable[[], None]:
    """One forward pass of ``batch_size`` samples in eval mode, as a function to call."""
    import torch

    from mer_bench.inputs.representations import INPUTS
    from mer_bench.models import MODELS

    spec = MODELS.get(model_name)
    size = spec.input_size
    inputs = [torch.randn(batch_size, INPUTS.get(kind).channels, size, size, device=device)
              for kind in spec.inputs]
    model = spec.build(num_classes).to(device).eval()

    def predict() -> None:
        with torch.no_grad():
            model(*inputs).argmax(dim=1).cpu()

    return predict


def time_calls(call: Callable[[], object]) -> float:
    """Seconds per call, after one warm-up call: repeated until MIN_SECONDS have passed."""
    call()
    done, started = 0, time.perf_counter()
    while done < MIN_STEPS or (time.perf_counter() - started < MIN_SECONDS and done < MAX_STEPS):
        call()
        done += 1
    return (time.perf_counter() - started) / done


def timed_batches(model_name: str, device: str) -> tuple[int, int]:
    """The two batch sizes to time: the budget's and half of it; a GPU-size model (half a GPU
    or more) on a CPU at 2 and 4 samples, extrapolated, since one step at its budget's batch
    size takes minutes there."""
    from mer_bench.models import MODELS

    spec = MODELS.get(model_name)
    if device == "cpu" and spec.resources.get("gpu", 0) >= 0.5:
        return (2, 4)
    return (max(2, spec.budget.batch_size // 2), spec.budget.batch_size)


def time_steps(model_name: str, *, num_classes: int, device: str = "cpu") -> StepTiming:
    """Time ``model_name``'s training steps here at two batch sizes (`timed_batches`), and its
    prediction per sample."""
    import torch

    from mer_bench.models import MODELS

    spec = MODELS.get(model_name)
    threads = max(1, int(spec.resources.get("cpu", 1)))
    torch.set_num_threads(threads)
    batches = timed_batches(model_name, device)
    seconds = {batch: time_calls(training_step(model_name, num_classes=num_classes,
                                               batch_size=batch, device=device))
               for batch in dict.fromkeys(batches)}
    predict_s = time_calls(prediction(model_name, num_classes=num_classes,
                                      batch_size=batches[1], device=device))
    return StepTiming(model=model_name, device=device, threads=threads,
                      batch_size=spec.budget.batch_size, timed_batches=batches,
                      timed_step_s=(seconds[batches[0]], seconds[batches[1]]),
                      predict_s_per_sample=predict_s / batches[1], peak_rss=peak_rss())


def peak_rss() -> int:
    """This process's peak resident memory, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def measure_steps(model_name: str, *, num_classes: int, device: str = "cpu", copies: int = 1,
                  timeout_s: float = 900) -> StepTiming:
    """`time_steps` in ``copies`` fresh processes at once, each starting to time when all are
    ready: the peak memory of one is a worker's, and with several the step times are what each
    of that many workers gets side by side on this machine (the memory bandwidth it shares, other
    users' load included). Returns the mean times and the largest peak memory."""
    with tempfile.TemporaryDirectory(prefix="mer-bench-steps-") as barrier:
        command = [sys.executable, "-m", "mer_bench.planner.steps", model_name,
                   str(num_classes), device, barrier, str(copies)]
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(copies)]
        try:
            outputs = [process.communicate(timeout=timeout_s) for process in processes]
        except subprocess.TimeoutExpired:
            for process in processes:
                process.kill()
            raise ConfigError(f"timing {model_name}'s training steps took over {timeout_s:.0f} s; "
                              "run it once to leave records the planner can read") from None
    timings = []
    for process, (out, err) in zip(processes, outputs):
        if process.returncode != 0:
            lines = err.strip().splitlines() or [f"exit status {process.returncode}"]
            raise ConfigError(f"timing {model_name}'s training steps failed ({lines[-1][:200]})")
        timings.append(StepTiming.from_dict(json.loads(out.strip().splitlines()[-1])))
    mean = statistics.fmean
    return replace(timings[0],
                   timed_step_s=tuple(mean(column) for column in  # type: ignore[arg-type]
                                      zip(*(t.timed_step_s for t in timings))),
                   predict_s_per_sample=mean(t.predict_s_per_sample for t in timings),
                   peak_rss=max(t.peak_rss for t in timings))


def _wait_for_copies(barrier: Path, copies: int, timeout_s: float = 600) -> None:
    """Say this copy is ready, then wait until every copy is."""
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + timeout_s
    while len(list(barrier.glob("ready-*"))) < copies and time.monotonic() < deadline:
        time.sleep(0.05)


def _main(argv: list[str]) -> None:
    model_name, num_classes, device, barrier, copies = argv
    import mer_bench.execute  # noqa: F401  # what a worker imports, for its memory

    _wait_for_copies(Path(barrier), int(copies))
    timing = time_steps(model_name, num_classes=int(num_classes), device=device)
    print(json.dumps(asdict(timing)))


if __name__ == "__main__":
    _main(sys.argv[1:])
