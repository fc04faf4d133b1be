"""The CAS(ME)^2 twin: its assumed counts and layout, read by the real reader, seeded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_bench.data.casme_sq import CASME_SQ, VIDEO_CODES, video_of
from mer_bench.data.loading import load_dataset_dir
from mer_bench.protocols import load_protocol_file
from mer_bench.synth.casme_sq import (
    CODING_FILE,
    SCENE,
    casme_sq_twin_spec,
    plan_casme_sq_twin,
    write_casme_sq_twin,
)
from mer_bench.synth.truth import TRUTH_FILE, load_truth

PROTOCOLS = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "casme-sq.yaml"
SMALL = 0.1  # 4 subjects, 8 micro clips


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_casme_sq_twin(tmp_path_factory.mktemp("twin") / "CAS(ME)2", scale=SMALL, seed=0)


def test_full_scale_spec_has_57_micro_and_300_macro_rows() -> None:
    micro, macro = casme_sq_twin_spec(1.0), casme_sq_twin_spec(1.0, macro=True)
    assert (micro.n_subjects, micro.fps, micro.n_samples, macro.n_samples) == (22, 30.0, 57, 300)


@pytest.mark.parametrize("protocol", load_protocol_file(PROTOCOLS), ids=lambda p: p.id)
def test_full_scale_spec_reproduces_each_protocols_counts(protocol) -> None:
    spec = casme_sq_twin_spec(1.0)
    mapped: Counter[str] = Counter()
    for label, n in spec.class_counts.items():
        mapped[protocol.class_map[label]] += n
    assert dict(mapped) == dict(protocol.expected.counts)
    assert protocol.expected.subjects == spec.n_subjects
    assert protocol.expected.assumed  # nothing here is published


def test_full_scale_micro_clips_last_under_half_a_second() -> None:
    micro, macro = plan_casme_sq_twin(1.0, seed=0)
    micro_frames = np.array([p.annotated.offset - p.annotated.onset + 1 for p in micro])
    macro_frames = np.array([p.annotated.offset - p.annotated.onset + 1 for p in macro])
    assert np.mean(micro_frames <= 15) > 0.85 and np.median(macro_frames) > 25
    names = [(p.subject, p.clip) for p in micro + macro]
    assert len(set(names)) == len(names) == 357


def test_real_reader_reads_the_micro_clips_of_the_twin(twin_dir: Path) -> None:
    spec = casme_sq_twin_spec(SMALL)
    loaded = load_dataset_dir(CASME_SQ, twin_dir)
    samples = loaded.samples
    assert Counter(s.emotion for s in samples) == Counter(dict(spec.class_counts))
    assert len({s.subject for s in samples}) <= spec.n_subjects
    assert not loaded.fixes and not loaded.excluded
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["counts"]["samples"] == len(samples) and manifest["layout_assumed"]


def test_twin_is_written_in_the_assumed_layout(twin_dir: Path) -> None:
    table = pd.read_excel(twin_dir / CODING_FILE, header=None, dtype=object)
    assert table.shape[1] == 9 and isinstance(table.iloc[0, 0], int)  # no header row
    assert Counter(table[7]) == {"micro-expression": 8, "macro-expression": 30}
    assert table[1].str.fullmatch(r"[a-z]+\d_\d+").all()
    frame = cv2.imread(str(next((twin_dir / "rawpic").glob("s*/*_*/img*.jpg"))))
    assert frame.shape == (SCENE.height, SCENE.width, 3)


def test_macro_rows_have_no_frames(twin_dir: Path) -> None:
    table = pd.read_excel(twin_dir / CODING_FILE, header=None, dtype=object)
    macro = table[table[7] == "macro-expression"].iloc[0]
    code = VIDEO_CODES[video_of(macro[1])]
    subject = twin_dir / "rawpic" / f"s{macro[0]:02d}"
    assert not list(subject.glob(f"{macro[0]:02d}_{code}*/img{macro[2]}.jpg"))


def test_truth_sidecar_matches_samples(twin_dir: Path) -> None:
    samples = load_dataset_dir(CASME_SQ, twin_dir).samples
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in samples}
    for s in samples:
        video = s.frame_paths[0].parent
        assert (video / f"img{truth[s.sample_id].apex}.jpg").is_file()


def test_same_seed_gives_identical_files(tmp_path: Path, twin_dir: Path) -> None:
    again = write_casme_sq_twin(tmp_path / "CAS(ME)2", scale=SMALL, seed=0)
    for name in (CODING_FILE, TRUTH_FILE):
        assert (again / name).read_bytes() == (twin_dir / name).read_bytes()
    clip = load_dataset_dir(CASME_SQ, twin_dir).samples[0]
    assert [(again / p.relative_to(twin_dir)).read_bytes() for p in clip.frame_paths] == [
        p.read_bytes() for p in clip.frame_paths]
    other, _ = plan_casme_sq_twin(SMALL, seed=1)
    first, _ = plan_casme_sq_twin(SMALL, seed=0)
    assert [(p.clip, p.emotion) for p in first] != [(p.clip, p.emotion) for p in other]
