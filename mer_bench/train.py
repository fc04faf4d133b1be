"""One fold: train a fresh model on the training side, predict the test side.

The default selection mode is ``fixed-epochs``: the model after the last epoch of the budget is
evaluated. Test labels never enter this module, so no choice here can depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mer_bench.models import ModelSpec, TrainingBudget

SELECTION_MODE = "fixed-epochs"


@dataclass(frozen=True)
class FoldOutcome:
    predictions: np.ndarray
    epoch_losses: list[float]


def standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel standardisation with statistics of the training side only."""
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return (x_train - mean) / std, (x_test - mean) / std


def train_and_predict(
    spec: ModelSpec,
    num_classes: int,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    *,
    seed: int,
    budget: TrainingBudget | None = None,
    device: str = "cpu",
) -> FoldOutcome:
    """Train ``spec``'s model from scratch for the whole budget and predict ``x_test``."""
    budget = budget or spec.budget
    # A job uses the CPUs its model declares; more threads than that oversubscribe the machine
    # and make tiny models many times slower.
    torch.set_num_threads(max(1, int(spec.resources.get("cpu", 1))))
    x_train, x_test = standardise(x_train.astype(np.float32), x_test.astype(np.float32))
    torch.manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    model = spec.build(num_classes).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=budget.lr,
                                  weight_decay=budget.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    inputs = torch.from_numpy(x_train).to(device)
    targets = torch.from_numpy(np.asarray(y_train, dtype=np.int64)).to(device)

    epoch_losses = []
    for _ in range(budget.epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=shuffler).to(device)
        total = 0.0
        for start in range(0, len(order), budget.batch_size):
            batch = order[start:start + budget.batch_size]
            if len(batch) < 2 and len(order) > 1:
                continue  # a batch of one breaks batch norm; its sample is seen next epoch
            optimiser.zero_grad()
            loss = loss_fn(model(inputs[batch]), targets[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        epoch_losses.append(total / len(order))

    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x_test).to(device))
    return FoldOutcome(logits.argmax(dim=1).cpu().numpy(), epoch_losses)
