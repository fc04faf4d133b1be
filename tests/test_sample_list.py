"""Sample lists: the MEGC2019 ground-truth file, and the list written for twins."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.sample_list import (MEGC_PARTS, keep_listed, read_sample_list, twin_selection,
                                        write_sample_list)
from mer_bench.datasource import protocol_samples, resolve_data_source
from mer_bench.errors import DataError
from mer_bench.protocols import get_protocol
from mer_bench.synth.casme2 import casme2_twin_spec, plan_casme2_twin


def sample(dataset: str, subject: str, clip: str) -> Sample:
    return Sample(dataset, subject, clip, (Path("1.jpg"),), (1,), 100.0, KeyFrames(1, 1, 1), "x")


def test_the_megc_file_format_is_read_with_each_datasets_subject_spelling(tmp_path):
    path = tmp_path / "combined_3class_gt.csv"
    path.write_text("casme2,sub01,EP02_01f,0\nsmic,s03,s3_po_05,1\nsamm,6,006_1_2,2\n\n")
    listed = read_sample_list(path)
    assert listed == {("casme2", 1, "EP02_01f"), ("smic-hs", 3, "s3_po_05"), ("samm", 6, "006_1_2")}
    samples = [sample("casme2", "sub01", "EP02_01f"), sample("casme2", "sub01", "EP02_02f"),
               sample("smic-hs", "s3", "s3_po_05"), sample("samm", "006", "006_1_2")]
    assert [s.clip for s in keep_listed(samples, listed)] == ["EP02_01f", "s3_po_05", "006_1_2"]


def test_a_malformed_row_names_the_file_and_row(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("casme2,sub01,EP02_01f,0\nmystery,1,x,0\n")
    with pytest.raises(DataError, match=r"gt.csv row 2: expected 'dataset, subject, filename"):
        read_sample_list(path)


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


def test_written_list_round_trips(tmp_path):
    rows = [("casme2", "sub01", "EP02_01f", "negative"), ("smic-hs", "s1", "s1_po_01", "positive")]
    write_sample_list(tmp_path / "MEGC2019" / "gt.csv", rows)
    assert read_sample_list(tmp_path / "MEGC2019" / "gt.csv") == {
        ("casme2", 1, "EP02_01f"), ("smic-hs", 1, "s1_po_01")}


def test_real_data_without_the_list_is_one_clear_error(tiny_twin_root):
    protocol = get_protocol("casme2-3class-megc")
    with pytest.raises(DataError, match="combined_3class_gt.csv"):
        protocol_samples(protocol, resolve_data_source(tiny_twin_root))


def test_twins_get_a_list_and_the_protocol_keeps_only_listed_clips():
    protocol = get_protocol("casme2-3class-megc")
    source = resolve_data_source(None, twin_scale=0.15)
    listed = protocol_samples(protocol, source)
    assert (source.twin_root() / "sample-lists" / "casme2-3class-megc.csv").is_file()
    assert listed and all(protocol.label_of(s) is not None for s in listed)
