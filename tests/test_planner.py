"""The planner: the schedule simulation on hand-made cases, costs from records and timed steps,
and `mer-bench plan` end to end, bad input included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mer_bench.errors import ConfigError
from mer_bench.planner.costs import (FROM_RECORDS, FROM_SPREAD_RECORDS, FROM_STEPS, CellCost,
                                     CellShape, cell_costs, costs_from_records, read_timings)
from mer_bench.planner.estimate import LOCAL, RAY, describe_path, simulate_run
from mer_bench.planner.schedule import Cluster, Task, simulate
from mer_bench.planner.steps import StepTiming
from mer_bench.store import Cell, ResultStore

DATA = "twin-scale0.15-seed0"
STSTNET_BUDGET = {"epochs": 60, "batch_size": 32, "lr": 0.001, "weight_decay": 0.0001,
                  "lr_gamma": 1.0, "lr_decay_epochs": 0}


# --- the schedule -----------------------------------------------------------------------------

def test_one_worker_runs_every_task_in_series():
    tasks = [Task(name, seconds) for name, seconds in zip("abcd", (3.0, 1.0, 4.0, 2.0))]
    schedule = simulate(tasks, Cluster(cpus=1))

    assert schedule.makespan == pytest.approx(10.0)
    assert [p.task.name for p in schedule.critical_path()] == list("abcd")
    assert schedule.utilisation() == pytest.approx(1.0)


def test_many_workers_take_as_long_as_the_longest_task():
    tasks = [Task(f"t{i}", seconds) for i, seconds in enumerate((3.0, 1.0, 7.0, 2.0, 5.0))]
    schedule = simulate(tasks, Cluster(cpus=64))

    assert schedule.makespan == pytest.approx(7.0)
    assert [p.task.name for p in schedule.critical_path()] == ["t2"]
    assert all(p.start == 0 for p in schedule.placements)


def test_the_critical_path_follows_the_chain_that_ends_last():
    # two workers: a and b start at 0; c takes a's worker at 1, d takes b's at 1 and ends at 5
    tasks = [Task("a", 1.0), Task("b", 1.0), Task("c", 1.0), Task("d", 4.0)]
    schedule = simulate(tasks, Cluster(cpus=2))

    assert schedule.makespan == pytest.approx(5.0)
    assert [p.task.name for p in schedule.critical_path()] == ["b", "d"]


def test_gpu_shares_pack_onto_one_gpu_and_never_split_across_two():
    quarter = [Task(f"q{i}", 10.0, cpus=1, gpu=0.25) for i in range(5)]
    schedule = simulate(quarter, Cluster(cpus=8, gpus=1))
    starts = sorted(p.start for p in schedule.placements)
    assert starts == [0, 0, 0, 0, 10]  # four quarters fill the GPU; the fifth waits
    assert schedule.makespan == pytest.approx(20.0)

    # 0.6 + 0.6 does not fit one GPU: on one GPU they run one after the other, on two at once
    big = [Task("x", 10.0, gpu=0.6), Task("y", 10.0, gpu=0.6)]
    assert simulate(big, Cluster(cpus=4, gpus=1)).makespan == pytest.approx(20.0)
    assert simulate(big, Cluster(cpus=4, gpus=2)).makespan == pytest.approx(10.0)


def test_whole_gpus_wait_for_free_gpus():
    tasks = [Task("quarter", 10.0, gpu=0.25), Task("two", 5.0, gpu=2), Task("later", 1.0, gpu=1)]
    schedule = simulate(tasks, Cluster(cpus=8, gpus=2))
    start = {p.task.name: p.start for p in schedule.placements}

    assert start["quarter"] == 0
    assert start["two"] == pytest.approx(10.0)  # GPU 0 is partly taken until the quarter ends
    assert start["later"] == 0  # one whole GPU is free meanwhile: it passes the blocked task


def test_cpu_bound_tasks_share_workers_and_small_tasks_backfill():
    tasks = [Task("big1", 10.0, cpus=2), Task("big2", 10.0, cpus=2), Task("small", 3.0, cpus=1)]
    schedule = simulate(tasks, Cluster(cpus=3))
    start = {p.task.name: p.start for p in schedule.placements}

    assert start == {"big1": 0, "big2": pytest.approx(10.0), "small": 0}
    assert schedule.makespan == pytest.approx(20.0)
    assert schedule.work == pytest.approx(43.0)


def test_peak_memory_adds_up_what_runs_at_once():
    gib = 1024 ** 3
    tasks = [Task("a", 5.0, memory=1 * gib), Task("b", 2.0, memory=2 * gib),
             Task("c", 2.0, memory=4 * gib)]
    # two workers: a and b from 0; c replaces b at 2, so a + c = 5 GiB at most
    assert simulate(tasks, Cluster(cpus=2)).peak_memory() == pytest.approx(5 * gib)
    assert simulate(tasks, Cluster(cpus=1)).peak_memory() == pytest.approx(4 * gib)


def test_a_task_that_can_never_fit_is_refused():
    with pytest.raises(ValueError, match="needs 4 CPUs"):
        simulate([Task("huge", 1.0, cpus=4)], Cluster(cpus=2))


# --- a run on workers ---------------------------------------------------------------------------

def cost(protocol: str, folds: tuple[float, ...], *, setup: float = 1.0, cpus: float = 1,
         gpu: float = 0.25, model: str = "ststnet", seed: int = 0) -> CellCost:
    return CellCost(Cell(protocol, model, "annotated", seed, data=DATA), folds, setup,
                    memory=0.5 * 1024 ** 3, source=FROM_STEPS, cpus=cpus, gpu=gpu)


def test_one_worker_is_the_local_executor_running_cells_in_series():
    costs = [cost("a", (10.0, 20.0)), cost("b", (5.0,) * 4)]
    row = simulate_run(costs, workers=1, unit="fold", read_s=2.0)

    assert row.executor == "local" and row.unit == "fold"
    assert row.wall_s == pytest.approx(LOCAL.start_s + 2.0 + 31.0 + 21.0 + LOCAL.end_s)
    assert len(row.critical_path) == 2  # the local executor runs cells, folds inside


def test_folds_as_tasks_beat_cells_on_many_workers():
    costs = [cost("big", (10.0,) * 20), cost("small", (10.0,) * 2)]
    by_cell = simulate_run(costs, workers=64, unit="cell")
    by_fold = simulate_run(costs, workers=64, unit="fold")

    overhead = RAY.start_s + RAY.end_s
    assert by_cell.wall_s == pytest.approx(overhead + 1.0 + 200.0 + RAY.per_task_s)
    assert by_cell.critical_path == ("big/ststnet/annotated/seed0",)
    assert by_fold.wall_s == pytest.approx(overhead + 1.0 + 10.0 + RAY.per_task_s)
    assert by_fold.critical_path[-1].endswith("fold 0")


def test_chunks_cut_cells_as_the_ray_executor_does():
    # on 4 workers 2 cells are cut into ceil(4 x 4 / 2) = 8 chunks each where the folds allow:
    # the 20-fold cell into chunks of 3 or 2 folds, the 2-fold cell into single folds
    costs = [cost("big", (10.0,) * 20), cost("small", (10.0,) * 2)]
    row = simulate_run(costs, workers=4)

    assert row.unit == "chunk" and row.tasks == 8 + 2
    by_cell = simulate_run(costs, workers=4, unit="cell")
    assert row.wall_s < by_cell.wall_s
    # 220 s of folds, 10 setups and per-task costs on 4 workers: no worse than one chunk over
    # an even share
    even = (220.0 + 10 * (1.0 + RAY.per_task_s)) / 4
    assert row.wall_s - RAY.start_s - RAY.end_s <= even + 30.0 + 1.0 + RAY.per_task_s


def test_the_critical_path_is_named_in_a_few_words():
    costs = [cost("big", (10.0,) * 6), cost("small", (1.0,))]

    assert describe_path(simulate_run(costs, workers=1)) == (
        "all 2 tasks in series; longest big/ststnet/annotated/seed0 (1m 01s)")
    assert describe_path(simulate_run(costs, workers=8, unit="cell")) == (
        "big/ststnet/annotated/seed0 (1m 02s)")
    # two workers take three big folds each, then the small cell's fold runs last
    assert describe_path(simulate_run(costs, workers=2, unit="fold")).startswith(
        "4 tasks in series ending small/ststnet/annotated/seed0 fold 0; longest big/")


def test_gpu_shares_apply_only_where_the_plan_has_gpus():
    costs = [cost(f"p{i}", (10.0,), setup=0.0, gpu=0.5) for i in range(4)]
    assert simulate_run(costs, workers=4, gpus=0).wall_s == pytest.approx(
        RAY.start_s + RAY.end_s + 10.0 + RAY.per_task_s)
    assert simulate_run(costs, workers=4, gpus=1).wall_s == pytest.approx(
        RAY.start_s + RAY.end_s + 2 * (10.0 + RAY.per_task_s))


def test_a_model_needing_more_than_the_plan_gives_is_a_one_line_error():
    htnet = [cost("p", (1.0,), cpus=3, gpu=1, model="htnet")]
    assert simulate_run(htnet, workers=1).executor == "local"  # one job at a time, any size
    with pytest.raises(ConfigError, match="htnet reserves 3 CPUs a job") as error:
        simulate_run(htnet, workers=2)
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="htnet reserves 2 GPUs a job"):
        simulate_run([cost("p", (1.0,), cpus=1, gpu=2, model="htnet")], workers=4, gpus=1)


# --- costs ----------------------------------------------------------------------------------------

def write_record(results: Path, cell: Cell, *, wall: float, folds: list[float] | None,
                 device: str | None = None, budget: dict | None = None, n_folds: int = 3) -> None:
    """A record's JSON as the store writes it, with the fields the planner reads; ``folds`` and
    ``device`` as records made after folds were timed carry them."""
    record = {"schema_version": 2, "cell": cell.to_dict(), "config": {
        "budget": budget or STSTNET_BUDGET}, "n_folds": n_folds, "wall_time_s": wall}
    if folds is not None:
        record["fold_wall_s"] = folds
    if device is not None:
        record["device"] = device
    path = ResultStore(results).path_of(cell) / "record.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))


SHAPE = CellShape(n_train=(100, 200, 100), n_test=(20, 10, 20), classes=3)


def test_fold_costs_are_the_median_of_records_per_fold(tmp_path):
    for seed, folds in enumerate(([1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [9.0, 3.0, 4.0])):
        write_record(tmp_path, Cell("p", "ststnet", "annotated", seed, data=DATA),
                     wall=sum(folds) + 2.0 + seed, folds=folds, device="cpu" if seed else None)
    target = Cell("p", "ststnet", "annotated", 7, data=DATA)

    folds, setup, source = costs_from_records(read_timings(tmp_path), target, SHAPE, "cpu")

    assert folds == (2.0, 3.0, 4.0)
    assert setup == pytest.approx(3.0)  # wall time minus folds: 2, 3, 4 s
    assert source == FROM_RECORDS


def test_records_without_fold_times_spread_their_wall_time_by_training_set_size(tmp_path):
    write_record(tmp_path, Cell("p", "ststnet", "gamdss", 0, data=DATA), wall=40.0, folds=None)

    folds, setup, source = costs_from_records(read_timings(tmp_path),
                                              Cell("p", "ststnet", "annotated", 1, data=DATA),
                                              SHAPE, "cpu")

    assert folds == pytest.approx((10.0, 20.0, 10.0))
    assert setup == 0.0  # inside the spread wall time
    assert source == FROM_SPREAD_RECORDS


@pytest.mark.parametrize("other", [
    {"data": "twin-scale1-seed0"}, {"protocol": "q"}, {"model": "offapexnet"},
    {"selection": "oracle"}, {"device": "cuda:0"}, {"budget": {**STSTNET_BUDGET, "epochs": 5}},
])
def test_records_of_another_model_protocol_data_selection_device_or_budget_are_not_used(
        tmp_path, other):
    device, budget = other.pop("device", "cpu"), other.pop("budget", None)
    cell = {"protocol": "p", "model": "ststnet", "keyframes": "annotated", "seed": 0,
            "data": DATA, **other}
    write_record(tmp_path, Cell.from_dict(cell), wall=9.0, folds=[1.0, 2.0, 3.0], device=device,
                 budget=budget)

    target = Cell("p", "ststnet", "annotated", 0, data=DATA)
    assert costs_from_records(read_timings(tmp_path), target, SHAPE, "cpu") is None


def test_unreadable_records_give_no_cost_and_stop_nothing(tmp_path):
    write_record(tmp_path, Cell("p", "ststnet", "annotated", 0, data=DATA), wall=9.0,
                 folds=[1.0, 2.0, 3.0])
    broken = ResultStore(tmp_path).path_of(Cell("p", "ststnet", "annotated", 1, data=DATA))
    broken.mkdir(parents=True)
    (broken / "record.json").write_text("{not json")

    assert [t.cell.seed for t in read_timings(tmp_path)] == [0]


def timing(step_s: float = 0.01, small_step_s: float = 0.006) -> StepTiming:
    return StepTiming(model="ststnet", device="cpu", threads=1, batch_size=32,
                      timed_batches=(16, 32), timed_step_s=(small_step_s, step_s),
                      predict_s_per_sample=0.001, peak_rss=500 * 1024 ** 2)


def test_a_fold_from_timed_steps_is_epochs_times_its_batches_plus_prediction():
    t = timing()
    assert t.step_at(16) == pytest.approx(0.006) and t.step_at(8) == pytest.approx(0.004)
    # 100 samples: 3 batches of 32 and one of 4 (0.003 s) an epoch; 20 test samples
    assert t.fold_seconds(epochs=10, n_train=100, n_test=20) == pytest.approx(
        10 * (3 * 0.01 + 0.003) + 20 * 0.001)
    # a last batch of one is skipped, as training does; oracle selection predicts every epoch
    assert t.fold_seconds(epochs=10, n_train=97, n_test=20, predict_every_epoch=True) == \
        pytest.approx(10 * 3 * 0.01 + 10 * 20 * 0.001)


def test_gpu_size_models_on_a_cpu_are_timed_at_small_batches_and_extrapolated():
    from mer_bench.planner.steps import timed_batches

    assert timed_batches("ststnet", "cpu") == (16, 32)
    assert timed_batches("gamdss-drt", "cuda") == (8, 16)
    assert timed_batches("gamdss-drt", "cpu") == (2, 4)  # a step at 16 takes minutes there
    big = StepTiming(model="gamdss-drt", device="cpu", threads=2, batch_size=16,
                     timed_batches=(2, 4), timed_step_s=(3.0, 5.0), predict_s_per_sample=0.5,
                     peak_rss=0)
    assert big.extrapolated and big.step_s == pytest.approx(17.0)  # 3 s + 1 s a sample from 2


def test_cells_without_records_are_priced_from_timed_steps_and_setups_timed_once(tmp_path):
    write_record(tmp_path, Cell("p", "ststnet", "annotated", 0, data=DATA), wall=10.0,
                 folds=[1.0, 2.0, 3.0])
    cells = [Cell("p", "ststnet", kf, seed, data=DATA)
             for kf in ("annotated", "gamdss") for seed in (0, 1)]
    setups_timed = []

    def setup_time(cell):
        setups_timed.append(cell.keyframes)
        return 0.5

    costs = cell_costs(cells, {"p": SHAPE}, read_timings(tmp_path), device_of=lambda c: "cpu",
                       step_timing=lambda model, classes, device: timing(),
                       setup_time=setup_time)

    assert [c.source for c in costs] == [FROM_RECORDS] * 4  # any seed and strategy's records
    assert [c.setup_s for c in costs] == [4.0, 4.0, 0.5, 0.5]  # gamdss has none of its own
    assert setups_timed == ["gamdss"]
    inputs = 3 * 28 * 28 * 4  # ststnet: a 3-channel 28x28 float32 input per sample
    assert costs[0].memory == 500 * 1024 ** 2 + 6 * 50 * inputs

    fresh = cell_costs(cells[:1], {"p": SHAPE}, [], device_of=lambda c: "cpu",
                       step_timing=lambda model, classes, device: timing(),
                       setup_time=lambda cell: 0.5)
    assert fresh[0].source == FROM_STEPS
    assert fresh[0].folds == pytest.approx(
        tuple(timing().fold_seconds(epochs=60, n_train=n, n_test=m)
              for n, m in zip(SHAPE.n_train, SHAPE.n_test)))


def test_timed_steps_in_a_fresh_process_report_time_and_memory():
    from mer_bench.planner.steps import measure_steps

    t = measure_steps("ststnet", num_classes=3)

    assert t.batch_size == 32 and t.timed_batches == (16, 32) and t.threads == 1
    assert 0 < t.timed_step_s[0] and 0 < t.step_s < 5 and not t.extrapolated
    assert 100 * 1024 ** 2 < t.peak_rss < 8 * 1024 ** 3


# --- the command ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--suite", "quick", "--workers", "0"], "--workers"),
    (["--suite", "quick", "--workers", "2", "--workers", "-3"], "--workers"),
    (["--suite", "quick", "--gpus", "-1"], "--gpus"),
    (["--suite", "nope"], "nope"),
    (["--suite", "quick", "--unit", "job"], "--unit"),
    ([], "nothing to run"),
    (["--all", "--suite", "quick"], "either --all or --suite"),
    (["--protocol", "casme2-5class", "--model", "nosuchnet"], "nosuchnet"),
])
def test_bad_plan_input_is_one_line_and_status_2(cli, args, fragment):
    status, out, err = cli("plan", *args)

    assert status == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1, err
    assert out == ""


def test_bad_workers_through_the_api_are_one_line_errors():
    from mer_bench import api

    for kwargs, fragment in (({"workers": [0]}, "--workers 0"), ({"gpus": -1}, "--gpus -1"),
                             ({"units": ["job"]}, "--unit job")):
        with pytest.raises(ConfigError, match=fragment):
            api.estimate(suite="quick", **kwargs)


def test_plan_prints_one_line_per_worker_count_and_unit(cli, tiny_twin_root, tmp_path,
                                                        monkeypatch):
    measured = []

    def fake_steps(model, *, num_classes, device="cpu", copies=1):
        measured.append((model, device, copies))
        return timing(step_s=0.01 * copies)  # two copies at once: each twice as slow

    monkeypatch.setattr("mer_bench.planner.measure_steps", fake_steps)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    status, out, err = cli("plan", "--protocol", "casme2-5class", "--keyframes", "annotated",
                           "--seed", "0", "--data-root", tiny_twin_root, "--workers", "1",
                           "--workers", "2", "--workers", "200", "--unit", "chunk", "--unit",
                           "cell", "--unit", "fold", "--results", tmp_path)

    assert status == 0, err
    lines = out.splitlines()
    rows = [line.split() for line in lines[2:11]]
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (workers, executor, unit) for workers, executor in
        (("1", "local"), ("2", "ray"), ("200", "ray")) for unit in ("chunk", "cell", "fold")]
    assert "casme2-5class/ststnet/annotated/seed0 fold" in lines[10]  # 200 workers: one fold
    assert "casme2-5class/ststnet/annotated/seed0 fold" in lines[8]  # chunks of one fold too
    assert "1 cells" in out and "from timed steps" in out and "2.00x the time a step" in out
    assert measured == [("ststnet", "cpu", 1), ("ststnet", "cpu", 2)]
    assert not (tmp_path / "records").exists()  # nothing ran


def test_planning_gpus_without_one_here_says_cpu_times_stand_in(cli, tiny_twin_root, tmp_path,
                                                                 monkeypatch):
    measured = []

    def fake_steps(model, *, num_classes, device="cpu", copies=1):
        measured.append((device, copies))
        return timing()

    monkeypatch.setattr("mer_bench.planner.measure_steps", fake_steps)
    monkeypatch.setattr("mer_bench.planner._cuda_available", lambda: False)
    status, out, err = cli("plan", "--protocol", "casme2-5class", "--keyframes", "annotated",
                           "--seed", "0", "--data-root", tiny_twin_root, "--workers", "4",
                           "--gpus", "1", "--unit", "fold", "--results", tmp_path)

    assert status == 0, err
    assert "CPU times stand in for GPU times" in out
    assert measured == [("cpu", 1)]  # timed on the CPU; no side-by-side slowdown on a GPU
    assert out.splitlines()[2].split()[:4] == ["4", "1", "ray", "fold"]


def test_the_api_estimate_reads_fold_times_from_records(tiny_twin_root, tmp_path, monkeypatch):
    from rich.console import Console

    from mer_bench import api
    from mer_bench.datasource import DataSource
    from mer_bench.store import data_key

    monkeypatch.setattr("mer_bench.planner.measure_steps",
                        lambda model, **kwargs: timing(step_s=0.01 * kwargs.get("copies", 1)))
    data = data_key(DataSource(tiny_twin_root))
    estimate = api.estimate(["casme2-5class"], keyframes=["annotated"], seeds=[0],
                            data_root=tiny_twin_root, results=tmp_path, workers=[1],
                            units=["cell"], console=Console(quiet=True))
    folds = estimate.costs[0].folds
    write_record(tmp_path, Cell("casme2-5class", "ststnet", "gamdss", 3, data=data),
                 wall=sum(folds) + 100.0, folds=[10.0] * len(folds), device="cpu",
                 n_folds=len(folds))

    again = api.estimate(["casme2-5class"], keyframes=["annotated"], seeds=[0],
                         data_root=tiny_twin_root, results=tmp_path, workers=[1, 2],
                         units=["cell"], console=Console(quiet=True))

    assert again.costs[0].source == FROM_RECORDS
    assert again.costs[0].folds == (10.0,) * len(folds)
    table = again.table()
    assert list(table["workers"]) == [1, 2]
    # a single cell: 2 workers cannot beat 1 at cell level, and records are not slowed down
    assert table["wall_s"][1] - RAY.start_s - RAY.end_s - RAY.per_task_s == pytest.approx(
        table["wall_s"][0] - LOCAL.start_s - LOCAL.end_s)
