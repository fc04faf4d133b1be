"""t-SNE of learned features: how a cell's trained models see subjects they never trained on.

The features are those of HELD-OUT samples: every fold of the cell is trained exactly as a
benchmark job trains it (the same fold tasks, on any executor: same key frames, inputs, seed per
fold and budget), and each fold's model embeds only that fold's test samples; the rows are then
pooled over folds. Features of training samples would show how well a model memorised its
training set, not how it generalises.
The features are the input of the model's final ``nn.Linear`` (its classifier head).
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from mer_bench.datasource import DataSource, protocol_samples
from mer_bench.errors import ConfigError, DataError
from mer_bench.files import atomic_write_bytes, atomic_write_text
from mer_bench.keyframes import KEYFRAME_STRATEGIES
from mer_bench.models import MODELS
from mer_bench.protocols import Fold, get_protocol, make_folds
from mer_bench.store import Cell, data_key
from mer_bench.train import FoldOutcome, standardise

if TYPE_CHECKING:
    from mer_bench.execute.base import Executor
    from mer_bench.execute.cell import CellData, FoldArrays

MIN_SAMPLES = 5  # t-SNE needs perplexity < n; fewer points than this make no picture
FoldCallback = Callable[[int, int], None]
TABLE_COLUMNS = ["sample_id", "subject", "dataset", "fold", "label", "predicted"]


def final_linear(model: nn.Module, name: str, num_classes: int) -> nn.Linear:
    """The last ``nn.Linear`` in ``model.modules()`` order, checked to be the classifier head."""
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigError(f"model {name!r} has no nn.Linear layer; t-SNE reads the features "
                          "entering a final Linear classifier, so it cannot visualise this model")
    head = linears[-1]
    if head.out_features != num_classes:
        raise ConfigError(f"model {name!r}: its last nn.Linear gives {head.out_features} outputs, "
                          f"not the {num_classes} classes, so it is not the classifier head")
    return head


def penultimate_features(model: nn.Module, head: nn.Linear,
                         inputs: Sequence[torch.Tensor]) -> np.ndarray:
    """(N, D) inputs of ``head`` for one eval-mode forward pass of ``inputs``."""
    captured: list[torch.Tensor] = []
    handle = head.register_forward_pre_hook(lambda _module, args: captured.append(args[0]))
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        handle.remove()
    n = len(inputs[0])
    if len(captured) != 1 or captured[0].shape[0] != n:
        raise ConfigError("the model's last nn.Linear is not called once per batch on one row "
                          "per sample, so it is not a classifier head")
    return captured[0].reshape(n, -1).cpu().numpy().astype(np.float64)


def tsne_features(protocol_id: str, model_name: str, keyframes: str, seed: int,
                  source: DataSource, *, executor: "Executor | None" = None,
                  work: Path | None = None,
                  on_fold: FoldCallback | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Penultimate features of every test sample of the cell, pooled over its folds.

    The folds train on ``executor`` (default: the local one, on the CPU), exactly as the cell's
    benchmark job trains them, each fold model embedding its own test side
    (`held_out_features`); they are staged under ``work`` (default: a temporary folder; on a
    multi-node cluster, a folder every node sees).

    Returns ``features`` (N, D) and a table of the same N rows in the same order: sample id,
    subject, dataset, fold, true ``label`` and the fold model's ``predicted`` label (both
    categorical over the protocol's classes). On LOSO protocols every labelled sample appears
    once; on cross-dataset ones, the test dataset's samples. Raises before any training when the
    names are unknown, there are fewer than ``MIN_SAMPLES`` test samples, or the model has no
    Linear classifier head.
    """
    from mer_bench.execute.job import Job
    from mer_bench.execute.local import LocalExecutor
    from mer_bench.execute.runs import plan_task
    from mer_bench.execute.tasks import discard, features_path, new_run_id, read_runs

    protocol = get_protocol(protocol_id)
    model = MODELS.get(model_name)
    strategy = KEYFRAME_STRATEGIES.canonical(keyframes)
    num_classes = len(protocol.classes)
    final_linear(model.build(num_classes), model.name, num_classes)

    labelled = protocol.label_samples(protocol_samples(protocol, source))
    folds = make_folds(protocol, labelled) if labelled else []
    n_test = sum(len(fold.test_ids) for fold in folds)
    if n_test < MIN_SAMPLES:
        raise DataError(f"protocol {protocol.id} has {n_test} test samples on this data; t-SNE "
                        f"needs at least {MIN_SAMPLES}")
    by_id = {item.sample.sample_id: item.sample for item in labelled}
    label_of = {item.sample.sample_id: item.label for item in labelled}

    job = Job(Cell(protocol.id, MODELS.canonical(model_name), strategy, seed,
                   data=data_key(source)), source)
    executor = executor or LocalExecutor(device="cpu")
    with contextlib.ExitStack() as stack:
        root = work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mer-tsne-")))
        task = plan_task(job, root, new_run_id(), resume=False, kind="tsne",
                         features=f"{__name__}:held_out_features")
        errors = executor.run_tasks([task], _FoldCount(on_fold))
        runs = read_runs(task.stage)
        if len(runs) != len(folds):
            raise RuntimeError(f"t-SNE of {job.cell.cell_id}: {len(runs)} of {len(folds)} folds "
                               f"trained ({errors.get(0, 'no error reported')})")
        blocks = [np.load(features_path(task.stage, run.index)) for run in runs]
        discard(task.stage)

    rows = []
    for run in runs:
        for sid, predicted in zip(run.test_ids, run.predictions):
            sample = by_id[sid]
            rows.append({"sample_id": sid, "subject": sample.subject_key,
                         "dataset": sample.dataset, "fold": run.index,
                         "label": protocol.classes[label_of[sid]],
                         "predicted": protocol.classes[int(predicted)]})
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for column in ("label", "predicted"):
        table[column] = pd.Categorical(table[column], categories=list(protocol.classes))
    return np.concatenate(blocks), table


def held_out_features(data: "CellData", fold: Fold, outcome: FoldOutcome,
                      arrays: "FoldArrays") -> np.ndarray:
    """A fold task's extra: the fold model's features of its test side, fed as training fed it
    (standardised with training statistics)."""
    trained = outcome.model
    device = next(trained.parameters()).device
    test = [torch.from_numpy(standardise(a.astype(np.float32), b.astype(np.float32))[1])
            .to(device) for a, b in zip(arrays.x_train, arrays.x_test)]
    num_classes = len(data.protocol.classes)
    return penultimate_features(trained, final_linear(trained, data.model.name, num_classes),
                                test)


class _FoldCount:
    """Fold-task events as ``on_fold(done, total)``."""

    def __init__(self, on_fold: FoldCallback | None) -> None:
        self.on_fold, self.done = on_fold, 0

    def task_started(self, task) -> None:
        pass

    def fold_kept(self, task, index: int) -> None:
        self.done += 1
        if self.on_fold:
            self.on_fold(self.done, task.n_folds)

    def task_ended(self, task) -> None:
        pass


def embed(features: np.ndarray, *, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """(N, 2) t-SNE of standardised ``features``; perplexity capped at (N - 1) / 3 for small N."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    n = len(features)
    if n < MIN_SAMPLES:
        raise DataError(f"t-SNE needs at least {MIN_SAMPLES} samples, got {n}")
    if perplexity <= 0:
        raise ConfigError(f"perplexity {perplexity:g} must be positive")
    scaled = StandardScaler().fit_transform(features)
    tsne = TSNE(n_components=2, random_state=seed, init="pca",
                perplexity=min(perplexity, (n - 1) / 3))
    return tsne.fit_transform(scaled)


def tsne_path(out: Path, protocol_id: str, model_name: str, keyframes: str, seed: int) -> Path:
    """``<out>/<protocol>__<model>__<keyframes>__seed<k>.png``, names made file-system safe."""
    parts = [_slug(protocol_id), _slug(model_name), _slug(keyframes), f"seed{seed}"]
    return Path(out) / ("__".join(parts) + ".png")


def write_tsne(features: np.ndarray, table: pd.DataFrame, out: Path, *, protocol_id: str,
               model_name: str, keyframes: str, seed: int, perplexity: float = 30.0) -> Path:
    """Embed ``features`` and write the plot (PNG) and the coordinates (CSV beside it).

    Returns the PNG's path; the CSV has the same name with ``.csv``. Both are written atomically
    and only once the embedding succeeded.
    """
    if len(features) != len(table):
        raise ValueError(f"{len(features)} feature rows for {len(table)} table rows")
    coordinates = embed(features, seed=seed, perplexity=perplexity)
    placed = table.assign(tsne_x=coordinates[:, 0].round(6), tsne_y=coordinates[:, 1].round(6))
    png = tsne_path(out, protocol_id, model_name, keyframes, seed)
    title = (f"{protocol_id} / {model_name} / {keyframes} / seed {seed}: "
             f"held-out features, t-SNE (n={len(placed)})")
    image = _plot(placed, title)
    atomic_write_text(png.with_suffix(".csv"), placed.to_csv(index=False))
    atomic_write_bytes(png, image)
    return png


def _plot(table: pd.DataFrame, title: str) -> bytes:
    """PNG bytes: points coloured by class; a second panel by dataset when there are several."""
    # The object API (no pyplot): no display needed, no global figure list to close.
    from matplotlib.figure import Figure

    by_dataset = table["dataset"].nunique() > 1
    figure = Figure(figsize=(12, 5.5) if by_dataset else (6.5, 5.5), layout="tight")
    axes = figure.subplots(1, 2 if by_dataset else 1, squeeze=False)[0]
    _scatter(axes[0], table, "label", list(table["label"].cat.categories), "class")
    if by_dataset:
        _scatter(axes[1], table, "dataset", sorted(table["dataset"].unique()), "dataset")
    figure.suptitle(title, fontsize="medium")
    buffer = io.BytesIO()
    # No Software tag: the same plot gives the same bytes under any matplotlib version.
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _scatter(axis, table: pd.DataFrame, column: str, groups: Sequence[str], legend: str) -> None:
    colours = _colours(len(groups))
    for group, colour in zip(groups, colours):
        part = table[table[column] == group]
        axis.scatter(part["tsne_x"], part["tsne_y"], s=22, color=colour, label=f"{group} "
                     f"({len(part)})", edgecolors="white", linewidths=0.4)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(f"by {legend}")
    axis.legend(title=legend, fontsize="small", loc="best")


def _colours(n: int) -> list:
    """``n`` distinct colours: tab10, then tab20 for more groups."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")
