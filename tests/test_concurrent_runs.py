"""Two `mer-bench run` processes writing one results folder at once lose no record and leave the
leaderboard whole: record writes and publishing hold the folder's lock."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from mer_bench.report.publish import publish
from mer_bench.store import ResultStore

REPO = Path(__file__).resolve().parents[1]
# one epoch per fold: the test is about who writes what, not about the numbers
MODEL = "ststnet[epochs=1]"


def start_run(data_root: Path, results: Path, *seeds: int) -> subprocess.Popen:
    args = ["run", "--protocol", "casme2-5class", "--model", MODEL, "--keyframes", "annotated",
            "--data-root", str(data_root), "--results", str(results),
            *(arg for seed in seeds for arg in ("--seed", str(seed)))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", "from mer_bench.cli import main; main()", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_runs_into_one_folder_keep_every_record_and_a_whole_leaderboard(tiny_twin_root,
                                                                               tmp_path):
    results = tmp_path / "results"
    # seed 1 is in both runs: the same cell written twice at nearly the same time
    runs = [start_run(tiny_twin_root, results, 0, 1), start_run(tiny_twin_root, results, 1, 2)]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]

    store = ResultStore(results)
    records = store.load_all()
    assert sorted(r.cell.seed for r in records) == [0, 1, 2]
    assert not [p for p in store.records_dir.rglob(".*") if p.name != ".lock"], "leftovers"
    row = next(line for line in (results / "leaderboard.csv").read_text().splitlines()
               if ",casme2-5class," in line and MODEL in line)
    assert ",0 1 2," in row, row

    # the pages the last run published are those all the records give
    fresh = tmp_path / "fresh"
    shutil.copytree(store.records_dir, fresh / "records")
    publish(ResultStore(fresh).load_all(), fresh, records_dir=fresh / "records")
    for page in ("LEADERBOARD.md", "leaderboard.csv", "leaderboards/casme2.md"):
        assert filecmp.cmp(results / page, fresh / page, shallow=False), page


def test_a_writer_waits_for_the_lock_that_publishing_holds(tmp_path):
    store = ResultStore(tmp_path)
    entered = []

    def write_under_lock():
        with store.lock():
            entered.append(time.monotonic())

    with store.lock():
        writer = threading.Thread(target=write_under_lock)
        writer.start()
        time.sleep(0.3)
        assert not entered, "a second holder got the lock while the first held it"
        released = time.monotonic()
    writer.join(timeout=10)
    assert entered and entered[0] >= released
