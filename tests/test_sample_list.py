"""Sample lists: both MEGC2019 list files as published, the contract, and the lists of twins."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer_bench.data.sample import Excluded, KeyFrames, Sample
from mer_bench.data.sample_list import (MEGC_ANSWER_FILE, MEGC_LIST, MEGC_PARTS, clip_key,
                                        read_sample_list, select_listed, twin_selection,
                                        write_sample_list)
from mer_bench.datasource import (list_base, protocol_data, protocol_samples,
                                  resolve_data_source)
from mer_bench.errors import DataError
from mer_bench.protocols import get_protocol
from mer_bench.synth.casme2 import casme2_twin_spec, plan_casme2_twin
from reader_checks import assert_one_line

COMPOSITE = ("casme2", "smic-hs", "samm")


def sample(dataset: str, subject: str, clip: str) -> Sample:
    return Sample(dataset, subject, clip, (Path("1.jpg"),), (1,), 100.0, KeyFrames(1, 1, 1), "x")


# Samples as the readers name them: SMIC subject 's01' with the release's clip folder 's1_ne_01',
# SAMM subject '006'.
SAMPLES = [sample("casme2", "sub01", "EP02_01f"), sample("casme2", "sub01", "EP02_02f"),
           sample("smic-hs", "s01", "s1_ne_01"), sample("smic-hs", "s03", "s3_po_05"),
           sample("samm", "006", "006_1_2"), sample("samm", "032", "032_3_1")]

# The official answer file as published: SMIC named s01 / s01_ne_01, an empty ',,,' line after
# every entry, SAMM 032_3_1 absent (Facial-Micro-ExpressionGC/MEGC2019 combined_3class_gt-2.csv).
ANSWER_FILE = "casme2,sub01,EP02_01f,0\n,,,\nsmic,s01,s01_ne_01,0\n,,,\nsmic,s03,s03_po_05,1\n,,,\n" \
              "samm,6,006_1_2,2\n,,,\n"


def test_the_answer_file_as_published_matches_the_release_folder_names(tmp_path):
    path = tmp_path / MEGC_ANSWER_FILE
    path.write_text(ANSWER_FILE)
    listed = read_sample_list(path)
    assert [entry.row for entry in listed.entries] == [1, 3, 5, 7]  # the ',,,' lines pass
    kept = select_listed(SAMPLES, listed, COMPOSITE)
    assert [s.sample_id for s in kept.samples] == [
        "casme2/sub01/EP02_01f", "smic-hs/s01/s1_ne_01", "smic-hs/s03/s3_po_05", "samm/006/006_1_2"]
    assert len(listed.sha256) == 64 and not kept.dropped


def test_names_compare_as_the_releases_and_challenge_files_write_them():
    assert clip_key("s01_ne_01") == clip_key("s1_ne_01") == clip_key("S1_NE_1")
    assert clip_key("EP02_01f") == clip_key("ep2_1F")
    assert clip_key("006_1_2") != clip_key("006_1_20")


def test_an_entry_that_matches_no_clip_is_an_error_naming_it(tmp_path):
    path = tmp_path / MEGC_LIST
    path.write_text("casme2,sub01,EP02_01f,0\nsmic,s01,s01_ne_09,0\n")
    with pytest.raises(DataError) as error:
        select_listed(SAMPLES, read_sample_list(path), COMPOSITE)
    assert_one_line(error, f"{MEGC_LIST} row 2", "smic s01 s01_ne_09", "matches no clip")


def test_entries_of_datasets_outside_the_protocol_are_not_its_business(tmp_path):
    path = tmp_path / MEGC_LIST
    path.write_text("casme2,sub01,EP02_01f,0\nsmic,s01,s01_ne_09,0\n")
    kept = select_listed(SAMPLES, read_sample_list(path), ("casme2",))
    assert [s.clip for s in kept.samples] == ["EP02_01f"]


def test_an_entry_matching_two_clips_or_repeated_is_an_error(tmp_path):
    path = tmp_path / MEGC_LIST
    path.write_text("smic,s01,s01_ne_01,0\n")
    twice = [*SAMPLES, sample("smic-hs", "s01", "s01_ne_01")]  # a copy renamed with padding
    with pytest.raises(DataError) as error:
        select_listed(twice, read_sample_list(path), COMPOSITE)
    assert_one_line(error, "row 1", "matches 2 clips", "smic-hs/s01/s1_ne_01")
    path.write_text("samm,6,006_1_2,2\nsamm,006,006_1_2,2\n")
    with pytest.raises(DataError) as error:
        select_listed(SAMPLES, read_sample_list(path), COMPOSITE)
    assert_one_line(error, "row 2", "repeats row 1")


def test_an_entry_naming_an_excluded_clip_is_dropped_and_said_so(tmp_path):
    path = tmp_path / MEGC_LIST
    path.write_text("samm,6,006_1_2,2\nsamm,32,032_3_1,0\n")
    excluded = [Excluded("SAMM.xlsx: row 40: Onset Frame 9 is after Offset Frame 2; fix the two "
                         "cells", "samm/032/032_3_1")]
    kept = select_listed([s for s in SAMPLES if s.clip != "032_3_1"], read_sample_list(path),
                         COMPOSITE, excluded)
    assert [s.clip for s in kept.samples] == ["006_1_2"]
    (line,) = kept.dropped
    assert "row 2" in line and "excluded on loading" in line and "row 40" in line


def test_a_malformed_row_names_the_file_and_row(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("casme2,sub01,EP02_01f,0\nmystery,1,x,0\n")
    with pytest.raises(DataError, match=r"gt.csv row 2: expected 'dataset, subject, filename"):
        read_sample_list(path)


def test_the_two_versions_are_written_as_published(tmp_path):
    rows = [("casme2", "sub01", "EP02_01f", "negative"), ("smic-hs", "s01", "s1_ne_01", "negative"),
            ("samm", "006", "006_1_2", "surprise"), ("samm", "032", "032_3_1", "negative"),
            ("samm", "033", "033_1_1", "negative")]
    write_sample_list(tmp_path / MEGC_LIST, rows)
    write_sample_list(tmp_path / MEGC_ANSWER_FILE, rows)
    assert (tmp_path / MEGC_LIST).read_text().splitlines() == [
        "casme2,sub01,EP02_01f,0", "smic,s01,s01_ne_01,0", "samm,6,006_1_2,2",
        "samm,32,032_3_1,0", "samm,33,033_1_1,0"]
    assert (tmp_path / MEGC_ANSWER_FILE).read_text().splitlines() == [
        "casme2,sub01,EP02_01f,0", ",,,", "smic,s01,s01_ne_01,0", ",,,", "samm,6,006_1_2,2", ",,,",
        "samm,33,033_1_1,0", ",,,"]
    # without a 032_3_1, the answer file leaves out the last SAMM negative
    write_sample_list(tmp_path / MEGC_ANSWER_FILE, rows[:3] + rows[4:2:-1])
    assert "samm,32,032_3_1,0" not in (tmp_path / MEGC_ANSWER_FILE).read_text()


def test_full_scale_casme2_twin_list_has_the_published_megc_part():
    mapping = {"disgust": "negative", "repression": "negative", "happiness": "positive",
               "surprise": "surprise"}
    plans = plan_casme2_twin(casme2_twin_spec(1.0), seed=0)
    rows = [("casme2", f"sub{p.subject:02d}", p.clip, mapping[p.emotion]) for p in plans
            if p.emotion in mapping]
    chosen = twin_selection(rows)
    counts, subjects = MEGC_PARTS["casme2"]
    assert Counter(row[3] for row in chosen) == counts
    assert len({row[1] for row in chosen}) == subjects


def test_real_data_without_the_list_is_one_clear_error(tiny_twin_root):
    protocol = get_protocol("casme2-3class-megc")
    with pytest.raises(DataError) as error:
        protocol_samples(protocol, resolve_data_source(tiny_twin_root))
    assert_one_line(error, "MEGC2019/combined_3class_gt.csv", MEGC_LIST, MEGC_ANSWER_FILE)


def test_either_list_file_serves_and_the_first_present_is_used(twin_copy):
    protocol = get_protocol("casme2-3class-megc")
    source = resolve_data_source(None, twin_scale=0.15)
    twin_lists = list_base(protocol, source) / "MEGC2019"
    protocol_samples(protocol, source)  # writes the twin's lists
    (twin_copy / "MEGC2019").mkdir()
    answer = (twin_lists / MEGC_ANSWER_FILE).read_text()
    assert ",,," in answer and "smic" not in answer  # a CASME II protocol lists CASME II only
    (twin_copy / "MEGC2019" / MEGC_ANSWER_FILE).write_text(answer)
    real = resolve_data_source(twin_copy)
    used = protocol_data(protocol, real).sample_list
    assert used.spec.file.endswith(MEGC_ANSWER_FILE) and len(used.sha256) == 64
    (twin_copy / "MEGC2019" / MEGC_LIST).write_text((twin_lists / MEGC_LIST).read_text())
    assert protocol_data(protocol, real).sample_list.spec.file.endswith(MEGC_LIST)


def test_twins_get_both_lists_and_the_protocol_keeps_only_listed_clips():
    protocol = get_protocol("casme2-3class-megc")
    source = resolve_data_source(None, twin_scale=0.15)
    data = protocol_data(protocol, source)
    assert data.samples and all(protocol.label_of(s) is not None for s in data.samples)
    for name in (MEGC_LIST, MEGC_ANSWER_FILE):
        assert (list_base(protocol, source) / "MEGC2019" / name).is_file()
    assert data.sample_list.entries == len(data.samples)
