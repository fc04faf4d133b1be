"""Every usage error is one line on stderr, exit status 2, no traceback, for every command.

The table runs in-process through `mer_bench.cli.main` (what the console script calls); a handful
of rows also go through the installed ``mer-bench`` script, where a vendored copy of click once
let usage errors escape as tracebacks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# (arguments, what the one line must say); "{tmp}" is replaced by a fresh temporary folder,
# "{file}" by a file in it, "{empty}" by an empty folder in it.
BAD_INVOCATIONS = [
    # values that do not parse, or are out of range: checked at the boundary
    (["run", "--seed", "x"], "Invalid value for '--seed'"),
    (["run", "--seed", "-1", "--protocol", "casme2-5class"], "'--seed': Input should be greater"),
    (["run", "--twin-scale", "abc"], "Invalid value for '--twin-scale'"),
    (["run", "--protocol", "casme2-5class", "--twin-scale", "0"], "give a fraction in (0, 1]"),
    (["run", "--protocol", "casme2-5class", "--twin-scale", "2"], "give a fraction in (0, 1]"),
    (["run", "--protocol", "casme2-5class", "--twin-seed", "-3"], "'--twin-seed'"),
    (["run", "--protocol", "casme2-5class", "--selection", "best"],
     "'best' is not one of 'fixed-epochs', 'oracle'"),
    (["run", "--protocol", "casme2-5class", "--max-failures", "-1"], "'--max-failures'"),
    (["run", "--protocol", "casme2-5class", "--num-cpus", "0"], "'--num-cpus'"),
    (["run", "--protocol", "casme2-5class", "--workers", "0"], "'--workers'"),
    (["run", "--protocol", "casme2-5class", "--device", "gpu"], "--device gpu: use one of auto"),
    (["run", "--protocol", "casme2-5class", "--device", "cpu:1"], "--device cpu:1: use one of"),
    (["run", "--protocol", "casme2-5class", "--executor", "ray", "--gpu-share", "2"],
     "--gpu-share 2: give a fraction of one GPU in (0, 1]"),
    (["run", "--protocol", "casme2-5class", "--executor", "ray", "--device", "cuda:1"],
     "restrict them with CUDA_VISIBLE_DEVICES=1"),
    (["tune", "--protocol", "casme2-5class", "--model", "ststnet", "--trials", "1",
      "--device", "tpu"], "--device tpu: use one of"),
    (["visualize", "tsne", "--protocol", "casme2-5class", "--model", "ststnet",
      "--workers", "2"], "--workers only apply to --executor ray"),
    (["compare", "--resamples", "0"], "Invalid value for '--resamples'"),
    (["tune", "--protocol", "casme2-5class", "--model", "ststnet", "--trials", "0"], "'--trials'"),
    (["tune", "--protocol", "casme2-5class", "--model", "ststnet", "--trials", "1",
      "--inner-folds", "1"], "'--inner-folds'"),
    (["tune", "--protocol", "casme2-5class", "--model", "ststnet", "--trials", "1",
      "--executor", "dask"], "--executor dask: unknown executor 'dask'"),
    (["visualize", "tsne", "--protocol", "casme2-5class", "--model", "ststnet",
      "--perplexity", "0"], "'--perplexity'"),
    (["synth", "casme2", "--out", "{tmp}", "--twin-scale", "1.5"], "give a fraction in (0, 1]"),
    (["protocols", "--check", "--twin-scale", "0"], "give a fraction in (0, 1]"),
    # options and commands that do not exist, or lack their value
    (["run", "--nosuch"], "No such option: --nosuch"),
    (["run", "--protocol"], "Option '--protocol' requires an argument"),
    (["nosuchcmd"], "No such command 'nosuchcmd'"),
    (["rn"], "Did you mean 'run'?"),
    (["tune"], "Missing option '--protocol'"),
    (["visualize", "tsne"], "Missing option '--protocol'"),
    (["reselect"], "Missing option '--protocol'"),
    (["synth", "--scale", "0.5"], "No such option: --scale"),
    # names and name[options]: the registry's one line, brackets never eaten as markup
    (["run", "--protocol", "nosuch-5class"], "unknown protocol 'nosuch-5class'"),
    (["run", "--protocol", "casme2-5class", "--model", "ststnett"], "did you mean ststnet"),
    (["run", "--protocol", "casme2-5class", "--keyframes", "gamdss[distanse=flow]"],
     "'gamdss[distanse=flow]': unknown option 'distanse' (did you mean distance?)"),
    (["run", "--protocol", "casme2-5class", "--keyframes", "gamdss[window_fraction=abc]"],
     "window_fraction=abc is not a number"),
    (["run", "--protocol", "casme2-5class", "--keyframes", "gamdss[window_fraction=0.9]"],
     "out of range"),
    (["run", "--protocol", "casme2-5class", "--keyframes", "gamdss[distance]"],
     "option 'distance' is not key=value"),
    (["run", "--protocol", "casme2-5class", "--keyframes", "annotated[x=1]"],
     "unknown option 'x'"),
    (["run", "--protocol", "casme2-5class", "--model", "ststnet[epoch=3]"],
     "unknown option 'epoch' (did you mean epochs?); ststnet takes: amp, batch_size, epochs"),
    (["run", "--protocol", "casme2-5class", "--model", "ststnet[epochs=0]"], "give at least 1"),
    (["run", "--suite", "nosuch"], "unknown suite 'nosuch'"),
    (["run", "--protocol", "casme2-5class", "--executor", "rayy"], "did you mean ray?"),
    (["tune", "--protocol", "casme2-5class", "--model", "ststnet", "--trials", "1",
      "--keyframes", "gamdss[bogus=1]"], "unknown option 'bogus'"),
    (["visualize", "tsne", "--protocol", "casme2-5class", "--model", "nosuchnet"],
     "unknown model 'nosuchnet'"),
    (["reselect", "--protocol", "casme2-5class", "--keyframes", "gamdss["],
     "write NAME or NAME[key=value,...]"),
    (["reselect", "--protocol", "casme2-5class", "--keyframes", "annotated"],
     "does not report reselections"),
    (["reselection-study", "--keyframes", "nosuch"], "unknown keyframe strategy 'nosuch'"),
    (["synth", "nosuch", "--out", "{tmp}"], "unknown dataset 'nosuch'"),
    (["models", "nosuch*"], "no model matches 'nosuch*'"),
    # options that do not fit together
    (["run"], "nothing to run: give a suite"),
    (["run", "--all", "--suite", "quick"], "give either --all or --suite"),
    (["run", "--protocol", "casme2-5class", "--address", "auto"],
     "--address only apply to --executor ray"),
    (["compare"], "give exactly one of"),
    (["compare", "--keyframes", "annotated"], "compare takes two strategies, got 1"),
    (["compare", "--keyframes", "gamdss", "--keyframes", "gamdss[distance=pixel]",
      "--results", "{empty}"], "both sides are the same"),
    (["synth"], "give a dataset name or --all"),
    # files and folders: checked before anything is read or written
    (["synth", "smic-hs", "--out", "{file}"], "is a file; give a folder"),
    (["run", "--protocol", "casme2-5class", "--dry-run", "--results", "/proc/mer-bench"],
     "results folder /proc/mer-bench is not writable"),
    (["run", "--protocol", "casme2-5class", "--dry-run", "--results", "{file}/results"],
     "is not writable"),
    (["run", "--all", "--dry-run", "--data-root", "{empty}"],
     "nothing to run: none of the"),
    (["run", "--protocol", "casme2-5class", "--data-root", "{tmp}/nowhere"], "does not exist"),
    (["run", "--protocol", "casme2-5class", "--dry-run", "--executor", "ray",
      "--address", "127.0.0.1:1"], "cannot reach a Ray cluster at --address 127.0.0.1:1"),
    (["doctor", "--data-root", "{file}"], "is a file, not a folder"),
    (["leaderboard", "--results", "{empty}"], "no result records"),
    (["compare", "--with-reselection", "--results", "{empty}"], "no result records"),
]


def expand(args: list[str], tmp: Path) -> list[str]:
    file, empty = tmp / "a-file", tmp / "empty"
    if not file.exists():
        file.write_text("not a folder")
        empty.mkdir()
    return [arg.format(tmp=tmp, file=file, empty=empty) for arg in args]


def assert_one_line(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    assert needle in lines[0], err


@pytest.mark.parametrize("args, needle", BAD_INVOCATIONS, ids=[" ".join(a) for a, _ in BAD_INVOCATIONS])
def test_bad_invocation_is_one_line_with_status_2(args, needle, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --results folder is ./results
    code, _, err = cli(*expand(args, tmp_path))
    assert_one_line(code, err, needle)


def console_script() -> Path:
    script = Path(sys.executable).with_name("mer-bench")
    assert script.is_file(), f"no console script beside {sys.executable}; install mer-bench"
    return script


# rows that once printed click's tracebacks through the installed script, and a few more
THROUGH_THE_SCRIPT = [row for row in BAD_INVOCATIONS if row[0][:2] in (
    ["run", "--seed"], ["run", "--twin-scale"], ["run", "--nosuch"], ["nosuchcmd"], ["tune"],
    ["compare", "--resamples"], ["synth", "smic-hs"])]


def test_the_installed_console_script_prints_the_same_lines(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "COLUMNS": "200"}
    assert len(THROUGH_THE_SCRIPT) >= 8
    for args, needle in THROUGH_THE_SCRIPT:
        done = subprocess.run([str(console_script()), *expand(args, tmp_path)], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert_one_line(done.returncode, done.stderr, needle)


def test_a_bare_command_group_prints_its_help_and_status_2(cli):
    code, out, _ = cli("visualize")
    assert code == 2 and "tsne" in out and "Usage:" in out


def test_every_command_has_an_example_in_its_help(cli):
    from mer_bench.cli import app

    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert "suites" in names
    for name in [*names, "visualize tsne"]:
        code, out, _ = cli(*name.replace("_", "-").split(), "--help")
        assert code == 0 and "Examples:" in out and f"mer-bench {name}" in out, name


def test_an_os_error_is_one_line_naming_the_path(cli, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if str(self).startswith(str(locked)):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, _, err = cli("synth", "casme2", "--out", locked / "twins", "--twin-scale", "0.05")
    assert_one_line(code, err, f"{locked}")
    assert "Permission denied" in err


def test_ctrl_c_in_any_command_says_aborted_with_status_130(cli, monkeypatch):
    """typer turns KeyboardInterrupt into a returned status 130 before main sees it; the line
    saying so must still be printed, without a traceback."""
    import mer_bench.suites

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(mer_bench.suites, "suite_registry", interrupted)
    code, _, err = cli("suites")
    assert code == 130 and err.strip().splitlines()[-1] == "aborted" and "Traceback" not in err
