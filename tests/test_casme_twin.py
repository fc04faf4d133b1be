"""The CASME (I) twin: read by the real reader, true to its spec and to the protocols' counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_bench.data.casme import CASME, TWIN_VERSION, read_casme
from mer_bench.data.errata import apply_errata
from mer_bench.protocols import load_protocol_file
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.casme import (
    CODING_FILE,
    casme_twin_spec,
    plan_casme_twin,
    write_casme_twin,
)
from mer_bench.synth.truth import TRUTH_FILE, load_truth

SCALE = 0.1
PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "casme.yaml"


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_casme_twin(tmp_path_factory.mktemp("data") / "CASME", scale=SCALE, seed=0)


def test_full_scale_spec_reproduces_every_protocol_count_exactly() -> None:
    spec = casme_twin_spec(1.0)
    assert spec.n_samples == 189 and spec.n_subjects == 19 and spec.fps == 60.0
    protocols = load_protocol_file(PROTOCOLS)
    assert {p.id for p in protocols} == {"casme-4class", "casme-all"}
    for protocol in protocols:
        mapped: Counter[str] = Counter()
        for label, count in spec.class_counts.items():
            if label in protocol.class_map:
                mapped[protocol.class_map[label]] += count
        assert dict(mapped) == dict(protocol.expected.counts), protocol.id
        assert spec.n_subjects == protocol.expected.subjects
        assert protocol.expected.assumed  # no CASME counts are published in our sources


def test_small_scale_keeps_every_class_and_the_single_contempt_clip() -> None:
    small = casme_twin_spec(0.01)
    assert small.n_subjects == 4
    assert small.class_counts["contempt"] == 1
    assert casme_twin_spec(1.0).class_counts["contempt"] == 1
    assert set(small.class_counts) == set(casme_twin_spec(1.0).class_counts)


def test_full_scale_plans_folder_is_the_annotated_extent_around_the_truth() -> None:
    plans = plan_casme_twin(1.0, seed=0)
    assert len(plans) == 189 and len({p.subject for p in plans}) == 19
    exact = 0
    for p in plans:
        first, last = p.first_frame, p.first_frame + p.n_frames - 1
        assert first <= p.truth.onset < p.truth.apex < p.truth.offset <= last
        assert first <= p.annotated.onset < p.annotated.apex < p.annotated.offset <= last
        exact += (first, last) == (p.annotated.onset, p.annotated.offset)
    assert exact >= 0.6 * len(plans)  # mostly the folder is exactly OnsetF..OffsetF
    seconds = np.median([p.n_frames / 60.0 for p in plans])
    assert 0.25 <= seconds <= 0.45, seconds


def test_real_reader_reads_the_twin_with_spec_counts_and_no_errata(twin_dir: Path) -> None:
    samples = read_casme(twin_dir).samples
    spec = casme_twin_spec(SCALE)
    assert Counter(s.emotion for s in samples) == Counter(dict(spec.class_counts))
    assert len({s.subject for s in samples}) == spec.n_subjects
    assert all(s.frame_numbers == tuple(range(s.frame_numbers[0], s.frame_numbers[-1] + 1))
               for s in samples)
    fixed, applied = apply_errata(samples, CASME.errata)
    assert applied == []
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["generator_version"] == TWIN_VERSION
    assert manifest["counts"]["samples"] == len(samples)
    assert manifest["counts"]["frames"] == sum(len(s.frame_paths) for s in samples)
    AnnotatorModel(**manifest["annotator"])  # what the GAMDSS study reads back


def test_twin_writes_the_release_header_and_cells(twin_dir: Path) -> None:
    table = pd.read_excel(twin_dir / CODING_FILE, dtype=object)
    assert list(table.columns) == ["Subject", "Filename", "Unnamed: 2", "OnsetF", "ApexF1",
                                   "ApexF2", "OffsetF", "Unnamed: 7", "Onset", "Total", "AU",
                                   "Emotion"]
    assert table["Filename"].str.fullmatch(r"EP\d\d_\d{1,2}").all()
    assert table["Subject"].map(type).eq(int).all()
    apex2 = table["ApexF2"]
    assert (apex2 == "\\").any() and apex2.map(lambda v: isinstance(v, int)).any()
    numeric = table[apex2 != "\\"]
    assert (numeric["ApexF2"] >= numeric["ApexF1"]).all()
    assert (numeric["ApexF2"] <= numeric["OffsetF"]).all()
    total_ms = (table["OffsetF"] - table["OnsetF"] + 1) * 1000 / 60
    assert np.allclose(table["Total"].astype(float), total_ms.astype(float))
    sample = read_casme(twin_dir).samples[0]
    assert sample.frame_paths[0].name == f"reg_{sample.clip}-{sample.frame_numbers[0]}.jpg"
    assert sample.frame_paths[0].parent.parent.parent.name == "Cropped"


def test_truth_sidecar_matches_samples_and_annotator_biases(twin_dir: Path) -> None:
    samples = read_casme(twin_dir).samples
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in samples}
    for s in samples:
        true = truth[s.sample_id]
        assert s.frame_numbers[0] <= true.onset < true.apex < true.offset <= s.frame_numbers[-1]
    onset_error = np.mean([s.annotated.onset - truth[s.sample_id].onset for s in samples])
    apex_error = np.mean([s.annotated.apex - truth[s.sample_id].apex for s in samples])
    assert onset_error < -0.4 and apex_error > 0.4


def test_same_seed_same_bytes_other_seed_other_twin(tmp_path: Path, twin_dir: Path) -> None:
    again = write_casme_twin(tmp_path / "a" / "CASME", scale=SCALE, seed=0)
    other = write_casme_twin(tmp_path / "b" / "CASME", scale=SCALE, seed=1)
    for name in (CODING_FILE, TRUTH_FILE):
        assert (again / name).read_bytes() == (twin_dir / name).read_bytes()
        assert (other / name).read_bytes() != (twin_dir / name).read_bytes()
    first, repeat = read_casme(twin_dir).samples[0], read_casme(again).samples[0]
    assert [p.read_bytes() for p in first.frame_paths] == [
        p.read_bytes() for p in repeat.frame_paths]
