"""The 4DME twin: read by the real reader, true to its (assumed) spec and protocols."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import mer_bench.synth.fourdme as twin
from mer_bench.data.fourdme import CATEGORIES, CODING_FILE, read_fourdme
from mer_bench.errors import DataError
from mer_bench.protocols import Protocol, load_protocol_file, normalise_label
from mer_bench.synth.truth import TRUTH_FILE, load_truth

SCALE = 0.05
PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "4dme.yaml"


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return twin.write_fourdme_twin(tmp_path_factory.mktemp("data") / "4DME", scale=SCALE, seed=0)


@pytest.fixture(scope="module")
def full_plans() -> list:
    return twin.plan_fourdme_twin(1.0, seed=0)


def test_full_scale_spec_has_267_samples() -> None:
    spec = twin.fourdme_twin_spec(1.0)
    assert spec.n_samples == 267 and spec.n_subjects == 41 and spec.fps == 60.0
    assert set(spec.class_counts) == set(CATEGORIES)
    assert spec.missing_apex_rows == 0


@pytest.mark.parametrize("protocol", load_protocol_file(PROTOCOLS), ids=lambda p: p.id)
def test_full_scale_spec_gives_every_protocols_expected_counts(protocol: Protocol,
                                                               full_plans: list) -> None:
    assert protocol.expected.assumed  # no 4DME count is published
    counts: Counter[str] = Counter()
    for label, count in twin.fourdme_twin_spec(1.0).class_counts.items():
        target = protocol.class_map.get(normalise_label(label))
        if target is not None:
            counts[target] += count
    assert dict(counts) == dict(protocol.expected.counts)
    subjects = {plan.subject for plan in full_plans
                if normalise_label(plan.emotion) in protocol.class_map}
    assert len(subjects) == protocol.expected.subjects


def test_full_scale_timing_fits_a_60_fps_micro_expression(full_plans: list) -> None:
    rise = np.median([p.truth.apex - p.truth.onset for p in full_plans])
    fall = np.median([p.truth.offset - p.truth.apex for p in full_plans])
    assert 7 <= rise <= 11 and 11 <= fall <= 15
    assert np.median([p.truth.offset - p.truth.onset for p in full_plans]) / 60.0 < 0.5
    for p in full_plans:
        assert p.first_frame < p.truth.onset < p.truth.apex < p.truth.offset < (
            p.first_frame + p.n_frames - 1)


def test_annotator_errs_most_on_offsets(full_plans: list) -> None:
    error = {key: np.array([getattr(p.annotated, key) - getattr(p.truth, key) for p in full_plans])
             for key in ("onset", "apex", "offset")}
    assert error["onset"].mean() < -0.8 and error["apex"].mean() > 0.8
    assert error["offset"].mean() > 1.0
    assert error["offset"].std() > error["apex"].std() > error["onset"].std()


def test_real_reader_reads_the_twin_with_spec_counts(twin_dir: Path) -> None:
    samples = read_fourdme(twin_dir).samples
    spec = twin.fourdme_twin_spec(SCALE)
    assert Counter(s.emotion for s in samples) == Counter(dict(spec.class_counts))
    assert len({s.subject for s in samples}) == spec.n_subjects
    assert all(s.frame_numbers == tuple(range(s.frame_numbers[0], s.frame_numbers[-1] + 1))
               for s in samples)
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["counts"]["samples"] == len(samples)
    assert manifest["counts"]["frames"] == sum(len(s.frame_paths) for s in samples)


def test_twin_writes_the_native_workbook_and_grey_frames(twin_dir: Path) -> None:
    table = pd.read_excel(twin_dir / CODING_FILE, dtype=object)
    assert list(table.columns) == list(twin.HEADER)
    one_hot = table[list(CATEGORIES)].astype(int)
    assert (one_hot.sum(axis=1) == 1).all()
    assert (one_hot.idxmax(axis=1) == table["Emotion"]).all()
    assert table["AUs"].str.fullmatch(r"AU\d+(\(k\))?(\+AU\d+(\(k\))?)*").all()
    sample = read_fourdme(twin_dir).samples[0]
    assert sample.frame_paths[0] == (twin_dir / "gray_micro" / sample.subject / sample.clip
                                     / f"{sample.frame_numbers[0]}.jpg")
    frame = cv2.imread(str(sample.frame_paths[0]), cv2.IMREAD_UNCHANGED)
    assert frame.shape == (192, 256)  # one grey channel, face inside a wider frame


def test_truth_sidecar_keys_match_samples_and_lie_inside_clips(twin_dir: Path) -> None:
    samples = read_fourdme(twin_dir).samples
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in samples}
    for s in samples:
        true = truth[s.sample_id]
        assert s.frame_numbers[0] < true.onset < true.apex < true.offset < s.frame_numbers[-1]


def test_same_seed_gives_identical_workbook_and_truth(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin, "write_frames", lambda *args, **kwargs: 0)  # pixels not needed
    first = twin.write_fourdme_twin(tmp_path / "a" / "4DME", scale=SCALE, seed=0)
    again = twin.write_fourdme_twin(tmp_path / "b" / "4DME", scale=SCALE, seed=0)
    other = twin.write_fourdme_twin(tmp_path / "c" / "4DME", scale=SCALE, seed=1)
    assert (first / CODING_FILE).read_bytes() == (again / CODING_FILE).read_bytes()
    assert (first / TRUTH_FILE).read_bytes() == (again / TRUTH_FILE).read_bytes()
    assert (first / CODING_FILE).read_bytes() != (other / CODING_FILE).read_bytes()


def test_twin_never_overwrites_real_data(tmp_path: Path) -> None:
    real = tmp_path / "4DME"
    real.mkdir()
    (real / CODING_FILE).write_bytes(b"real data")
    with pytest.raises(DataError):
        twin.write_fourdme_twin(real, scale=SCALE, seed=0)
    assert (real / CODING_FILE).read_bytes() == b"real data"
