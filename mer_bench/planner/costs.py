"""What each cell of a run costs: seconds per fold, the cell's setup, and a worker's memory.

Fold times come, in this order of preference, from

1. earlier records of the same model (and budget), protocol, data source, selection mode and
   device kind, with the same number of folds: per fold, the median over those records of
   ``fold_wall_s`` (seconds inside the worker, data loading excluded); a record without it (made
   before folds were timed) has its ``wall_time_s`` spread over its folds in proportion to their
   training-set sizes, setup included;
2. otherwise a few timed training steps of the model at its budget's batch size (`steps`): a fold
   costs epochs x its batches x the step time, plus predicting its test side (every epoch under
   oracle selection).

Training-set sizes are counted on the data itself (the protocol's folds on the samples read), so
the data is read, and twins generated if absent, as a run would.

A cell's setup (reading its samples, selecting key frames, building or loading its inputs) comes
from records with per-fold times (their wall time minus their folds), else from timing it here,
once per protocol, model input and keyframe strategy, after a first untimed pass that fills the
input cache as the run's first cells would.

A worker's memory is the peak resident memory of a fresh process that timed the model's steps
(Python, torch, the job code, the model, its optimiser state, one batch's activations), plus the
cell's inputs held DATA_COPIES times over (the cell's train and test sides, the stacked fold, its
float32 and standardised copies and their temporary).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from mer_bench.datasource import DataSource, protocol_samples
from mer_bench.models import MODELS, ModelSpec
from mer_bench.planner.steps import StepTiming
from mer_bench.protocols import get_protocol, make_folds
from mer_bench.store import RECORD_GLOB, Cell, ResultStore

DATA_COPIES = 6
FLOAT_BYTES = 4

FROM_RECORDS = "records"
FROM_SPREAD_RECORDS = "records (wall time spread over folds)"
FROM_STEPS = "timed steps"


@dataclass(frozen=True)
class CellShape:
    """A protocol's folds on the data: training and test samples per fold, and classes."""

    n_train: tuple[int, ...]
    n_test: tuple[int, ...]
    classes: int

    @property
    def samples(self) -> int:
        return self.n_train[0] + self.n_test[0] if len(self.n_train) == 1 else sum(self.n_test)


@dataclass(frozen=True)
class CellCost:
    cell: Cell
    folds: tuple[float, ...]  # seconds per fold: training and prediction
    setup_s: float  # reading the cell's samples and building its inputs
    memory: float  # bytes one worker holds while it runs the cell
    source: str  # where the fold times come from (FROM_*)
    cpus: float = 1.0
    gpu: float = 0.0  # share of a GPU, where the cluster has GPUs

    @property
    def seconds(self) -> float:
        return self.setup_s + sum(self.folds)


@dataclass(frozen=True)
class RecordTiming:
    """The timing fields of one stored record (read from its JSON alone)."""

    cell: Cell
    budget: object
    n_folds: int
    wall_time_s: float
    fold_wall_s: tuple[float, ...] | None
    device: str


def read_timings(results: Path) -> list[RecordTiming]:
    """The timing of every record under ``results``; records that cannot be read are left out
    (they give no cost, and `mer-bench leaderboard` names them)."""
    records_dir = ResultStore(Path(results)).records_dir
    timings = []
    for path in sorted(records_dir.glob(f"*/{RECORD_GLOB}")):
        if any(part.startswith(".") for part in path.relative_to(records_dir).parts):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            folds = data.get("fold_wall_s")
            timings.append(RecordTiming(
                cell=Cell.from_dict(data["cell"]),
                budget=data["config"].get("budget"),
                n_folds=int(data["n_folds"]),
                wall_time_s=float(data["wall_time_s"]),
                fold_wall_s=tuple(float(s) for s in folds) if folds is not None else None,
                device=device_kind(str(data.get("device") or "cpu"))))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return timings


def device_kind(device: str) -> str:
    """``cuda:1`` -> ``cuda``: costs are shared by every device of a kind."""
    return device.split(":", 1)[0]


def cell_shape(protocol_id: str, source: DataSource) -> CellShape:
    """Count the protocol's folds on the data (reads it; generates twins if absent)."""
    protocol = get_protocol(protocol_id)
    labelled = protocol.label_samples(protocol_samples(protocol, source))
    folds = make_folds(protocol, labelled)
    return CellShape(tuple(len(f.train_ids) for f in folds), tuple(len(f.test_ids) for f in folds),
                     len(protocol.classes))


def sample_bytes(spec: ModelSpec) -> int:
    """One sample's model inputs in float32 (both branches for a two-branch model)."""
    from mer_bench.inputs.representations import INPUTS

    per_branch = sum(INPUTS.get(kind).channels for kind in spec.inputs) * spec.input_size ** 2
    return per_branch * FLOAT_BYTES * (2 if spec.two_branch else 1)


def costs_from_records(timings: Sequence[RecordTiming], cell: Cell, shape: CellShape,
                       device: str) -> tuple[tuple[float, ...], float | None, str] | None:
    """(seconds per fold, setup seconds or None, source) from earlier records, or None."""
    budget = MODELS.get(cell.model).budget.as_dict()
    same = [t for t in timings
            if (t.cell.data, t.cell.protocol, t.cell.model, t.cell.selection, t.device)
            == (cell.data, cell.protocol, cell.model, cell.selection, device)
            and t.budget == budget and t.n_folds == len(shape.n_train)]
    timed = [t for t in same if t.fold_wall_s is not None and len(t.fold_wall_s) == t.n_folds]
    if timed:
        setups = [t.wall_time_s - sum(t.fold_wall_s) for t in timed  # type: ignore[arg-type]
                  if t.cell.keyframes == cell.keyframes]
        setups = [s for s in setups if s >= 0]
        return (_median_per_fold(t.fold_wall_s for t in timed),  # type: ignore[misc]
                statistics.median(setups) if setups else None, FROM_RECORDS)
    if same:
        total = sum(shape.n_train)
        spread = (tuple(t.wall_time_s * n / total for n in shape.n_train) for t in same)
        return _median_per_fold(spread), 0.0, FROM_SPREAD_RECORDS
    return None


def _median_per_fold(rows: Iterable[Sequence[float]]) -> tuple[float, ...]:
    return tuple(statistics.median(column) for column in zip(*rows))


def costs_from_steps(timing: StepTiming, cell: Cell, shape: CellShape) -> tuple[float, ...]:
    """Seconds per fold from timed steps: every epoch's batches, then the prediction."""
    budget = MODELS.get(cell.model).budget
    return tuple(timing.fold_seconds(epochs=budget.epochs, n_train=n, n_test=m,
                                     predict_every_epoch=cell.selection == "oracle")
                 for n, m in zip(shape.n_train, shape.n_test))


def time_setup(cell: Cell, source: DataSource) -> float:
    """Seconds to read ``cell``'s samples, select its key frames and load its inputs, timed on
    a second pass (the first fills the input cache, as the run's first cells would)."""
    from mer_bench.execute.cell import cell_inputs, make_strategy

    protocol, model = get_protocol(cell.protocol), MODELS.get(cell.model)

    def setup() -> None:
        labelled = protocol.label_samples(protocol_samples(protocol, source))
        make_folds(protocol, labelled)
        cell_inputs(model, make_strategy(cell.keyframes), labelled)

    setup()
    started = time.perf_counter()
    setup()
    return time.perf_counter() - started


def setup_key(cell: Cell) -> tuple:
    """Cells whose setup costs the same: one protocol, model input and keyframe strategy."""
    spec = MODELS.get(cell.model)
    return (cell.protocol, spec.inputs, spec.input_size, spec.two_branch, cell.keyframes)


def cell_costs(cells: Sequence[Cell], shapes: Mapping[str, CellShape],
               timings: Sequence[RecordTiming], *, device_of: Callable[[Cell], str],
               step_timing: Callable[[str, int, str], StepTiming],
               setup_time: Callable[[Cell], float]) -> list[CellCost]:
    """Every cell's cost: folds from records or timed steps, setup, memory (see the module)."""
    setups: dict[tuple, float] = {}
    costs = []
    for cell in cells:
        spec, shape, device = MODELS.get(cell.model), shapes[cell.protocol], device_of(cell)
        timing = step_timing(cell.model, shape.classes, device)
        found = costs_from_records(timings, cell, shape, device)
        if found is None:
            folds, setup, source = costs_from_steps(timing, cell, shape), None, FROM_STEPS
        else:
            folds, setup, source = found
        if setup is None:
            key = setup_key(cell)
            if key not in setups:
                setups[key] = setup_time(cell)
            setup = setups[key]
        memory = timing.peak_rss + DATA_COPIES * shape.samples * sample_bytes(spec)
        costs.append(CellCost(cell, folds, setup, memory, source,
                              cpus=float(spec.resources.get("cpu", 1)),
                              gpu=float(spec.resources.get("gpu", 0))))
    return costs

