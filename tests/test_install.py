"""Installs that work anywhere: a wheel built from this checkout, installed outside it, has its
protocols and plugins, lists them and plans a run; and the example plugin package
(tests/plugin_example) installed beside it adds a model, a keyframe strategy, a dataset and its
protocol through entry points alone.

Offline and fast: no build isolation, no dependencies fetched (the test's own environment
provides them); the wheel is installed into a folder placed first on PYTHONPATH, and the test
checks that its code, not the checkout's, is what runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).parent / "plugin_example"
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "mer_bench", "baselines", "gamdss")


def pip(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--no-deps", "--no-index",
                           "--no-build-isolation", "--quiet"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A folder holding the installed wheels of this checkout and of the example plugin (import
    path and console script). Built from copies: a build writes into its source tree."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    plugin = work / "plugin"
    shutil.copytree(PLUGIN, plugin, ignore=shutil.ignore_patterns("__pycache__"))
    dist, target = work / "dist", work / "site"
    pip("wheel", str(source), str(plugin), "--wheel-dir", str(dist), cwd=work)
    assert len(list(dist.glob("*.whl"))) == 2
    pip("install", *map(str, dist.glob("*.whl")), "--target", str(target), cwd=work)
    return target


def environment(*paths: Path, cache: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("MER_BENCH_PROTOCOLS", "MER_BENCH_DATA", "PYTHONPATH")}
    env.update(PYTHONPATH=os.pathsep.join(map(str, paths)), MER_BENCH_CACHE=str(cache),
               COLUMNS="200")
    return env


def mer_bench(site: Path, env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(site / "bin" / "mer-bench"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_wheel_ships_its_protocols_and_plans_a_run(installed: Path, tmp_path: Path) -> None:
    env = environment(installed, cache=tmp_path / "cache")
    where = subprocess.run(
        [sys.executable, "-c", "import mer_bench, baselines; from mer_bench.protocols import "
         "protocols_dir; print(mer_bench.__file__, baselines.__file__, protocols_dir())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert all(Path(path).is_relative_to(installed) for path in where.stdout.split()), where.stdout

    listed = mer_bench(installed, env, "protocols", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("casme2-5class") for line in listed.stdout.splitlines())
    assert any(line.startswith("megc2019-3class") for line in listed.stdout.splitlines())

    results = tmp_path / "results"
    planned = mer_bench(installed, env, "run", "--protocol", "casme2-5class", "--dry-run",
                        "--results", str(results), cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "2 jobs on synthetic twins at scale 0.15" in planned.stdout
    assert not results.exists()


def test_the_wheel_ships_the_web_pages_templates_and_assets(installed: Path) -> None:
    report = installed / "mer_bench" / "report"
    shipped = {path.relative_to(report).as_posix() for path in report.glob("site_*/*")}
    expected = {path.relative_to(REPO / "mer_bench" / "report").as_posix()
                for path in (REPO / "mer_bench" / "report").glob("site_*/*") if path.suffix in (".j2", ".css", ".js")}
    assert expected and shipped == expected


def write_toyme(folder: Path) -> None:
    """Two subjects with two clips each, in the plugin dataset's layout (frames are not decoded
    by a dry run, so any bytes do)."""
    rows = ["subject,clip,onset,apex,offset,emotion"]
    for subject in ("s1", "s2"):
        for clip, emotion in (("c1", "happiness"), ("c2", "disgust")):
            rows.append(f"{subject},{clip},1,2,3,{emotion}")
            frames = folder / subject / clip
            frames.mkdir(parents=True)
            for number in (1, 2, 3):
                (frames / f"{number}.jpg").write_bytes(b"not decoded")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


def test_a_plugin_package_adds_a_model_a_strategy_a_dataset_and_a_protocol(
        installed: Path, tmp_path: Path) -> None:
    env = environment(installed, cache=tmp_path / "cache")

    models = mer_bench(installed, env, "models", "tiny*", cwd=tmp_path)
    assert models.returncode == 0, models.stderr
    assert "tinynet" in models.stdout

    protocols = mer_bench(installed, env, "protocols", cwd=tmp_path)
    assert protocols.returncode == 0, protocols.stderr
    (line,) = [line for line in protocols.stdout.splitlines() if line.startswith("toyme-2class")]
    assert "toyme" in line

    data = tmp_path / "data"
    write_toyme(data / "TOYME")
    planned = mer_bench(installed, env, "run", "--protocol", "toyme-2class", "--model", "tinynet",
                        "--keyframes", "middle[offset=1]", "--data-root", str(data), "--dry-run",
                        "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    (row,) = [line for line in planned.stdout.splitlines() if line.startswith("toyme-2class")]
    assert row.split()[:3] == ["toyme-2class", "tinynet", "middle[offset=1]"]
