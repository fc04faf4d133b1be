"""The SAMM twin: read by the real reader, true to the workbook's counts and the protocols."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import mer_bench.synth.samm as twin
from mer_bench.data.sample import KeyFrames
from mer_bench.data.samm import CODING_FILE, read_samm
from mer_bench.errors import DataError
from mer_bench.inputs.face_crop import detect_faces
from mer_bench.protocols import Protocol, load_protocol_file, normalise_label
from mer_bench.synth.truth import TRUTH_FILE, load_truth

SCALE = 0.05
PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "samm.yaml"


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return twin.write_samm_twin(tmp_path_factory.mktemp("data") / "SAMM", scale=SCALE, seed=0)


@pytest.fixture(scope="module")
def full_plans() -> list:
    return twin.plan_samm_twin(1.0, seed=0)


def protocol_counts(protocol: Protocol, raw_counts: dict[str, int]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for label, count in raw_counts.items():
        target = protocol.class_map.get(normalise_label(label))
        if target is not None:
            counts[target] += count
    return dict(counts)


def raw_labels(protocol: Protocol, plans: list, objectives: list[int]) -> list[str]:
    """The label each plan gives the protocol: its emotion, or its objective class."""
    if protocol.id == "samm-objective":
        return [str(k) for k in objectives]
    return [plan.emotion for plan in plans]


def test_full_scale_spec_mirrors_the_coding_workbook() -> None:
    spec = twin.samm_twin_spec(1.0)
    assert spec.n_subjects == 29 and spec.fps == 200.0 and spec.n_samples == 159
    assert dict(spec.class_counts) == {"Anger": 57, "Other": 26, "Happiness": 26, "Surprise": 15,
                                       "Contempt": 12, "Disgust": 9, "Fear": 8, "Sadness": 6}
    assert twin.objective_counts(1.0) == {1: 24, 2: 13, 3: 20, 4: 8, 5: 3, 6: 7, 7: 84}
    assert spec.missing_apex_rows == 3


@pytest.mark.parametrize("protocol", load_protocol_file(PROTOCOLS), ids=lambda p: p.id)
def test_full_scale_spec_gives_every_protocols_published_counts(protocol: Protocol) -> None:
    if protocol.id == "samm-objective":
        raw = {str(k): v for k, v in twin.objective_counts(1.0).items()}
    else:
        raw = dict(twin.samm_twin_spec(1.0).class_counts)
    assert protocol_counts(protocol, raw) == dict(protocol.expected.counts)


@pytest.mark.parametrize("protocol", load_protocol_file(PROTOCOLS), ids=lambda p: p.id)
def test_full_scale_plan_gives_every_protocols_subjects_and_counts(protocol: Protocol,
                                                                   full_plans: list) -> None:
    objectives = twin.assign_objective_classes(full_plans, 1.0, seed=0)
    kept = [(plan.subject, protocol.class_map[normalise_label(label)])
            for plan, label in zip(full_plans, raw_labels(protocol, full_plans, objectives))
            if normalise_label(label) in protocol.class_map]
    assert len({subject for subject, _ in kept}) == protocol.expected.subjects
    assert Counter(target for _, target in kept) == Counter(dict(protocol.expected.counts))


def test_subject_rules_hold_for_other_seeds_and_small_scales() -> None:
    for scale, seed in ((1.0, 1), (1.0, 7), (0.3, 2), (SCALE, 3)):
        plans = twin.plan_samm_twin(scale, seed)
        labels_of: dict[int, set[str]] = {}
        for plan in plans:
            labels_of.setdefault(plan.subject, set()).add(plan.emotion)
        n = twin.samm_twin_spec(scale).n_subjects
        assert len(labels_of) == n
        only_other = [s for s, labels in labels_of.items() if labels == {"Other"}]
        only_dfs = [s for s, labels in labels_of.items() if labels <= twin.ONLY_OUTSIDE_5CLASS]
        assert len(only_other) == 1 and len(only_dfs) == 2
        assert all(labels & twin.LABELS_IN_BOTH_SPLITS for s, labels in labels_of.items()
                   if s not in only_other + only_dfs)


def test_full_scale_timing_mirrors_real_spans(full_plans: list) -> None:
    rise = np.median([p.truth.apex - p.truth.onset for p in full_plans])
    fall = np.median([p.truth.offset - p.truth.apex for p in full_plans])
    assert 27 <= rise <= 37 and 35 <= fall <= 46
    for p in full_plans:
        first, last = p.first_frame, p.first_frame + p.n_frames - 1
        assert first < p.truth.onset < p.truth.apex < p.truth.offset < last


def test_annotator_errs_more_than_casme2_and_most_on_offsets(full_plans: list) -> None:
    marked = [p for p in full_plans if not p.apex_missing and p.clip not in twin.STRAY_APEXES]
    error = {key: np.array([getattr(p.annotated, key) - getattr(p.truth, key) for p in marked])
             for key in ("onset", "apex", "offset")}
    assert error["onset"].mean() < -3 and error["apex"].mean() > 3 and error["offset"].mean() > 3
    assert error["offset"].std() > error["apex"].std() > error["onset"].std() > 1.5


def test_full_scale_plans_carry_the_workbooks_two_stray_apexes(full_plans: list) -> None:
    by_clip = {p.clip: p for p in full_plans}
    far, near = by_clip["032_3_1"], by_clip["028_4_1"]
    assert far.annotated == KeyFrames(4896, 1930, 4970) and far.emotion in twin.NEGATIVE
    assert (near.annotated.apex, near.annotated.offset) == (1143, 1134)
    assert twin.SUBJECT_NUMBERS[far.subject - 1] == 32
    assert twin.SUBJECT_NUMBERS[near.subject - 1] == 28
    for plan in (far, near):
        assert plan.annotated.onset < plan.truth.onset < plan.truth.apex < plan.truth.offset
        assert plan.first_frame + plan.n_frames - 1 == plan.annotated.offset


def test_real_reader_reads_the_twin_with_spec_counts(twin_dir: Path) -> None:
    samples = read_samm(twin_dir).samples
    spec = twin.samm_twin_spec(SCALE)
    assert Counter(s.emotion.lower() for s in samples) == Counter(
        {label.lower(): n for label, n in spec.class_counts.items()})
    assert len({s.subject for s in samples}) == spec.n_subjects
    objectives = Counter(int(s.extra["objective_class"]) for s in samples)
    assert objectives == Counter(twin.objective_counts(SCALE))
    assert sum(s.annotated.apex is None for s in samples) == spec.missing_apex_rows
    assert all(s.frame_numbers == tuple(range(s.frame_numbers[0], s.frame_numbers[-1] + 1))
               for s in samples)
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["counts"]["samples"] == len(samples)
    assert manifest["counts"]["frames"] == sum(len(s.frame_paths) for s in samples)


def test_twin_writes_the_native_workbook_and_frame_layout(twin_dir: Path) -> None:
    cells = pd.read_excel(twin_dir / CODING_FILE, sheet_name="MICRO_ONLY", header=None,
                          dtype=object)
    assert list(cells.iloc[13]) == list(twin.HEADER)  # header on Excel row 14
    data = cells.iloc[14:]
    assert data[0].map(lambda v: isinstance(v, str) and len(v) == 3 and v.isdigit()).all()
    assert data[1].str.fullmatch(r"\d{3}_\d_\d{1,2}").all()
    assert (data[4] == -1).sum() == twin.samm_twin_spec(SCALE).missing_apex_rows
    sample = read_samm(twin_dir).samples[0]
    assert sample.frame_paths[0].parent == twin_dir / "SAMM" / sample.subject / sample.clip
    assert sample.frame_paths[0].name.startswith(f"{sample.subject}_")
    assert cv2.imread(str(sample.frame_paths[0])).shape == (208, 384, 3)


def test_faces_are_found_inside_the_wider_frames(twin_dir: Path) -> None:
    firsts = {s.subject: s.frame_paths[0] for s in read_samm(twin_dir).samples}
    found = [bool(detect_faces(cv2.imread(str(path)))) for path in firsts.values()]
    assert np.mean(found) >= 0.5


def test_truth_sidecar_keys_match_samples_and_lie_inside_clips(twin_dir: Path) -> None:
    samples = read_samm(twin_dir).samples
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in samples}
    for s in samples:
        true = truth[s.sample_id]
        assert s.frame_numbers[0] < true.onset < true.apex < true.offset < s.frame_numbers[-1]


def test_same_seed_gives_identical_workbook_and_truth(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin, "write_frames", lambda *args, **kwargs: 0)  # pixels not needed
    first = twin.write_samm_twin(tmp_path / "a" / "SAMM", scale=SCALE, seed=0)
    again = twin.write_samm_twin(tmp_path / "b" / "SAMM", scale=SCALE, seed=0)
    other = twin.write_samm_twin(tmp_path / "c" / "SAMM", scale=SCALE, seed=1)
    assert (first / CODING_FILE).read_bytes() == (again / CODING_FILE).read_bytes()
    assert (first / TRUTH_FILE).read_bytes() == (again / TRUTH_FILE).read_bytes()
    assert (first / CODING_FILE).read_bytes() != (other / CODING_FILE).read_bytes()


def test_twin_never_overwrites_real_data(tmp_path: Path) -> None:
    real = tmp_path / "SAMM"
    real.mkdir()
    (real / CODING_FILE).write_bytes(b"real data")
    with pytest.raises(DataError) as error:
        twin.write_samm_twin(real, scale=SCALE, seed=0)
    assert str(real) in str(error.value)
    assert (real / CODING_FILE).read_bytes() == b"real data"


def test_scale_outside_zero_to_one_is_refused() -> None:
    for scale in (0.0, 1.5):
        with pytest.raises(ValueError):
            twin.samm_twin_spec(scale)
