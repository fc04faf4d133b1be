"""The CAS(ME)^3 Part A twin: true to the v2 label file's counts, read by the real reader."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_bench.data.casme3 import CASME3, HEADER, MEB_V2_CORRECTIONS
from mer_bench.data.loading import load_dataset_dir
from mer_bench.protocols import load_protocol_file
from mer_bench.synth.casme3 import (
    FRAMES_PATH,
    LABEL_PATH,
    SCENE,
    casme3_twin_spec,
    emotion_counts,
    file_order,
    objective_counts,
    plan_casme3_twin,
    subject_numbers,
    with_meb_rows,
    write_casme3_twin,
)
from mer_bench.synth.truth import TRUTH_FILE, load_truth

PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "casme3.yaml"
SMALL = 0.03  # 4 subjects, 28 clips


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_casme3_twin(tmp_path_factory.mktemp("twin") / "CAS(ME)3", scale=SMALL, seed=0)


def test_full_scale_spec_mirrors_the_v2_label_file() -> None:
    spec = casme3_twin_spec(1.0)
    assert (spec.n_subjects, spec.fps, spec.n_samples) == (94, 30.0, 860)
    assert emotion_counts(spec) == {"disgust": 250, "surprise": 187, "others": 161, "fear": 86,
                                    "anger": 64, "sad": 57, "happy": 55}
    assert objective_counts(spec) == {"VII": 373, "III": 234, "II": 151, "V": 47, "IV": 37,
                                      "I": 15, "VI": 3}


@pytest.mark.parametrize("protocol", load_protocol_file(PROTOCOLS), ids=lambda p: p.id)
def test_full_scale_spec_reproduces_each_protocols_counts(protocol) -> None:
    spec = casme3_twin_spec(1.0)
    (source,) = protocol.sources
    assert source.label_field in ("emotion", "objective_class")
    objective = source.label_field == "objective_class"
    raw = objective_counts(spec) if objective else emotion_counts(spec)
    mapped: Counter[str] = Counter()
    for label, n in raw.items():
        target = protocol.class_map.get(label.lower())
        if target is not None:
            mapped[target] += n
    assert dict(mapped) == dict(protocol.expected.counts)
    assert protocol.expected.subjects in (None, spec.n_subjects)


def test_full_scale_timing_matches_the_files_spans() -> None:
    plans, _ = plan_casme3_twin(1.0, seed=0)
    rise = np.array([p.annotated.apex - p.annotated.onset for p in plans])
    fall = np.array([p.annotated.offset - p.annotated.apex for p in plans])
    assert np.median(rise) == 6 and np.mean(rise < 10) > 0.97  # lambda = 0 for 846 of 857
    assert 0.55 < np.mean(fall >= 10) < 0.75  # lambda_f >= 1 for about 565 of 857
    onset_error = np.mean([p.annotated.onset - p.truth.onset for p in plans])
    offset_error = np.mean([p.annotated.offset - p.truth.offset for p in plans])
    assert onset_error < 0 < offset_error


def test_full_scale_videos_hold_several_clips_apart() -> None:
    plans, _ = plan_casme3_twin(1.0, seed=0)
    assert len({(p.subject, p.clip) for p in plans}) == 860
    by_video: dict[tuple[int, str], list] = {}
    for p in plans:
        by_video.setdefault((p.subject, p.clip.split("_")[0]), []).append(p)
    assert sum(len(group) > 1 for group in by_video.values()) > 100
    for group in by_video.values():
        spans = sorted((p.first_frame, p.first_frame + p.n_frames - 1) for p in group)
        assert all(end < start for (_, end), (start, _) in zip(spans, spans[1:]))


def test_full_scale_meb_rows_sit_at_their_excel_rows_and_keep_every_count() -> None:
    plans, objective = plan_casme3_twin(1.0, seed=0)
    numbers = subject_numbers(0, 94)
    rows, meb = with_meb_rows(plans, dict(objective), numbers)
    order = file_order(rows, numbers, meb)
    placed = {i + 2: meb[(p.subject, p.index)].excel_row for i, p in enumerate(order)
              if (p.subject, p.index) in meb}
    assert placed == {c.excel_row: c.excel_row for c in MEB_V2_CORRECTIONS}
    assert Counter(p.emotion for p in rows) == Counter(p.emotion for p in plans)
    assert len({p.subject for p in rows}) == 94
    # the other clips of a video holding MEB rows were moved clear of them
    by_video: dict[tuple[int, str], list] = {}
    for p in rows:
        by_video.setdefault((p.subject, p.clip.split("_")[0]), []).append(p)
    for group in by_video.values():
        spans = sorted((p.first_frame, p.first_frame + p.n_frames - 1) for p in group)
        assert all(end < start for (_, end), (start, _) in zip(spans, spans[1:]))


def test_small_scale_keeps_every_emotion() -> None:
    spec = casme3_twin_spec(0.01)
    assert spec.n_subjects == 4
    assert set(emotion_counts(spec).values()) == {2}


def test_real_reader_reads_the_twin_with_spec_counts(twin_dir: Path) -> None:
    spec = casme3_twin_spec(SMALL)
    loaded = load_dataset_dir(CASME3, twin_dir)
    samples = loaded.samples
    assert not loaded.excluded
    assert Counter(s.emotion for s in samples) == emotion_counts(spec)
    assert Counter(s.extra["objective_class"] for s in samples) == objective_counts(spec)
    assert len({s.subject for s in samples}) == spec.n_subjects
    # a small twin keeps MEB's six rows; its one 'Others' is a normalisation, not an erratum
    assert [f.rule for f in loaded.fixes] == ["casme3-meb-v2-rows"] * 6
    assert [n.written for n in loaded.normalised] == ["Others"]
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["counts"]["samples"] == len(samples)
    assert manifest["objective_classes"] == dict(objective_counts(spec))


def test_twin_is_written_in_the_part_a_layout(twin_dir: Path) -> None:
    assert pd.ExcelFile(twin_dir / LABEL_PATH).sheet_names == ["Sheet1", "label", "Sheet3"]
    table = pd.read_excel(twin_dir / LABEL_PATH, sheet_name="label", dtype=object)
    assert list(table.columns) == list(HEADER)
    assert all(isinstance(v, str) for c in ("Onset", "Apex", "Offset") for v in table[c])
    assert table["Subject"].str.fullmatch(r"spNO\.\d+").all()
    assert table["Filename"].str.fullmatch(r"[a-m]").all()
    assert table.duplicated(["Subject", "Filename"]).any()  # several clips of one video
    assert "Others" in set(table["emotion"])
    frame = cv2.imread(str(next((twin_dir / FRAMES_PATH).glob("spNO.*/*/color/*.jpg"))))
    assert frame.shape == (SCENE.height, SCENE.width, 3)  # uncropped: a face inside a scene


def test_truth_sidecar_matches_samples_and_lies_near_their_clips(twin_dir: Path) -> None:
    samples = load_dataset_dir(CASME3, twin_dir).samples
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in samples}
    for s in samples:
        true = truth[s.sample_id]
        assert true.onset < true.apex < true.offset
        assert s.frame_numbers[0] - 3 <= true.onset and true.offset <= s.frame_numbers[-1] + 10
        video = s.frame_paths[0].parent
        assert (video / f"{true.onset}.jpg").is_file() and (video / f"{true.offset}.jpg").is_file()


def test_same_seed_gives_identical_files(tmp_path: Path, twin_dir: Path) -> None:
    again = write_casme3_twin(tmp_path / "CAS(ME)3", scale=SMALL, seed=0)
    for name in (LABEL_PATH, Path(TRUTH_FILE)):
        assert (again / name).read_bytes() == (twin_dir / name).read_bytes()
    clip = load_dataset_dir(CASME3, twin_dir).samples[0]
    relative = [p.relative_to(twin_dir) for p in clip.frame_paths]
    assert [(again / r).read_bytes() for r in relative] == [p.read_bytes() for p in
                                                            clip.frame_paths]


def test_another_seed_gives_another_twin() -> None:
    first, _ = plan_casme3_twin(SMALL, seed=0)
    other, _ = plan_casme3_twin(SMALL, seed=1)
    assert [(p.clip, p.emotion) for p in first] != [(p.clip, p.emotion) for p in other]
