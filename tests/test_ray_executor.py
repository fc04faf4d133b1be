"""The ray executor: same records as the local one (whole runs, and one cell spread fold by fold
over the workers), GPU packing, kill-and-resume (between cells and in the middle of one), a real
multi-node cluster, and its bad inputs. One embedded Ray is shared by the session
(``ray_session``)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from mer_bench.datasource import resolve_data_source
from mer_bench.execute.job import Job
from mer_bench.execute.local import LocalExecutor
from mer_bench.store import Cell, ResultStore, data_key

pytestmark = pytest.mark.ray
pytest.importorskip("ray")

PROTOCOL = "casme2-5class"
CELLS = [(keyframes, seed) for seed in (0, 1) for keyframes in ("annotated", "gamdss")]


def cells_on(root: Path, pairs=CELLS) -> list[Cell]:
    """The cells of ``pairs`` (keyframes, seed) on the data root ``root``."""
    data = data_key(resolve_data_source(root))
    return [Cell(PROTOCOL, "ststnet", keyframes, seed, data=data) for keyframes, seed in pairs]
CLI = [sys.executable, "-c", "from mer_bench.cli import main; main()"]


class InFlight:
    """A RunProgress that records how many jobs ran at once, and the folds trained."""

    def __init__(self) -> None:
        self.running: set[Cell] = set()
        self.most = 0
        self.finished: list[Cell] = []
        self.folds_trained = 0

    def job_started(self, job: Job, folds: int | None = None) -> None:
        self.running.add(job.cell)
        self.most = max(self.most, len(self.running))

    def fold_done(self, job: Job, done: int, total: int) -> None:
        self.folds_trained += 1

    def job_done(self, job: Job, result) -> None:
        self.running.discard(job.cell)
        self.finished.append(job.cell)


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.fixture(scope="module")
def local_records(tiny_twin_root, tmp_path_factory):
    """The reference: CELLS run by the local executor."""
    store = ResultStore(tmp_path_factory.mktemp("local"))
    source = resolve_data_source(tiny_twin_root, 1.0, 0)
    records = LocalExecutor(device="cpu").run(
        [Job(cell, source) for cell in cells_on(tiny_twin_root)], store, InFlight())
    return {record.cell: record for record in records}


def assert_same_numbers(records, reference) -> None:
    for record in records:
        expected = reference[record.cell]
        assert record.metrics == expected.metrics, record.cell.cell_id
        assert record.predictions.equals(expected.predictions), record.cell.cell_id
        assert record.keyframes_used.equals(expected.keyframes_used), record.cell.cell_id
        assert record.curves == expected.curves, record.cell.cell_id
        assert record.config_hash == expected.config_hash
        assert len(record.fold_wall_s) == record.n_folds and record.device == "cpu"


def run_ray(cells, root, results, **options):
    from mer_bench.execute.ray_tune import RayExecutor

    progress = InFlight()
    source = resolve_data_source(root, 1.0, 0)
    options.setdefault("device", "cpu")  # the reference trained on the CPU too
    records = RayExecutor(**options).run([Job(c, source) for c in cells], ResultStore(results),
                                         progress)
    return records, progress


def test_ray_and_local_executors_store_identical_records(ray_session, tiny_twin_root, tmp_path,
                                                         local_records):
    cells = cells_on(tiny_twin_root)
    records, progress = run_ray(cells, tiny_twin_root, tmp_path)

    assert [r.cell for r in records] == cells
    assert sorted(progress.finished, key=str) == sorted(cells, key=str)
    assert_same_numbers(ResultStore(tmp_path).load_all(), local_records)


def test_one_cell_spread_fold_by_fold_over_the_workers_matches_local(
        ray_session, tiny_twin_root, tmp_path, local_records, monkeypatch):
    from mer_bench.execute import ray_tune

    made = []

    def spy(tasks, workers):
        chunks = real_split(tasks, workers)
        made.append(chunks)
        return chunks

    real_split = ray_tune.split_tasks
    monkeypatch.setattr(ray_tune, "split_tasks", spy)
    (cell,) = cells_on(tiny_twin_root, [("gamdss", 1)])
    records, progress = run_ray([cell], tiny_twin_root, tmp_path)

    (chunks,) = made  # the session's 4 CPUs: each of the 4 folds its own trial
    assert [chunk.folds for _, chunk in chunks] == [(0,), (1,), (2,), (3,)]
    assert progress.folds_trained == 4 and progress.finished == [cell]
    assert_same_numbers(records, local_records)
    assert not (tmp_path / ".folds").exists()  # the stage went with the record


@pytest.mark.parametrize("share, expected", [(0.5, 2), (1.0, 1)])
def test_jobs_pack_onto_a_declared_gpu_by_their_share(ray_session, tiny_twin_root, tmp_path,
                                                      share, expected, monkeypatch):
    # The session's Ray declares 1 GPU and 4 CPUs; ststnet asks for 1 CPU, so the GPU share is
    # what limits concurrency. No CUDA here: the trials still train, on the CPU. One trial per
    # cell, so that jobs at once are trials at once.
    monkeypatch.setattr("mer_bench.execute.ray_tune.CHUNKS_PER_WORKER", 0)
    assert ray_session.cluster_resources()["GPU"] == 1
    cells = cells_on(tiny_twin_root, [("annotated", seed) for seed in range(3)])
    records, progress = run_ray(cells, tiny_twin_root, tmp_path, gpu_share=share, device="auto")

    assert progress.most == expected
    assert len(records) == 3


def test_without_gpus_a_fold_reserves_cpus_only():
    from mer_bench.execute.ray_tune import concurrency, fold_resources

    assert fold_resources("ststnet", gpus_available=False) == {"cpu": 1.0, "gpu": 0.0}
    assert fold_resources("ststnet", gpus_available=True) == {"cpu": 1.0, "gpu": 0.25}
    assert fold_resources("ststnet", gpus_available=True, gpu_share=0.5)["gpu"] == 0.5
    assert concurrency([{"cpu": 1.0, "gpu": 0.25}], {"CPU": 16, "GPU": 1}) == 4
    assert concurrency([{"cpu": 1.0, "gpu": 0.0}, {"cpu": 2.0, "gpu": 0.0}], {"CPU": 4}) == 2


def run_command(results: Path, root: Path, *extra: str) -> list[str]:
    args = ["run", "--protocol", PROTOCOL, "--model", "ststnet", "--keyframes", "annotated",
            "--keyframes", "gamdss", "--seed", "0", "--seed", "1", "--data-root", str(root),
            "--results", str(results), "--executor", "ray", *extra]
    return [*CLI, *args]


def record_dirs(results: Path) -> list[Path]:
    return sorted(p.parent for p in (results / "records").rglob("record.json"))


def staged_folds(results: Path) -> dict[tuple[str, int], float]:
    """Folds kept by cells without a record yet: (cell folder, fold) -> its training seconds."""
    found = {}
    for path in (results / ".folds").rglob("fold-*.json"):
        run = json.loads(path.read_text())
        cell = path.relative_to(results / ".folds").parents[2].as_posix()
        found[cell, run["index"]] = run["wall_s"]
    return found


def test_a_run_killed_in_the_middle_of_a_cell_resumes_without_repeats_or_losses(
        ray_session, tiny_twin_root, tmp_path, local_records):
    results = tmp_path / "results"
    driver = subprocess.Popen(run_command(results, tiny_twin_root, "--num-cpus", "1",
                                          "--device", "cpu"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    # one worker, one trial per cell: wait for a finished cell and a fold of the next one
    while (driver.poll() is None and time.monotonic() < deadline
           and not (record_dirs(results) and staged_folds(results))):
        time.sleep(0.1)
    assert driver.poll() is None, f"the run ended before it could be killed: {driver.stderr.read()}"
    os.kill(driver.pid, signal.SIGKILL)  # no chance to clean up: the hardest interruption
    driver.wait(timeout=60)
    driver.stderr.close()
    time.sleep(2)  # let the killed run's workers notice their driver is gone
    survivors = {path: (path / "record.json").stat().st_mtime_ns for path in record_dirs(results)}
    kept = staged_folds(results)
    assert 1 <= len(survivors) < len(CELLS) and kept

    ResultStore(results).sweep_unfinished()  # what --resume does first
    records, progress = run_ray(cells_on(tiny_twin_root), tiny_twin_root, results,
                                skip_completed=True)

    folds_left = 4 * (len(CELLS) - len(survivors))  # the tiny twin: 4 subjects, 4 folds a cell
    assert progress.folds_trained == folds_left - len(kept)  # kept folds were not trained again
    by_folder = {ResultStore(results).path_of(r.cell).relative_to(results / "records").as_posix():
                 r for r in records}
    for (cell, index), wall_s in kept.items():  # ... and went into their records as they were
        assert by_folder[cell].fold_wall_s[index] == wall_s
    assert len(record_dirs(results)) == len(CELLS)  # each cell exactly once
    leftovers = [p for p in (results / "records").rglob(".*") if p.name != ".lock"]
    assert not leftovers and not (results / ".folds").exists()
    for path, mtime in survivors.items():  # finished jobs were not run again
        assert (path / "record.json").stat().st_mtime_ns == mtime
    assert_same_numbers(ResultStore(results).load_all(), local_records)


def test_ctrl_c_interrupts_a_ray_run_with_status_130_and_keeps_its_folds(tiny_twin_root, tmp_path):
    """SIGINT (Ctrl+C) mid-run: the run says it was aborted and exits 130, not 'jobs failed' with 1
    (what Tune's own SIGINT handler led to); the folds it finished stay for --resume."""
    results = tmp_path / "results"
    # A shell's background job (`make test &`) ignores SIGINT, and children inherit that: give
    # the run a terminal's Ctrl+C whatever started pytest.
    driver = subprocess.Popen(run_command(results, tiny_twin_root, "--num-cpus", "1",
                                          "--device", "cpu"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while driver.poll() is None and time.monotonic() < deadline and not staged_folds(results):
        time.sleep(0.1)
    assert driver.poll() is None, f"the run ended before it could be interrupted: {driver.stderr.read()}"
    os.kill(driver.pid, signal.SIGINT)
    status = driver.wait(timeout=120)
    message = driver.stderr.read()
    driver.stderr.close()
    assert status == 130, message
    assert message.rstrip().endswith("aborted") and "failed" not in message
    assert staged_folds(results)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_node_cluster(tmp_path):
    """A head and a second node started with `ray start` on loopback, stopped afterwards."""
    ray_cli = Path(sys.executable).with_name("ray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    # `ray start` turns token authentication on by default, while clients default to off; a
    # loopback test cluster does without it.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    common = ["--num-cpus", "1", "--num-gpus", "0", "--block", "--disable-usage-stats"]
    nodes = [subprocess.Popen([str(ray_cli), "start", "--head", "--node-ip-address", "127.0.0.1",
                               "--port", str(port), "--include-dashboard", "false", *common],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for_nodes(address, 1, env)
        nodes.append(subprocess.Popen([str(ray_cli), "start", "--address", address,
                                       "--node-ip-address", "127.0.0.1", *common], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_nodes(address, 2, env)
        yield address, env
    finally:
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)
        for node in reversed(nodes):
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()


def wait_for_nodes(address: str, count: int, env: dict, timeout_s: float = 120) -> None:
    probe = ("import ray; ray.init(address=%r, logging_level='ERROR'); "
             "print(sum(n['Alive'] for n in ray.nodes()))" % address)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, timeout=120)
        if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} never had {count} nodes")


def test_a_multi_node_cluster_joined_by_address_matches_local(two_node_cluster, tiny_twin_root,
                                                              tmp_path, local_records):
    address, env = two_node_cluster  # the driver shares the cluster's settings (no auth tokens)
    results = tmp_path / "results"
    done = subprocess.run(run_command(results, tiny_twin_root, "--address", address, "--device",
                                      "cpu"), env=env,
                          capture_output=True, text=True, timeout=480)

    assert done.returncode == 0, done.stderr[-3000:]
    assert len(record_dirs(results)) == len(CELLS)
    assert_same_numbers(ResultStore(results).load_all(), local_records)


@pytest.mark.parametrize("extra, expected", [
    (["--address", "127.0.0.1:1"], "cannot reach a Ray cluster at --address 127.0.0.1:1"),
    (["--num-gpus", "1"], "--num-gpus 1: this machine has no CUDA GPU"),
    (["--gpu-share", "0"], "--gpu-share 0: give a fraction"),
    (["--gpu-share", "-1"], "--gpu-share -1: give a fraction"),
    (["--gpu-share", "1.5"], "--gpu-share 1.5: give a fraction of one GPU in (0, 1]"),
    (["--device", "cuda"], "--device cuda: torch sees no CUDA GPU on this machine"),
    (["--workers", "0"], "'--workers'"),
])
def test_bad_ray_options_fail_in_one_line(cli, tiny_twin_root, tmp_path, extra, expected,
                                          monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a GPU machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    results = tmp_path / "results"
    code, out, err = cli(*run_command(results, tiny_twin_root, *extra)[len(CLI):])

    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1 or "error:" in err.strip().splitlines()[-1]
    assert not (results / "records").exists()


def test_an_unwritable_storage_path_fails_before_anything_runs(cli, tiny_twin_root, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    results = tmp_path / "results"
    code, _, err = cli(*run_command(results, tiny_twin_root, "--storage",
                                    str(blocker / "ray"))[len(CLI):])

    assert code == 2
    assert f"Ray storage path {blocker / 'ray'} is not writable" in err
    assert not results.exists()


def test_ray_options_need_the_ray_executor(cli, tiny_twin_root, tmp_path):
    args = run_command(tmp_path / "r", tiny_twin_root)[len(CLI):]
    args[args.index("ray")] = "local"
    code, _, err = cli(*args, "--address", "auto")

    assert code == 2
    assert "--address only apply to --executor ray" in err


def test_dry_run_prints_the_matrix_with_resources_and_runs_nothing(cli, tiny_twin_root, tmp_path):
    results = tmp_path / "results"
    code, out, err = cli(*run_command(results, tiny_twin_root, "--dry-run",
                                      "--gpu-share", "0.5")[len(CLI):])

    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith(PROTOCOL)]
    assert len(lines) == len(CELLS)
    assert all(line.split()[5:] == ["1", "0.5", "to", "run"] for line in lines)
    assert "4 jobs" in out
    assert not results.exists()


def test_tsne_folds_spread_over_ray_give_the_local_features(ray_session, tiny_twin_root, tmp_path):
    import numpy as np

    from mer_bench.execute.ray_tune import RayExecutor
    from mer_bench.report.tsne import tsne_features

    source = resolve_data_source(tiny_twin_root)
    model = "ststnet[epochs=2]"
    local = tsne_features(PROTOCOL, model, "annotated", 0, source,
                          executor=LocalExecutor(device="cpu"))
    spread = tsne_features(PROTOCOL, model, "annotated", 0, source,
                           executor=RayExecutor(device="cpu"), work=tmp_path)
    assert np.array_equal(local[0], spread[0])
    assert local[1].equals(spread[1])
    assert not (tmp_path / ".folds").exists()
