"""One fold's study run through Ray Tune: Tune schedules the trials, Optuna still proposes them.

``OptunaSearch`` is given the cell's SQLite storage and the study's name, so it continues the very
study the local path would run (it loads it with ``load_if_exists``), and every trial lands there.
One ``Tuner`` per study; trials run concurrently, each reserving its model's CPUs (and GPU share
when the cluster has GPUs).

ASHA (``asha=True``) needs a score to stop on before a trial ends. Training has no per-epoch hook
(`train.train_and_predict` trains the whole budget in one call), so a trial reports once per inner
fold: the UF1 pooled over the inner folds done so far, with ``training_iteration`` counting inner
folds. ASHA compares trials at those rungs and stops the weaker ones before their last inner fold.
Such a trial reaches Optuna as COMPLETE with a partial score (Tune hands the searcher the last
result). So the driver records on each Optuna trial how many inner folds its results covered (a
Tune callback; the trial number travels in the config), and the best trial is only ever one
scored on all of them (`study.best_trial`). Optuna's intermediate values cannot serve: Tune skips the searcher's
per-result hook for the result on which a scheduler stops a trial.

The data travel through Ray's object store (``tune.with_parameters``) and hold only the fold's
training side, so trial workers need neither the data root nor the cache folder, and cannot read
the test subject.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

import optuna

from mer_bench.tune.objective import FOLDS_DONE, METRIC, InnerData, running_inner_uf1
from mer_bench.tune.space import SearchSpace

TRIAL_NUMBER = "optuna_trial"


class SuggestWithNumber:
    """The define-by-run space for ``OptunaSearch``, adding the Optuna trial number to the config.

    A class, not a closure: Tune pickles its searcher with the experiment state.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def __call__(self, trial: Any) -> dict[str, int]:
        self.space.suggest(trial)
        return {TRIAL_NUMBER: trial.number}


def progress_recorder(storage: optuna.storages.BaseStorage, name: str) -> Any:
    """A Tune callback writing ``FOLDS_DONE`` onto the Optuna trial behind each Tune result.

    Tune calls it for every result, before the searcher closes the trial, in the driver (the
    only process writing to the SQLite file).
    """
    from ray.tune import Callback

    study_id = storage.get_study_id_from_name(name)

    class RecordFoldsDone(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            number = trial.config[TRIAL_NUMBER]
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
            storage.set_trial_user_attr(trial_id, FOLDS_DONE, int(result[FOLDS_DONE]))

    return RecordFoldsDone()


def run_trial(config: dict[str, Any], *, data: InnerData, space: SearchSpace,
              cell_seed: int) -> None:
    """The Tune trainable: score one configuration, reporting after every inner fold."""
    from ray import tune

    budget = space.budget(config)
    for done, score in enumerate(running_inner_uf1(data, budget, cell_seed, _device()), start=1):
        tune.report({METRIC: score, FOLDS_DONE: done})


def _device() -> str:
    import ray
    import torch

    return "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"


def trial_resources(declared: Mapping[str, float], cluster: Mapping[str, float]) -> dict:
    """The model's CPUs, and its GPU share only where the cluster has GPUs at all."""
    return {"cpu": float(declared.get("cpu", 1)),
            "gpu": float(declared.get("gpu", 0)) if cluster.get("GPU", 0) > 0 else 0.0}


def concurrency(resources: Mapping[str, float], cluster: Mapping[str, float], trials: int) -> int:
    """How many trials fit side by side on the cluster (at least 1, at most ``trials``)."""
    fits = [cluster.get(key.upper(), 0.0) / need for key, need in resources.items() if need > 0]
    return max(1, min([trials, *(int(f) for f in fits)]))


def optimize_ray(storage: optuna.storages.BaseStorage, name: str,
                 sampler: optuna.samplers.BaseSampler, space: SearchSpace, data: InnerData,
                 cell_seed: int, n_trials: int, *, declared: Mapping[str, float], asha: bool,
                 address: str | None = None) -> None:
    """Run ``n_trials`` more trials of study ``name`` as Ray Tune trials."""
    if not n_trials:
        return
    from mer_bench.execute.ray_session import start_ray

    ray = start_ray(address)
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    cluster = ray.cluster_resources()
    resources = trial_resources(declared, cluster)
    searcher = OptunaSearch(space=SuggestWithNumber(space), metric=METRIC, mode="max",
                            sampler=sampler, study_name=name, storage=storage)
    scheduler = (ASHAScheduler(time_attr="training_iteration", max_t=data.n_inner,
                               grace_period=1, reduction_factor=2) if asha else None)
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, data=data, space=space, cell_seed=cell_seed), resources)
    # Tune's own experiment folder is scratch: the study in SQLite is what resumes.
    with tempfile.TemporaryDirectory(prefix="mer-bench-tune-") as scratch:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                metric=METRIC, mode="max", search_alg=searcher, scheduler=scheduler,
                num_samples=n_trials,
                max_concurrent_trials=concurrency(resources, cluster, n_trials),
                reuse_actors=True, trial_dirname_creator=lambda trial: trial.trial_id),
            run_config=tune.RunConfig(name="study", storage_path=str(Path(scratch).resolve()),
                                      callbacks=[progress_recorder(storage, name)], verbose=0),
        )
        grid = tuner.fit()
    errors = [result.error for result in grid if result.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} of {n_trials} trials of study {name!r} failed; "
                           f"the first: {_first_line(errors[0])}")


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
