"""One fold: train a fresh model on the training side, predict the test side.

The default selection mode is ``fixed-epochs``: the model after the last epoch of the budget is
evaluated, and test labels never reach this module. The ``oracle`` mode is the one exception, kept
only to measure the inflation it causes: it is given the test labels and keeps the epoch whose
predictions score best on them, as several published repositories do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager, Sequence

import numpy as np
import torch
from torch import nn

from mer_bench.device import check_amp
from mer_bench.models import ModelSpec, TrainingBudget

ORACLE = "oracle"


def fold_seed(cell_seed: int, fold_index: int) -> int:
    """The one seed rule: fold ``fold_index`` of a cell with seed ``cell_seed`` trains with this
    seed, whoever trains it (a benchmark job on any executor, tuning, t-SNE)."""
    return cell_seed * 1000 + fold_index


@dataclass(frozen=True)
class FoldOutcome:
    predictions: np.ndarray
    epoch_losses: list[float]
    chosen_epoch: int  # 1-based epoch whose model made ``predictions``
    # the trained model, only when asked for (``keep_model``); under oracle selection it is the
    # last epoch's model, not necessarily the one that made ``predictions``
    model: nn.Module | None = None


def standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel standardisation with statistics of the training side only."""
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return (x_train - mean) / std, (x_test - mean) / std


def train_and_predict(
    spec: ModelSpec,
    num_classes: int,
    x_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    x_test: Sequence[np.ndarray],
    *,
    seed: int,
    x_train_falling: Sequence[np.ndarray] | None = None,
    budget: TrainingBudget | None = None,
    device: str = "cpu",
    oracle_labels: np.ndarray | None = None,
    keep_model: bool = False,
) -> FoldOutcome:
    """Train ``spec``'s model from scratch for the whole budget and predict ``x_test``.

    ``x_train`` / ``x_test`` hold one array per model input (N, C, H, W). A two-branch model also
    gets ``x_train_falling`` and adds the same model's loss on it (weights shared, 1:1).
    ``oracle_labels`` (the test labels) switch on oracle selection: the test side is predicted
    after every epoch and the first epoch with the most correct predictions is kept.
    ``keep_model`` returns the trained model in the outcome (for feature analyses).
    """
    budget = budget or spec.budget
    if spec.two_branch and x_train_falling is None:
        raise ValueError(f"{spec.name} is two-branch: pass the falling-branch training inputs")
    # A job uses the CPUs its model declares; more threads than that oversubscribe the machine
    # and make tiny models many times slower.
    torch.set_num_threads(max(1, int(spec.resources.get("cpu", 1))))
    pairs = [standardise(a.astype(np.float32), b.astype(np.float32))
             for a, b in zip(x_train, x_test)]
    rising = [torch.from_numpy(train).to(device) for train, _ in pairs]
    test = [torch.from_numpy(t).to(device) for _, t in pairs]
    falling = None
    if spec.two_branch:
        falling = [torch.from_numpy(standardise(a.astype(np.float32), a[:1])[0]).to(device)
                   for a in x_train_falling]

    torch.manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    model = spec.build(num_classes).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=budget.lr,
                                  weight_decay=budget.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    targets = torch.from_numpy(np.asarray(y_train, dtype=np.int64)).to(device)
    precision = _autocast(device, budget.amp)

    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=budget.lr_gamma)
    epoch_losses = []
    best: tuple[int, np.ndarray, int] | None = None  # (correct, predictions, epoch) for the oracle
    n = len(targets)
    for epoch in range(budget.epochs):
        model.train()
        # Shuffled on the CPU generator whatever the device, so a seed means the same batches
        # everywhere; one small copy per epoch.
        order = torch.randperm(n, generator=shuffler).to(device)
        # The epoch's loss is summed on the device (in float64, as Python's float would): reading
        # it back every batch would make the host wait for the GPU at every step.
        total = torch.zeros((), dtype=torch.float64, device=device)
        for start in range(0, n, budget.batch_size):
            batch = order[start:start + budget.batch_size]
            if len(batch) < 2 and n > 1:
                continue  # a batch of one breaks batch norm; its sample is seen next epoch
            optimiser.zero_grad()
            with precision():
                loss = loss_fn(model(*[x[batch] for x in rising]), targets[batch])
                if falling is not None:
                    loss = loss + loss_fn(model(*[x[batch] for x in falling]), targets[batch])
            loss.backward()
            optimiser.step()
            total += loss.detach().double() * len(batch)
        epoch_losses.append(total.item() / n)
        if epoch < budget.lr_decay_epochs:
            schedule.step()
        if oracle_labels is not None:
            predictions = _predict(model, test, precision)
            correct = int((predictions == oracle_labels).sum())
            if best is None or correct > best[0]:
                best = (correct, predictions, epoch + 1)

    kept = model if keep_model else None
    if best is not None:
        return FoldOutcome(best[1], epoch_losses, best[2], kept)
    return FoldOutcome(_predict(model, test, precision), epoch_losses, budget.epochs, kept)


def _autocast(device: str, amp: bool) -> Callable[[], ContextManager]:
    """Mixed precision as the budget asks: bfloat16 autocast on the CPU and on CUDA alike (no
    loss scaling needed, unlike float16), else full precision."""
    if not amp:
        return contextlib.nullcontext
    check_amp(device)
    return lambda: torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def _predict(model: nn.Module, inputs: Sequence[torch.Tensor],
             precision: Callable[[], ContextManager] = contextlib.nullcontext) -> np.ndarray:
    model.eval()
    with torch.no_grad(), precision():
        return model(*inputs).argmax(dim=1).cpu().numpy()
