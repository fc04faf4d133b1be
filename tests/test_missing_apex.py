"""One apex per sample: the dataset's fill rule, decided once, used by every strategy and side."""

from __future__ import annotations

import os
from pathlib import Path

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from gamdss_clips import grey_clip

import mer_bench.missing_apex as missing_apex
from gamdss.reselect import ApexSearchStrategy, GamdssLegacyStrategy, GamdssStrategy, GamdssSymmetricStrategy
from mer_bench.data.casme2 import CASME2
from mer_bench.data.errata import COMMON_RULES, OFFSET_FIRST_RULES, apply_errata
from mer_bench.data.sample import KeyFrames
from mer_bench.data.spec import DATASETS
from mer_bench.datasource import DataSource
from mer_bench.errors import DataError
from mer_bench.execute.job import Job, _keyframes_table, job_config
from mer_bench.frame_distance import PixelDistance
from mer_bench.keyframes import AnnotatedKeyframes, keyframes_for
from mer_bench.missing_apex import (apex_fill_counts, dataset_rule, fill_apex, fill_rule, find_apex,
                                    forget_found_apexes, midpoint_apex, with_apex)
from mer_bench.models import MODELS
from mer_bench.protocols import LabelledSample, get_protocol
from mer_bench.store import Cell, data_key

FIRST = 101


def peaked_values(length: int, peak: int) -> dict[int, int]:
    """0 at both ends, 100 at ``peak``, linear in between: d(o, t) + d(t, f) peaks at ``peak``."""
    up = {p: round(100 * p / peak) for p in range(peak + 1)}
    down = {p: round(100 * (length - 1 - p) / (length - 1 - peak)) for p in range(peak + 1, length)}
    return up | down


@pytest.fixture()
def smic_clip(tmp_path: Path):
    """A SMIC-HS clip with no apex (as SMIC codes none) whose movement peaks at position 15."""
    return grey_clip(tmp_path / "smic", peaked_values(21, 15), 21,
                     KeyFrames(FIRST, None, FIRST + 20), first=FIRST, dataset="smic-hs")


@pytest.fixture(autouse=True)
def fresh_memo():
    forget_found_apexes()
    yield
    forget_found_apexes()


# --- the rule of each dataset ---------------------------------------------------------------------

def test_smic_finds_its_apexes_and_every_dataset_that_codes_apexes_takes_the_midpoint() -> None:
    rules = {name: dataset_rule(name) for name in DATASETS.names()}
    finders = {name for name, rule in rules.items() if rule == "apex-finder"}
    assert finders == {"smic-hs", "smic-vis", "smic-nir"}
    assert {rules[n] for n in ("casme2", "samm", "casme", "casme3", "casme-sq", "mmew", "4dme")} == {
        "midpoint"}
    assert dataset_rule("not-a-registered-dataset") == "midpoint"


def test_the_midpoint_is_the_clip_frame_nearest_the_middle(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "c", {}, 11, KeyFrames(FIRST, None, FIRST + 10), first=FIRST, fill=9)
    assert midpoint_apex(sample, FIRST, FIRST + 10) == FIRST + 5
    assert midpoint_apex(sample, FIRST, FIRST + 9) == FIRST + 4  # (onset + offset) // 2
    gapped = grey_clip(tmp_path / "g", {}, 11, KeyFrames(FIRST, None, FIRST + 10), first=FIRST, fill=9)
    numbers = tuple(n for n in gapped.frame_numbers if n != FIRST + 5)
    paths = tuple(p for p, n in zip(gapped.frame_paths, gapped.frame_numbers) if n != FIRST + 5)
    gapped = replace(gapped, frame_numbers=numbers, frame_paths=paths)
    assert midpoint_apex(gapped, FIRST, FIRST + 10) == FIRST + 4  # two equally near: the earlier


def test_the_apex_finder_takes_the_frame_farthest_from_both_ends(smic_clip) -> None:
    assert fill_apex(smic_clip) == missing_apex.FilledApex(FIRST + 15, "apex-finder")


def test_apex_finder_ties_go_to_the_middle_and_a_short_span_to_the_midpoint(tmp_path: Path) -> None:
    frames = {p: np.full((2, 2, 3), v, np.uint8) for p, v in enumerate([0, 50, 50, 50, 50, 0])}
    assert find_apex(PixelDistance(frames), 0, 5) == 2  # middle 2.5: 2 and 3 tie, the earlier
    with pytest.raises(ValueError, match="strictly between"):
        find_apex(PixelDistance(frames), 0, 1)
    short = grey_clip(tmp_path / "short", {}, 2, KeyFrames(FIRST, None, FIRST + 1), first=FIRST,
                      fill=5, dataset="smic-hs")
    assert fill_rule(short) == "midpoint" and fill_apex(short).apex == FIRST


def test_an_annotated_apex_is_never_replaced(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "c", peaked_values(21, 15), 21, KeyFrames(FIRST, FIRST + 3, FIRST + 20),
                       first=FIRST, dataset="smic-hs")
    assert fill_rule(sample) is None
    assert with_apex(sample) == sample.annotated


def test_errata_leave_a_missing_apex_missing() -> None:
    assert "missing-apex-midpoint" not in {rule.name for rules in (COMMON_RULES, OFFSET_FIRST_RULES)
                                           for rule in rules}
    for name in DATASETS.names():
        assert "missing-apex-midpoint" not in {rule.name for rule in DATASETS.get(name).errata}


def test_a_casme2_slash_apex_is_filled_with_the_midpoint_after_errata(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "c", {}, 21, KeyFrames(FIRST, None, FIRST + 20), first=FIRST,
                       fill=9, dataset="casme2")
    (fixed,), _ = apply_errata([sample], CASME2.errata)
    assert fixed.annotated.apex is None
    assert fill_apex(fixed) == missing_apex.FilledApex(FIRST + 10, "midpoint")


# --- decided once -----------------------------------------------------------------------------------

def counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = missing_apex.read_frames

    def counting(paths):
        calls.append(len(paths))
        return real(paths)

    monkeypatch.setattr(missing_apex, "read_frames", counting)
    return calls


def test_the_finder_decodes_once_per_process_and_not_again_in_a_later_run(
        smic_clip, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_decodes(monkeypatch)
    for _ in range(3):
        assert fill_apex(smic_clip).apex == FIRST + 15
    assert calls == [21]  # onset..offset decoded once
    forget_found_apexes()  # a new process: only the disk cache is left
    assert fill_apex(smic_clip).apex == FIRST + 15
    assert calls == [21]


def test_a_changed_frame_file_is_searched_again(smic_clip, monkeypatch: pytest.MonkeyPatch) -> None:
    fill_apex(smic_clip)
    calls = counting_decodes(monkeypatch)
    forget_found_apexes()
    path = smic_clip.frame_paths[3]
    status = os.stat(path)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    assert fill_apex(smic_clip).apex == FIRST + 15
    assert calls == [21]


def test_unreadable_frames_name_the_file(tmp_path: Path) -> None:
    sample = grey_clip(tmp_path / "broken", {}, 21, KeyFrames(FIRST, None, FIRST + 20), first=FIRST,
                       dataset="smic-hs")
    with pytest.raises(DataError, match=r"img101\.png: frame file cannot be decoded"):
        fill_apex(sample)


def test_fills_are_counted_per_rule_without_decoding(smic_clip, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    casme = grey_clip(tmp_path / "c", {}, 5, KeyFrames(FIRST, None, FIRST + 4), first=FIRST, fill=1,
                      dataset="casme2")
    coded = grey_clip(tmp_path / "d", {}, 5, KeyFrames(FIRST, FIRST + 2, FIRST + 4), first=FIRST,
                      fill=1, dataset="casme2")
    calls = counting_decodes(monkeypatch)
    assert apex_fill_counts([smic_clip, casme, coded]) == {"apex-finder": 1, "midpoint": 1}
    assert calls == []


# --- one apex everywhere -----------------------------------------------------------------------------

ALL = (AnnotatedKeyframes, GamdssStrategy, GamdssLegacyStrategy, GamdssSymmetricStrategy)


@pytest.mark.parametrize("strategy_class", ALL)
def test_every_strategy_and_both_sides_start_from_the_same_apex(smic_clip, strategy_class) -> None:
    strategy = strategy_class()
    # The test side of a train-only strategy: the annotation with the rule's apex.
    assert keyframes_for(strategy, smic_clip, is_test=True).apex == FIRST + 15
    if strategy_class is not AnnotatedKeyframes:
        result = strategy.reselect(smic_clip)
        assert result.start == KeyFrames(FIRST, FIRST + 15, FIRST + 20)
        assert result.apex_filled == "apex-finder"
    else:
        assert strategy.select(smic_clip) == KeyFrames(FIRST, FIRST + 15, FIRST + 20)


def test_apex_search_on_pixels_is_the_fill_rule_itself(smic_clip) -> None:
    assert ApexSearchStrategy().select(smic_clip) == with_apex(smic_clip)


# --- what a record keeps -------------------------------------------------------------------------

def test_the_keyframes_table_keeps_the_apex_as_coded_and_the_rule_that_filled_it(smic_clip, tmp_path):
    coded = grey_clip(tmp_path / "d", {}, 5, KeyFrames(FIRST, FIRST + 1, FIRST + 4), first=FIRST,
                      fill=1, dataset="casme2")
    labelled = [LabelledSample(smic_clip, 0), LabelledSample(coded, 1)]
    used = {s.sample_id: with_apex(s) for s in (smic_clip, coded)}
    table = _keyframes_table(labelled, used, used).set_index("sample_id")
    smic, casme = table.loc[smic_clip.sample_id], table.loc[coded.sample_id]
    assert pd.isna(smic["annotated_apex"]) and smic["apex_filled_by"] == "apex-finder"
    assert smic["train_apex"] == smic["test_apex"] == FIRST + 15
    assert casme["annotated_apex"] == FIRST + 1 and pd.isna(casme["apex_filled_by"])


def test_the_config_names_the_fill_rule_where_it_is_not_the_midpoint() -> None:
    def config(protocol_id: str) -> dict:
        source = DataSource(None, 0.15, 0)
        job = Job(Cell(protocol_id, "ststnet", "annotated", 0, data=data_key(source)), source)
        return job_config(job, get_protocol(protocol_id), MODELS.get("ststnet"), AnnotatedKeyframes())

    assert config("smic-hs-3class")["keyframes"]["missing_apex"] == {"smic-hs": "apex-finder"}
    # Datasets on the midpoint (what the errata filled before) keep the config, and so the hash.
    assert "missing_apex" not in config("casme2-5class")["keyframes"]
