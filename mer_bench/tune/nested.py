"""`mer-bench tune` end to end: check the input, tune each fold, evaluate the cell once, store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mer_bench.datasource import DataSource
from mer_bench.errors import ConfigError
from mer_bench.execute.base import Executor, QuietProgress, RunProgress, build_executor
from mer_bench.execute.job import Job
from mer_bench.keyframes import KEYFRAME_STRATEGIES
from mer_bench.models import MODELS, TrainingBudget
from mer_bench.protocols import Fold, get_protocol
from mer_bench.runner import publish_store
from mer_bench.store import Cell, JobResult, ResultStore, check_writable, data_key
from mer_bench.tune.inner import CellData, check_inner_split, inner_data, load_cell
from mer_bench.tune.objective import OBJECTIVE
from mer_bench.tune.space import SearchSpace, space_for
from mer_bench.tune.study import (StudyRun, best_trial, check_resumable, finished_trials,
                                  missing_trials, open_storage, open_study, storage_file,
                                  study_name)

SELECTION = "optuna-nested"
INNER_SPLIT = "subjects of the fold's training side, shuffled with the cell seed, dealt round-robin"

Report = Callable[[str], None]


@dataclass(frozen=True)
class TuneSettings:
    """One ``mer-bench tune`` request."""

    protocol: str
    model: str
    trials: int
    keyframes: str = "annotated"
    seed: int = 0
    results: Path = Path("results")
    executor: str | None = None  # None: $MER_BENCH_EXECUTOR, else auto (see execute.base)
    address: str | None = None
    max_epochs: int | None = None
    inner_folds: int = 3
    asha: bool = False
    device: str = "auto"
    workers: int | None = None

    def cell_on(self, source: DataSource) -> Cell:
        """The tuned cell on ``source``; canonical names (``gamdss[distance=pixel]`` is ``gamdss``)."""
        return Cell(self.protocol, MODELS.canonical(self.model),
                    KEYFRAME_STRATEGIES.canonical(self.keyframes), self.seed, SELECTION,
                    data=data_key(source))


@dataclass(frozen=True)
class FoldBest:
    """What one fold's study chose."""

    fold: Fold
    study: str
    trials: int
    number: int
    params: dict[str, Any]
    inner_uf1: float
    budget: TrainingBudget

    def record(self) -> dict[str, Any]:
        return {"fold": self.fold.index, "test_subject": self.fold.test_subject,
                "study": self.study, "trials": self.trials, "best_trial": self.number,
                "best_params": self.params, "best_inner_uf1": self.inner_uf1}


def check_settings(settings: TuneSettings) -> Executor:
    """One-line errors for bad options and unknown names, before any data is read; returns the
    executor the settings ask for (its own options checked by itself)."""
    if settings.trials < 1:
        raise ConfigError(f"--trials {settings.trials}: give at least 1 trial per fold")
    if settings.inner_folds < 2:
        raise ConfigError(f"--inner-folds {settings.inner_folds}: give at least 2")
    if settings.max_epochs is not None and settings.max_epochs < 1:
        raise ConfigError(f"--max-epochs {settings.max_epochs}: give at least 1")
    get_protocol(settings.protocol)
    model = MODELS.get(settings.model)
    KEYFRAME_STRATEGIES.create(settings.keyframes)
    options = {"address": settings.address, "asha": settings.asha or None,
               "workers": settings.workers}
    return build_executor(settings.executor, options, device=settings.device, models=[model])


def study_terms(space: SearchSpace, settings: TuneSettings, fold: Fold) -> dict[str, Any]:
    """What a study is tuned under; resuming it under anything else is refused."""
    return {"search_space": space.describe(), "inner_folds": settings.inner_folds,
            "inner_split": INNER_SPLIT, "objective": OBJECTIVE, "test_subject": fold.test_subject,
            "seed": settings.seed}


def tune_fold(data: CellData, fold: Fold, space: SearchSpace, settings: TuneSettings,
              storage_path: Path, executor: Executor) -> FoldBest:
    """Run fold ``fold``'s study up to ``settings.trials`` finished trials on ``executor``;
    return its best."""
    name = study_name(data.cell, fold.index)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    storage = open_storage(storage_path)
    study = open_study(storage, name, settings.seed, study_terms(space, settings, fold))
    inner = inner_data(data, fold, settings.inner_folds, settings.seed)
    executor.optimize(StudyRun(storage=storage, study=study, space=space, data=inner,
                               cell_seed=settings.seed,
                               n_trials=missing_trials(study, settings.trials),
                               resources=data.model.resources))
    best = best_trial(study, inner.n_inner)
    return FoldBest(fold=fold, study=name, trials=len(finished_trials(study)), number=best.number,
                    params=dict(best.params), inner_uf1=float(best.value),
                    budget=space.budget(best.params))


def tuning_record(settings: TuneSettings, executor: str, space: SearchSpace, storage_path: Path,
                  bests: list[FoldBest]) -> dict[str, Any]:
    """How the fold budgets were found: the ``tuning`` entry of the record's config."""
    return {
        "method": "optuna, one study per outer fold",
        "sampler": {"name": "TPESampler", "seed": settings.seed},
        "trials_per_fold": settings.trials,
        "inner_folds": settings.inner_folds,
        "inner_split": INNER_SPLIT,
        "objective": OBJECTIVE,
        "search_space": space.describe(),
        "executor": executor,
        "asha": settings.asha,
        "storage": storage_path.relative_to(Path(settings.results).resolve()).as_posix(),
        "folds": [best.record() for best in bests],
    }


def tune_cell(settings: TuneSettings, source: DataSource, report: Report = lambda line: None,
              progress: RunProgress | None = None) -> JobResult:
    """Tune every fold of the cell on its training side, then evaluate and store the cell."""
    executor = check_settings(settings)
    cell = settings.cell_on(source)
    # cheap checks first: the results folder, a Ray address; then the data is read
    check_writable(settings.results, "results folder", create=False)
    ResultStore(settings.results).check_layout()
    executor.preflight()
    data = load_cell(cell, source)
    check_inner_split(data, settings.inner_folds)
    space = space_for(data.model, settings.max_epochs)
    check_writable(settings.results, "results folder")
    storage_path = storage_file(settings.results, cell)
    check_resumable(storage_path, {study_name(cell, f.index): study_terms(space, settings, f)
                                   for f in data.folds})
    bests = []
    for fold in data.folds:
        best = tune_fold(data, fold, space, settings, storage_path, executor)
        bests.append(best)
        report(f"fold {fold.index} (test subject {fold.test_subject}): best inner UF1 "
               f"{best.inner_uf1:.4f} of {best.trials} trials, {_describe(best.budget)}")

    job = Job(cell, source, fold_budgets=tuple(b.budget for b in bests),
              tuning=tuning_record(settings, executor.name, space, storage_path, bests))
    store = ResultStore(settings.results)
    # the cell's folds with their tuned budgets, spread over the executor's workers
    (result,) = executor.run([job], store, progress or QuietProgress())
    publish_store(store)
    return result


def _describe(budget: TrainingBudget) -> str:
    return (f"lr {budget.lr:.3g}, weight decay {budget.weight_decay:.3g}, "
            f"{budget.epochs} epochs, batch {budget.batch_size}")
