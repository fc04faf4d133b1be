"""Folds as the unit of work: a task is some folds of one cell, run by any worker of any executor.

Each fold's outcome is kept as soon as it ends, in the cell's staging folder::

    <results>/.folds/<cell path>/<kind>-<config hash>/<run id>/fold-0007.json

The config hash in the path means a fold made under another configuration is never reused; the
run id keeps two runs of the same cell at once (two terminals, one results folder) out of each
other's way. The worker that ends a cell's last fold claims the folder (one atomic rename: exactly
one worker wins), assembles the record from the staged folds, writes it atomically, and deletes
the folder, so a record is written once, whole, when its last fold ends.

A resumed run (``--resume``) adopts the folds staged by earlier runs of the same configuration
and trains only the missing ones; a fresh run trains every fold.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mer_bench.datasource import CACHE_ENV, DataSource, cache_dir
from mer_bench.execute.cell import CellData, FoldRun, load_cell, train_fold
from mer_bench.execute.job import Job, assemble_record, check_fold_budgets
from mer_bench.files import atomic_write_bytes, atomic_write_text
from mer_bench.models import TrainingBudget
from mer_bench.store import Cell, ResultStore

STAGE_DIR = ".folds"
RECORD = "record"  # the kind of a benchmark job's stage
CLAIMED = ".claimed"

FoldCallback = Callable[[int], None]  # called with a fold's index when it has been kept


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def stage_root(results: Path, cell: Cell, kind: str, config_hash: str) -> Path:
    """Where every run of ``cell`` under ``config_hash`` stages its folds."""
    return Path(results).resolve() / STAGE_DIR / cell.relpath / f"{kind}-{config_hash[:16]}"


@dataclass(frozen=True)
class FoldTask:
    """Some folds of one cell to train, and what to do with them.

    ``record``: write the cell's record into the results folder once its last fold is kept.
    ``features``: a ``"module:function"`` called as ``function(data, fold, outcome, arrays)``
    after each fold, whose array is kept beside the fold (t-SNE's held-out features).
    """

    job: Job
    folds: tuple[int, ...]
    n_folds: int
    results: Path
    stage: Path  # this run's folder of the cell
    config_hash: str
    record: bool = True
    features: str | None = None

    def with_folds(self, folds: Sequence[int]) -> "FoldTask":
        return replace(self, folds=tuple(folds))

    def to_config(self) -> dict[str, Any]:
        """Plain values only: a task crosses process (and machine) boundaries."""
        job = self.job
        return {
            "cell": job.cell.to_dict(),
            "source": {"root": str(job.source.root) if job.source.root else None,
                       "twin_scale": job.source.twin_scale, "twin_seed": job.source.twin_seed},
            "fold_budgets": ([asdict(b) for b in job.fold_budgets]
                             if job.fold_budgets is not None else None),
            "tuning": job.tuning,
            "folds": list(self.folds),
            "n_folds": self.n_folds,
            "results": str(self.results),
            "stage": str(self.stage),
            "config_hash": self.config_hash,
            "record": self.record,
            "features": self.features,
            "cache": str(cache_dir().resolve()),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "FoldTask":
        os.environ[CACHE_ENV] = config["cache"]  # workers do not inherit the driver's environment
        source = config["source"]
        budgets = config["fold_budgets"]
        job = Job(Cell.from_dict(config["cell"]),
                  DataSource(Path(source["root"]) if source["root"] else None,
                             source["twin_scale"], source["twin_seed"]),
                  fold_budgets=(tuple(TrainingBudget(**b) for b in budgets)
                                if budgets is not None else None),
                  tuning=config["tuning"])
        return cls(job=job, folds=tuple(config["folds"]), n_folds=int(config["n_folds"]),
                   results=Path(config["results"]), stage=Path(config["stage"]),
                   config_hash=str(config["config_hash"]), record=bool(config["record"]),
                   features=config["features"])


def fold_path(stage: Path, index: int) -> Path:
    return stage / f"fold-{index:04d}.json"


def features_path(stage: Path, index: int) -> Path:
    return stage / f"fold-{index:04d}.features.npy"


def staged_folds(stage: Path) -> set[int]:
    """The folds kept in ``stage`` (a fold counts once its outcome file is whole)."""
    if not stage.is_dir():
        return set()
    return {int(path.name[5:9]) for path in stage.glob("fold-*.json")}


def read_runs(stage: Path) -> list[FoldRun]:
    return [FoldRun.from_dict(json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(stage.glob("fold-*.json"))]


def run_task(task: FoldTask, *, device: str, on_fold: FoldCallback | None = None) -> bool:
    """Train the task's folds not yet kept, keeping each as it ends; then, if the cell is complete
    and the task asks for it, write the record. Returns whether this call wrote it."""
    data = load_cell(task.job.cell, task.job.source)
    check_fold_budgets(task.job, len(data.folds))
    if len(data.folds) != task.n_folds:
        raise RuntimeError(f"{task.job.cell.cell_id}: {len(data.folds)} folds here, "
                           f"{task.n_folds} when the run was planned; the data changed")
    done = staged_folds(task.stage)
    features = _function(task.features) if task.features else None
    prepare_s = data.prepare_s
    for index in task.folds:
        if index in done:
            continue  # a retried task keeps what its first attempt finished
        fold = data.folds[index]
        run, outcome, arrays = train_fold(
            data, fold, budget=task.job.budget_for(data.model, index), device=device,
            keep_model=features is not None, prepare_s=prepare_s)
        prepare_s = 0.0  # the inputs are charged once, to the first fold this worker trained
        if features is not None:
            buffer = _npy_bytes(features(data, fold, outcome, arrays))
            atomic_write_bytes(features_path(task.stage, index), buffer)
        atomic_write_text(fold_path(task.stage, index), json.dumps(run.to_dict()))
        if on_fold:
            on_fold(index)
    return finish_cell(task, data) if task.record else False


def finish_cell(task: FoldTask, data: CellData) -> bool:
    """Write the record if every fold is kept and no other worker got there first."""
    if len(staged_folds(task.stage)) < task.n_folds:
        return False
    claimed = task.stage.with_name(task.stage.name + CLAIMED)
    try:
        os.rename(task.stage, claimed)  # atomic: of two workers ending at once, one wins
    except FileNotFoundError:
        return False
    result = assemble_record(task.job, data, read_runs(claimed))
    if result.config_hash != task.config_hash:
        raise RuntimeError(f"{task.job.cell.cell_id}: the config changed while the run ran "
                           "(data or code edited); run it again")
    ResultStore(task.results).write(result)
    discard(claimed)
    return True


def discard(stage: Path) -> None:
    """Delete a stage folder, and the folders above it (up to ``.folds``) it leaves empty."""
    shutil.rmtree(stage, ignore_errors=True)
    for folder in stage.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        if folder.name == STAGE_DIR:
            return


def adopt_staged(root: Path, stage: Path) -> set[int]:
    """Move the folds earlier runs kept under ``root`` (same cell, same config) into ``stage``
    and delete their folders; returns the folds ``stage`` now holds. Only a resumed run calls
    it: it takes its predecessors to be dead."""
    stage.mkdir(parents=True, exist_ok=True)
    for previous in sorted(root.iterdir()) if root.is_dir() else []:
        if previous == stage or not previous.is_dir():
            continue
        for path in previous.glob("fold-*"):
            if not (stage / path.name).exists():
                os.replace(path, stage / path.name)
        shutil.rmtree(previous, ignore_errors=True)
    # features are kept only with their fold
    for orphan in stage.glob("fold-*.features.npy"):
        if not fold_path(stage, int(orphan.name[5:9])).exists():
            orphan.unlink()
    return staged_folds(stage)


def drop_other_configs(results: Path, cell: Cell, kind: str, keep: Path) -> None:
    """Delete the stages of ``cell`` made under another config: they can never be reused."""
    folder = Path(results).resolve() / STAGE_DIR / cell.relpath
    for path in folder.glob(f"{kind}-*") if folder.is_dir() else []:
        if path != keep:
            shutil.rmtree(path, ignore_errors=True)


def _function(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()
