"""Optuna studies of one cell: where they are stored, resuming them, and picking their best trial.

Every study of a cell lives in one SQLite file, ``<results>/tuning/<cell path>.db``; study
``"<cell id>/fold<k>"`` tunes outer fold k. Only the driver process writes to it (Ray's
`OptunaSearch` keeps its study in the driver too), which is the one way SQLite suits Optuna.

A study records the terms it was started under (search space, inner split, objective, test
subject). Resuming under other terms would mix trials of different problems in one study, so it
is refused before any trial runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from mer_bench.errors import ConfigError, DataError
from mer_bench.models import TrainingBudget
from mer_bench.store import Cell
from mer_bench.tune.objective import FOLDS_DONE, InnerData, running_inner_uf1
from mer_bench.tune.space import SearchSpace

DIRECTION = "maximize"
# ASHA-stopped trials come back from Ray as COMPLETE; both kinds count towards --trials.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

optuna.logging.set_verbosity(logging.WARNING)


def storage_file(results: Path, cell: Cell) -> Path:
    relpath = cell.relpath
    return Path(results).resolve() / "tuning" / relpath.parent / f"{relpath.name}.db"


def open_storage(path: Path) -> optuna.storages.RDBStorage:
    """The SQLite storage at ``path`` (created if absent); an absolute URL, whatever the cwd."""
    return optuna.storages.RDBStorage(f"sqlite:///{Path(path).resolve()}")


def study_name(cell: Cell, fold_index: int) -> str:
    return f"{cell.cell_id}/fold{fold_index}"


def make_sampler(seed: int, trials_so_far: int) -> optuna.samplers.TPESampler:
    """TPE seeded with ``seed`` on a fresh study.

    A resumed study draws with a seed derived from ``(seed, trials so far)``: reusing ``seed``
    would replay the first random draws and repeat configurations already tried.
    """
    if trials_so_far:
        seed = int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed)


def check_resumable(path: Path, terms: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse to resume a study started under other terms; ``terms`` maps study name -> terms.

    Reads the file only if it exists, so a refused run creates nothing.
    """
    if not path.is_file():
        return
    storage = open_storage(path)
    for name, wanted in terms.items():
        try:
            found = storage.get_study_user_attrs(storage.get_study_id_from_name(name))
        except KeyError:
            continue
        changed = sorted(key for key in wanted if found.get(key) != wanted[key])
        if changed:
            raise ConfigError(
                f"study {name!r} in {path} was tuned with another {', '.join(changed)}; "
                "rerun with the same settings to resume it, or delete that file to start over")


def open_study(storage: optuna.storages.BaseStorage, name: str, seed: int,
               terms: Mapping[str, Any]) -> optuna.Study:
    """Create study ``name`` or load it (resume), recording ``terms`` on a new one."""
    existing = optuna.create_study(storage=storage, study_name=name, direction=DIRECTION,
                                   load_if_exists=True)
    if not existing.user_attrs:
        for key, value in terms.items():
            existing.set_user_attr(key, value)
    return optuna.load_study(study_name=name, storage=storage,
                             sampler=make_sampler(seed, len(existing.trials)),
                             pruner=optuna.pruners.NopPruner())


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def missing_trials(study: optuna.Study, wanted: int) -> int:
    return max(0, wanted - len(finished_trials(study)))


def best_trial(study: optuna.Study, n_inner: int) -> FrozenTrial:
    """The best trial that was scored on every inner fold (earliest on ties).

    A trial stopped early by ASHA, or one that failed after some reports, is stored by Ray as
    COMPLETE with a value over fewer inner folds; it is not comparable, so it is not chosen.
    """
    scored = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if t.value is not None and t.user_attrs.get(FOLDS_DONE, 0) >= n_inner]
    if not scored:
        raise DataError(f"study {study.study_name!r} has no trial scored on all {n_inner} inner "
                        "folds; run more --trials")
    return max(scored, key=lambda t: (t.value, -t.number))


@dataclass(frozen=True)
class StudyRun:
    """The missing trials of one study, for an executor to run (`Executor.optimize`)."""

    storage: optuna.storages.BaseStorage
    study: optuna.Study
    space: SearchSpace
    data: InnerData
    cell_seed: int
    n_trials: int
    resources: Mapping[str, float]  # what the model declares per training run

    @property
    def name(self) -> str:
        return self.study.study_name


def optimize_local(study: optuna.Study, space: SearchSpace, data: InnerData, cell_seed: int,
                   n_trials: int, *, device: str = "cpu") -> None:
    """Run ``n_trials`` trials in this process (plain ``study.optimize``)."""

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        budget: TrainingBudget = space.budget(trial.params)
        score = float("nan")
        for step, score in enumerate(running_inner_uf1(data, budget, cell_seed, device),
                                     start=1):
            trial.report(score, step)
            trial.set_user_attr(FOLDS_DONE, step)
        return score

    if n_trials:
        study.optimize(objective, n_trials=n_trials)
