"""The SMIC twin: three cameras in one folder, read by the real reader, true to its protocols."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from mer_bench.data.smic import SMIC_HS, SMIC_NIR, SMIC_VIS, TWIN_VERSION, read_smic
from mer_bench.datasource import load_dataset, resolve_data_source
from mer_bench.protocols import load_protocol_file
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.smic import (
    CAMERAS,
    HS_SUBJECTS,
    VIS_NIR_SUBJECTS,
    plan_smic_camera,
    smic_twin_spec,
    write_smic_twin,
)
from mer_bench.synth.truth import TRUTH_FILE, load_truth

SCALE = 0.05
PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "smic.yaml"


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_smic_twin(tmp_path_factory.mktemp("data") / "SMIC", scale=SCALE, seed=0)


def test_full_scale_spec_reproduces_every_protocol_count_exactly() -> None:
    for protocol in load_protocol_file(PROTOCOLS):
        camera = protocol.dataset.removeprefix("smic-").upper()
        spec = smic_twin_spec("VIS" if camera == "NIR" else camera, 1.0)
        mapped: Counter[str] = Counter()
        for label, count in spec.class_counts.items():
            if label in protocol.class_map:
                mapped[protocol.class_map[label]] += count
        assert dict(mapped) == dict(protocol.expected.counts), protocol.id
        assert spec.n_subjects == protocol.expected.subjects, protocol.id
    assert {p.id: p.expected.assumed for p in load_protocol_file(PROTOCOLS)} == {
        "smic-hs-3class": False, "smic-vis-3class": True, "smic-nir-3class": True}


def test_full_scale_plans_have_the_real_subjects_clips_and_timing() -> None:
    hs, vis, nir = (plan_smic_camera(camera, 1.0, seed=0) for camera in CAMERAS)
    assert (len(hs), len(vis), len(nir)) == (164, 71, 71)
    assert {p.subject for p in hs} == set(HS_SUBJECTS) and len(HS_SUBJECTS) == 16
    assert {p.subject for p in vis} == set(VIS_NIR_SUBJECTS) and len(VIS_NIR_SUBJECTS) == 8
    assert len({(p.subject, p.clip) for p in hs}) == 164
    assert all(p.clip.startswith(f"s{p.subject}_") for p in hs)
    # NIR recorded the same clips as VIS
    assert [(p.subject, p.clip, p.emotion, p.truth) for p in nir] == [
        (p.subject, p.clip, p.emotion, p.truth) for p in vis]
    for plans, fps in ((hs, 100.0), (vis, 25.0)):
        seconds = np.median([p.n_frames / fps for p in plans])
        assert 0.3 <= seconds <= 0.6, seconds  # micro-expression clips of about half a second


def test_cut_is_the_annotation_and_holds_the_whole_expression() -> None:
    for camera in ("HS", "VIS"):
        for p in plan_smic_camera(camera, 1.0, seed=0):
            first, last = p.first_frame, p.first_frame + p.n_frames - 1
            assert p.annotated.onset == first and p.annotated.offset == last
            assert p.annotated.apex is None and p.apex_missing
            assert first < p.truth.onset < p.truth.apex < p.truth.offset < last


def test_real_reader_reads_every_camera_of_the_twin(twin_dir: Path) -> None:
    truth = load_truth(twin_dir)
    ids: set[str] = set()
    for camera in CAMERAS:
        samples = read_smic(twin_dir, camera).samples
        spec = smic_twin_spec("VIS" if camera == "NIR" else camera, SCALE)
        assert Counter(s.emotion for s in samples) == Counter(dict(spec.class_counts))
        assert len({s.subject for s in samples}) == spec.n_subjects
        for s in samples:
            assert s.frame_numbers == tuple(range(s.frame_numbers[0], s.frame_numbers[-1] + 1))
            assert s.annotated.apex is None
            true = truth[s.sample_id]
            assert s.frame_numbers[0] < true.onset < true.apex < true.offset < s.frame_numbers[-1]
        ids |= {s.sample_id for s in samples}
    assert ids == set(truth)


def test_annotation_error_is_the_cut_margin(twin_dir: Path) -> None:
    truth = load_truth(twin_dir)
    samples = read_smic(twin_dir, "HS").samples
    onset_error = [s.annotated.onset - truth[s.sample_id].onset for s in samples]
    offset_error = [s.annotated.offset - truth[s.sample_id].offset for s in samples]
    assert max(onset_error) < 0 < min(offset_error)
    assert np.mean(offset_error) > 2.5 and np.mean(onset_error) < -2


def test_native_frame_names_and_nir_frames_are_grey(twin_dir: Path) -> None:
    hs, vis, nir = (read_smic(twin_dir, camera).samples[0] for camera in CAMERAS)
    assert all(p.name.startswith("reg_image") and len(p.stem) == len("reg_image") + 6
               for p in hs.frame_paths)
    assert vis.frame_paths[0].name == f"reg_{vis.frame_numbers[0]:05d}.bmp"
    assert cv2.imread(str(vis.frame_paths[0]), cv2.IMREAD_UNCHANGED).ndim == 3
    assert cv2.imread(str(nir.frame_paths[0]), cv2.IMREAD_UNCHANGED).ndim == 2
    assert hs.frame_paths[0].parent.parent.parent.parent.name == f"s{int(hs.subject[1:])}"


def test_manifest_describes_each_camera(twin_dir: Path) -> None:
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["generator_version"] == TWIN_VERSION and manifest["dataset"] == "smic-hs"
    AnnotatorModel(**manifest["annotator"])  # what the GAMDSS study reads back
    for camera in CAMERAS:
        summary = manifest["cameras"][camera]
        samples = read_smic(twin_dir, camera).samples
        assert summary["samples"] == len(samples)
        assert summary["frames"] == sum(len(s.frame_paths) for s in samples)
        AnnotatorModel(**summary["annotator"])


def test_same_seed_same_bytes_other_seed_other_twin(tmp_path: Path, twin_dir: Path) -> None:
    again = write_smic_twin(tmp_path / "a" / "SMIC", scale=SCALE, seed=0)
    other = write_smic_twin(tmp_path / "b" / "SMIC", scale=SCALE, seed=1)
    assert (again / TRUTH_FILE).read_bytes() == (twin_dir / TRUTH_FILE).read_bytes()
    first, repeat = read_smic(twin_dir, "VIS").samples[0], read_smic(again, "VIS").samples[0]
    assert [p.read_bytes() for p in first.frame_paths] == [
        p.read_bytes() for p in repeat.frame_paths]
    assert (other / TRUTH_FILE).read_bytes() != (twin_dir / TRUTH_FILE).read_bytes()


def test_one_generated_folder_serves_all_three_datasets(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("MER_BENCH_CACHE", str(tmp_path / "cache"))
    source = resolve_data_source(None, twin_scale=0.02, twin_seed=0)
    hs = load_dataset(SMIC_HS, source).samples
    manifest = source.dataset_dir(SMIC_HS) / "twin_manifest.json"
    written = manifest.stat().st_mtime_ns
    vis = load_dataset(SMIC_VIS, source).samples
    nir = load_dataset(SMIC_NIR, source)
    fixes, nir = nir.fixes, nir.samples
    assert manifest.stat().st_mtime_ns == written  # not regenerated for VIS / NIR
    assert fixes == [] and all(s.annotated.apex is None for s in hs + vis + nir)
    assert {s.dataset for s in hs + vis + nir} == {"smic-hs", "smic-vis", "smic-nir"}
