"""The MMEW twin: MMEW's counts and protocols, clips cut at the coded marks, read by the reader."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_bench.data.doctor import diagnose_dataset
from mer_bench.data.errata import apply_errata
from mer_bench.data.mmew import MMEW, read_mmew
from mer_bench.data.sample import KeyFrames
from mer_bench.datasource import DataSource, load_dataset
from mer_bench.protocols import load_protocol_file
from mer_bench.synth.mmew import (
    CLASS_COUNTS,
    CODING_FILE,
    CORE_LABELS,
    N_ERRATA,
    cover_subjects,
    cut_at_coded_marks,
    errata_clips,
    mmew_twin_spec,
    plan_mmew_twin,
)
from mer_bench.synth.plan import ClipPlan
from mer_bench.synth.truth import TRUTH_FILE, load_truth

PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "mmew.yaml"
SMALL_SCALE = 0.1


@pytest.fixture(scope="module")
def full_plans() -> list[ClipPlan]:
    """The scale-1 twin's plans (no pixels)."""
    return plan_mmew_twin(mmew_twin_spec(1.0), seed=0)


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mmew-twin") / "MMEW"
    MMEW.write_twin(out, SMALL_SCALE, 0)
    return out


# --- the spec at scale 1, checked without rendering ------------------------------------------


def test_full_scale_spec_mirrors_mmew() -> None:
    spec = mmew_twin_spec(1.0)
    assert spec.n_subjects == 30 and spec.fps == 90.0 and spec.n_samples == 300
    assert dict(spec.class_counts) == {"surprise": 89, "disgust": 72, "others": 66,
                                       "happiness": 36, "fear": 16, "sadness": 13, "anger": 8}


def test_every_protocol_gets_its_expected_counts_from_the_full_scale_spec() -> None:
    counts = mmew_twin_spec(1.0).class_counts
    protocols = load_protocol_file(PROTOCOLS)
    assert {p.id for p in protocols} == {"mmew-7class", "mmew-6class", "mmew-5class",
                                         "mmew-4class"}
    for protocol in protocols:
        mapped: Counter[str] = Counter()
        for label, count in counts.items():
            target = protocol.class_map.get(label)
            if target is not None:
                mapped[target] += count
        assert dict(mapped) == dict(protocol.expected.counts), protocol.id
        assert set(protocol.classes) == set(protocol.expected.counts), protocol.id


def test_every_protocol_gets_its_expected_subjects_from_the_full_scale_plans(
        full_plans: list[ClipPlan]) -> None:
    for protocol in load_protocol_file(PROTOCOLS):
        subjects = {p.subject for p in full_plans if p.emotion in protocol.class_map}
        assert len(subjects) == protocol.expected.subjects, protocol.id


def test_assumed_flags_mark_the_splits_resting_on_unverified_figures() -> None:
    assumed = {p.id: p.expected.assumed for p in load_protocol_file(PROTOCOLS)}
    assert assumed == {"mmew-7class": True, "mmew-6class": False, "mmew-5class": False,
                       "mmew-4class": True}


def test_full_scale_clips_start_at_the_coded_onset_with_truth_inside(
        full_plans: list[ClipPlan]) -> None:
    assert Counter(p.emotion for p in full_plans) == Counter(CLASS_COUNTS)
    assert {p.annotated.onset for p in full_plans} == {1}
    assert {p.first_frame for p in full_plans} == {1}
    for p in full_plans:
        last = p.n_frames
        assert 1 <= p.truth.onset < p.truth.apex < p.truth.offset <= last
    clean = [p for p in full_plans if p.clip not in set(errata_clips(full_plans))]
    assert all(p.annotated.offset <= p.n_frames for p in clean)
    # HTNet's CSV: ApexFrame median about 14, OffsetFrame - ApexFrame about 24
    assert 12 <= np.median([p.annotated.apex for p in clean]) <= 17
    assert 20 <= np.median([p.annotated.offset - p.annotated.apex for p in clean]) <= 27


def test_full_scale_clip_names_follow_mmew(full_plans: list[ClipPlan]) -> None:
    names = [p.clip for p in full_plans]
    assert len(set(names)) == 300
    assert all(p.clip.startswith(f"S{p.subject:02d}-") for p in full_plans)
    codes = {p.emotion: p.clip.split("-")[1] for p in full_plans}
    assert codes == {"happiness": "01", "surprise": "02", "disgust": "03", "others": "04",
                     "fear": "05", "sadness": "06", "anger": "07"}
    assert [p.clip for p in full_plans if p.subject == 1][0].endswith("-001")


def test_full_scale_plants_sixteen_apexes_outside_onset_offset(full_plans: list[ClipPlan]) -> None:
    planted = [p for p in full_plans if p.clip in set(errata_clips(full_plans))]
    assert len(planted) == N_ERRATA
    assert all(p.annotated.apex > p.annotated.offset for p in planted)
    assert sum(p.annotated.offset > p.n_frames for p in planted) == N_ERRATA // 2


# --- the helpers that shape MMEW's clips ------------------------------------------------------


def plan(subject: int, index: int, emotion: str, truth: KeyFrames = KeyFrames(5, 15, 30),
         annotated: KeyFrames = KeyFrames(3, 17, 32)) -> ClipPlan:
    return ClipPlan(subject=subject, index=index, clip=f"{index:03d}", emotion=emotion,
                    action_units=(), au_weights=(), amplitude_px=1.0, first_frame=1,
                    n_frames=40, truth=truth, annotated=annotated, apex_missing=False)


def test_cover_subjects_swaps_labels_so_each_subject_has_one_and_keeps_counts() -> None:
    plans = [plan(1, 0, "others"), plan(1, 1, "others"), plan(2, 0, "happiness"),
             plan(2, 1, "surprise"), plan(2, 2, "disgust"), plan(3, 0, "fear")]
    covered = cover_subjects(plans, CORE_LABELS)
    assert Counter(p.emotion for p in covered) == Counter(p.emotion for p in plans)
    assert all(any(p.emotion in CORE_LABELS for p in covered if p.subject == s) for s in (1, 2, 3))
    assert [p.emotion for p in covered if p.subject == 3] == ["fear"]  # untouched


def test_cut_at_coded_marks_numbers_from_the_coded_onset() -> None:
    cut = cut_at_coded_marks(plan(1, 0, "happiness", KeyFrames(105, 115, 130),
                                  KeyFrames(103, 117, 128)))
    # coded onset 103 becomes frame 1; the true offset (130) is after the coded one: kept in
    assert cut.annotated == KeyFrames(1, 15, 26)
    assert cut.truth == KeyFrames(3, 13, 28)
    assert (cut.first_frame, cut.n_frames) == (1, 28)


def test_cut_never_starts_after_the_true_onset() -> None:
    cut = cut_at_coded_marks(plan(1, 0, "happiness", KeyFrames(105, 115, 130),
                                  KeyFrames(107, 117, 133)))
    assert cut.annotated == KeyFrames(1, 13, 29) and cut.truth == KeyFrames(1, 11, 26)
    assert cut.n_frames == 29


# --- a small twin, written and read back by the real reader ------------------------------------


def test_real_reader_reads_the_small_twin_with_spec_counts(twin_dir: Path) -> None:
    samples = read_mmew(twin_dir).samples
    spec = mmew_twin_spec(SMALL_SCALE)
    assert Counter(s.emotion for s in samples) == Counter(dict(spec.class_counts))
    assert len({s.subject for s in samples}) == spec.n_subjects
    assert all(s.frame_numbers == tuple(range(1, len(s.frame_numbers) + 1)) for s in samples)
    assert all(s.annotated.onset == 1 for s in samples)
    assert all(s.path_of(1).parent.parent.name == s.emotion for s in samples)
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["dataset"] == "mmew" and manifest["counts"]["samples"] == len(samples)
    assert manifest["counts"]["frames"] == sum(len(s.frame_paths) for s in samples)


def test_twin_writes_the_native_spreadsheet(twin_dir: Path) -> None:
    table = pd.read_excel(twin_dir / CODING_FILE, dtype=object)
    assert list(table.columns) == ["Subject", "Filename", "OnsetFrame", "ApexFrame",
                                   "OffsetFrame", "Action Units", "Estimated Emotion", "remarks"]
    assert table["Filename"].str.fullmatch(r"S\d\d-0[1-7]-\d\d\d").all()
    assert table["Subject"].map(type).eq(int).all()


def test_planted_errata_are_fixed_by_the_rules_and_truth_stays_inside(twin_dir: Path) -> None:
    samples = read_mmew(twin_dir).samples
    planted = json.loads((twin_dir / "twin_manifest.json").read_text())["planted_errata"]
    assert len(planted) == 2  # 16 at scale 0.1, at least one
    fixed, applied = apply_errata(samples, MMEW.errata)
    apex_rules = {"apex-outside-clamped", "apex-far-outside-missing"}
    assert {f.sample_id.rsplit("/", 1)[1] for f in applied if f.rule in apex_rules} == set(planted)
    assert any(f.rule == "offset-past-last-frame" for f in applied)
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in fixed}
    for s in fixed:
        kf, true = s.annotated, truth[s.sample_id]
        assert kf.apex is None or kf.onset <= kf.apex <= kf.offset <= s.frame_numbers[-1]
        assert s.frame_numbers[0] <= true.onset < true.apex < true.offset <= s.frame_numbers[-1]


def test_annotator_marks_the_apex_late(twin_dir: Path) -> None:
    fixed, _ = apply_errata(read_mmew(twin_dir).samples, MMEW.errata)
    truth = load_truth(twin_dir)
    planted = set(json.loads((twin_dir / "twin_manifest.json").read_text())["planted_errata"])
    errors = [s.annotated.apex - truth[s.sample_id].apex for s in fixed if s.clip not in planted]
    assert np.mean(errors) > 0.5


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    MMEW.write_twin(tmp_path / "a" / "MMEW", 0.02, 0)
    MMEW.write_twin(tmp_path / "b" / "MMEW", 0.02, 0)
    MMEW.write_twin(tmp_path / "c" / "MMEW", 0.02, 1)
    a, b, c = (tmp_path / x / "MMEW" for x in "abc")
    for name in (CODING_FILE, TRUTH_FILE):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / TRUTH_FILE).read_bytes() != (c / TRUTH_FILE).read_bytes()
    sample = read_mmew(a).samples[0]
    other = b / sample.path_of(1).relative_to(a)
    assert [p.read_bytes() for p in sample.frame_paths] == [
        (other.parent / p.name).read_bytes() for p in sample.frame_paths]


def test_doctor_reads_the_twin_and_lists_the_planted_fixes(twin_dir: Path) -> None:
    report = diagnose_dataset(MMEW, twin_dir.parent)
    assert report.usable and report.problems == []
    assert report.samples == mmew_twin_spec(SMALL_SCALE).n_samples
    assert {fix.rule for fix in report.fixes} <= {
        "apex-outside-clamped", "apex-far-outside-missing", "offset-past-last-frame"}
    assert "offset-past-last-frame" in {fix.rule for fix in report.fixes}


def test_generated_on_demand_as_the_default_data_source() -> None:
    loaded = load_dataset(MMEW, DataSource(None, 0.02, 0))
    assert len(loaded.samples) == mmew_twin_spec(0.02).n_samples
    assert any(fix.rule.startswith("apex-") for fix in loaded.fixes)
