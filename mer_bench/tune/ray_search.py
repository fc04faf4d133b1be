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
from mer_bench.tune.study import StudyRun

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
              cell_seed: int, device: str) -> None:
    """The Tune trainable: score one configuration, reporting after every inner fold."""
    import ray
    from ray import tune

    from mer_bench.device import trial_device

    budget = space.budget(config)
    on = trial_device(device, ray.get_gpu_ids())
    for done, score in enumerate(running_inner_uf1(data, budget, cell_seed, on), start=1):
        tune.report({METRIC: score, FOLDS_DONE: done})


def trial_resources(declared: Mapping[str, float], cluster: Mapping[str, float],
                    device: str = "auto", gpu_share: float | None = None) -> dict:
    """The model's CPUs, and its GPU share (or ``gpu_share``) only where trials train on GPUs:
    the cluster has some and the device is not the CPU."""
    share = declared.get("gpu", 0) if gpu_share is None else gpu_share
    gpus = cluster.get("GPU", 0) > 0 and device != "cpu"
    return {"cpu": float(declared.get("cpu", 1)), "gpu": float(share) if gpus else 0.0}


def concurrency(resources: Mapping[str, float], cluster: Mapping[str, float], trials: int) -> int:
    """How many trials fit side by side on the cluster (at least 1, at most ``trials``)."""
    fits = [cluster.get(key.upper(), 0.0) / need for key, need in resources.items() if need > 0]
    return max(1, min([trials, *(int(f) for f in fits)]))


def optimize_ray(run: StudyRun, *, asha: bool, device: str = "auto",
                 gpu_share: float | None = None, workers: int | None = None) -> None:
    """Run ``run.n_trials`` more trials of its study as Ray Tune trials (Ray already started)."""
    if not run.n_trials:
        return
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    cluster = ray.cluster_resources()
    resources = trial_resources(run.resources, cluster, device, gpu_share)
    searcher = OptunaSearch(space=SuggestWithNumber(run.space), metric=METRIC, mode="max",
                            sampler=run.study.sampler, study_name=run.name, storage=run.storage)
    scheduler = (ASHAScheduler(time_attr="training_iteration", max_t=run.data.n_inner,
                               grace_period=1, reduction_factor=2) if asha else None)
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, data=run.data, space=run.space, cell_seed=run.cell_seed,
                             device=device), resources)
    concurrent = concurrency(resources, cluster, run.n_trials)
    # Tune's own experiment folder is scratch: the study in SQLite is what resumes.
    with tempfile.TemporaryDirectory(prefix="mer-bench-tune-") as scratch:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                metric=METRIC, mode="max", search_alg=searcher, scheduler=scheduler,
                num_samples=run.n_trials,
                max_concurrent_trials=min(concurrent, workers) if workers else concurrent,
                reuse_actors=True, trial_dirname_creator=lambda trial: trial.trial_id),
            run_config=tune.RunConfig(name="study", storage_path=str(Path(scratch).resolve()),
                                      callbacks=[progress_recorder(run.storage, run.name)],
                                      verbose=0),
        )
        grid = tuner.fit()
    errors = [result.error for result in grid if result.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} of {run.n_trials} trials of study {run.name!r} failed; "
                           f"the first: {_first_line(errors[0])}")


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
