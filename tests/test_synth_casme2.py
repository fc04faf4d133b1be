"""The CASME II twin: read by the real reader, true to its spec, seeded, with honest truth."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_bench.data.casme2 import read_casme2
from mer_bench.data.sample import KeyFrames
from mer_bench.errors import DataError, UnknownNameError
from mer_bench.synth import write_twin
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.casme2 import CODING_FILE, casme2_twin_spec, name_casme2_clips
from mer_bench.synth.writer import RENDER_SIZE
from mer_bench.synth.distractors import Distractors, draw_nuisance
from mer_bench.synth.face import render_face
from mer_bench.synth.motion import displacement_field, parse_action_units
from mer_bench.synth.plan import STREAM_FACE, plan_twin, stream
from mer_bench.synth.profile import intensity_profile
from mer_bench.synth.render import render_clip
from mer_bench.synth.truth import TRUTH_FILE, load_truth

TINY_SCALE = 0.15  # the scale of conftest's session twin


@pytest.fixture(scope="module")
def twin_dir(tiny_twin_root: Path) -> Path:
    return tiny_twin_root / "CASME2"


def frame_bytes(dataset_dir: Path, subject: str, clip: str) -> list[bytes]:
    clip_dir = dataset_dir / "Cropped" / subject / clip
    return [p.read_bytes() for p in sorted(clip_dir.iterdir())]


def test_full_scale_spec_mirrors_the_20190701_coding_file() -> None:
    spec = casme2_twin_spec(1.0)
    assert spec.n_subjects == 26 and spec.fps == 200.0
    assert dict(spec.class_counts) == {
        "others": 99,
        "disgust": 63,
        "happiness": 32,
        "surprise": 28,
        "repression": 27,
        "sadness": 4,
        "fear": 2,
    }
    plans = plan_twin(spec, seed=0, name_clips=name_casme2_clips)
    assert len(plans) == 255
    per_subject = Counter(plan.subject for plan in plans)
    assert sorted(per_subject) == list(range(1, 27))
    assert min(per_subject.values()) >= 2 and max(per_subject.values()) >= 3 * min(
        per_subject.values()
    )
    assert 1 <= sum(plan.apex_missing for plan in plans) <= 5


def test_full_scale_timing_mirrors_real_spans() -> None:
    plans = plan_twin(casme2_twin_spec(1.0), seed=0, name_clips=name_casme2_clips)
    rise = np.median([p.truth.apex - p.truth.onset for p in plans])
    fall = np.median([p.truth.offset - p.truth.apex for p in plans])
    assert 26 <= rise <= 36 and 25 <= fall <= 35
    assert any(p.first_frame > 1 for p in plans)
    for p in plans:
        first, last = p.first_frame, p.first_frame + p.n_frames - 1
        assert first < p.truth.onset < p.truth.apex < p.truth.offset < last


def test_small_scale_keeps_every_class() -> None:
    spec = casme2_twin_spec(0.01)
    assert spec.n_subjects == 4
    assert set(spec.class_counts.values()) == {2}


def test_real_reader_reads_the_twin_with_spec_counts(twin_dir: Path) -> None:
    samples = read_casme2(twin_dir).samples
    spec = casme2_twin_spec(TINY_SCALE)
    assert Counter(s.emotion for s in samples) == Counter(dict(spec.class_counts))
    assert len({s.subject for s in samples}) == spec.n_subjects
    assert all(
        s.frame_numbers == tuple(range(s.frame_numbers[0], s.frame_numbers[-1] + 1))
        for s in samples
    )
    manifest = json.loads((twin_dir / "twin_manifest.json").read_text())
    assert manifest["counts"]["samples"] == len(samples)
    assert manifest["counts"]["frames"] == sum(len(s.frame_paths) for s in samples)


def test_twin_writes_the_native_spreadsheet_layout(twin_dir: Path) -> None:
    table = pd.read_excel(twin_dir / CODING_FILE, dtype=object)
    assert list(table.columns) == [
        "Subject",
        "Filename",
        "Unnamed: 2",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "Unnamed: 6",
        "Action Units",
        "Estimated Emotion",
    ]
    assert table["Filename"].str.fullmatch(r"EP\d\d_\d\d[a-z]?").all()
    assert table["Subject"].map(type).eq(int).all()
    frame = cv2.imread(str(next((twin_dir / "Cropped").glob("sub*/*/reg_img*.jpg"))))
    assert frame.shape == (RENDER_SIZE, RENDER_SIZE, 3)


def test_missing_apex_written_as_slash_at_half_scale() -> None:
    plans = plan_twin(casme2_twin_spec(0.5), seed=0, name_clips=name_casme2_clips)
    assert sum(plan.apex_missing for plan in plans) >= 1
    assert all(plan.annotated.apex is None for plan in plans if plan.apex_missing)


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = write_twin("casme2", tmp_path / "a" / "CASME2", scale=0.02, seed=0)
    again = write_twin("casme2", tmp_path / "b" / "CASME2", scale=0.02, seed=0)
    other = write_twin("casme2", tmp_path / "c" / "CASME2", scale=0.02, seed=1)
    assert (first / CODING_FILE).read_bytes() == (again / CODING_FILE).read_bytes()
    assert (first / TRUTH_FILE).read_bytes() == (again / TRUTH_FILE).read_bytes()
    sample = read_casme2(first).samples[3]
    assert frame_bytes(first, sample.subject, sample.clip) == frame_bytes(
        again, sample.subject, sample.clip
    )
    rows = pd.read_excel(first / CODING_FILE).values.tolist()
    assert rows != pd.read_excel(other / CODING_FILE).values.tolist()
    first_clip, other_clip = read_casme2(first).samples[0], read_casme2(other).samples[0]
    assert frame_bytes(first, first_clip.subject, first_clip.clip) != frame_bytes(
        other, other_clip.subject, other_clip.clip
    )


def test_spreadsheet_carries_no_save_time(tmp_path: Path) -> None:
    path = write_twin("casme2", tmp_path / "CASME2", scale=0.01, seed=3) / CODING_FILE
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert b"2000-01-01T00:00:00Z" in archive.read("docProps/core.xml")


def test_truth_sidecar_keys_match_samples_and_lie_inside_clips(twin_dir: Path) -> None:
    samples = read_casme2(twin_dir).samples
    truth = load_truth(twin_dir)
    assert set(truth) == {s.sample_id for s in samples}
    for s in samples:
        true = truth[s.sample_id]
        assert s.frame_numbers[0] < true.onset < true.apex < true.offset < s.frame_numbers[-1]
        assert true.onset in s.frame_numbers and true.offset in s.frame_numbers


def test_annotator_marks_onset_early_and_apex_late(twin_dir: Path) -> None:
    samples = read_casme2(twin_dir).samples
    truth = load_truth(twin_dir)
    onset_error = [s.annotated.onset - truth[s.sample_id].onset for s in samples]
    apex_error = [
        s.annotated.apex - truth[s.sample_id].apex for s in samples if s.annotated.apex is not None
    ]
    assert np.mean(onset_error) < -1.5
    assert np.mean(apex_error) > 1.5


def test_annotator_stays_inside_clip_and_ordered() -> None:
    wild = AnnotatorModel(
        onset_bias=-30, apex_bias=40, offset_bias=50, onset_sd=5, apex_sd=5, offset_sd=5
    )
    rng = np.random.default_rng(0)
    for _ in range(200):
        marked = wild.annotate(KeyFrames(105, 120, 140), first=100, last=150, rng=rng)
        assert 100 <= marked.onset < marked.apex < marked.offset <= 150


def test_intensity_is_zero_outside_the_expression_and_peaks_at_apex() -> None:
    truth = KeyFrames(onset=20, apex=50, offset=75)
    frames = np.arange(10, 90)
    intensity = intensity_profile(frames, truth)
    assert np.all(intensity[(frames <= 20) | (frames >= 75)] == 0)
    assert frames[intensity.argmax()] == 50 and intensity.max() == 1.0
    assert np.all(np.diff(intensity[(frames >= 20) & (frames <= 50)]) > 0)


def test_pixel_motion_peaks_at_true_apex_without_distractors() -> None:
    plans = plan_twin(casme2_twin_spec(0.01), seed=5, name_clips=name_casme2_clips)
    face = render_face(stream(5, STREAM_FACE, 1), RENDER_SIZE)
    for plan in plans[:5]:
        rng = np.random.default_rng(0)
        nuisance = draw_nuisance(rng, plan.n_frames, 200.0, Distractors.off())
        field = displacement_field(face, plan.action_units, plan.au_weights)
        frames = np.stack(
            list(
                render_clip(
                    face, plan.frame_numbers, plan.truth, field, plan.amplitude_px, nuisance, rng
                )
            )
        ).astype(np.float32)
        change = np.abs(frames - frames[0]).mean(axis=(1, 2, 3))
        numbers = plan.frame_numbers
        assert np.all(change[numbers <= plan.truth.onset] == 0)
        assert np.all(change[numbers >= plan.truth.offset] == 0)
        assert abs(int(numbers[change.argmax()]) - plan.truth.apex) <= 3


def test_expression_outweighs_distractors_in_most_twin_clips(twin_dir: Path) -> None:
    samples = read_casme2(twin_dir).samples
    truth = load_truth(twin_dir)
    wins = []
    for s in samples:
        onset, apex, offset = (
            cv2.imread(str(s.path_of(n))).astype(np.float32)
            for n in truth[s.sample_id].as_dict().values()
        )
        # the face differs more from the onset at the apex than at the offset, despite distractors
        wins.append(np.abs(apex - onset).mean() > np.abs(offset - onset).mean())
    assert np.mean(wins) >= 0.7


def test_subjects_get_distinct_faces() -> None:
    a = render_face(stream(0, STREAM_FACE, 1), RENDER_SIZE).image
    b = render_face(stream(0, STREAM_FACE, 2), RENDER_SIZE).image
    assert np.abs(a - b).mean() > 5


def test_au_notation_parses_sides() -> None:
    units = parse_action_units("4+L10")
    assert [(u.number, u.side) for u in units] == [(4, "both"), (10, "left")]
    with pytest.raises(ValueError):
        parse_action_units("4+X99")


def test_twin_never_overwrites_real_data(tmp_path: Path) -> None:
    real = tmp_path / "CASME2"
    real.mkdir()
    (real / "CASME2-coding-20190701.xlsx").write_bytes(b"real data")
    with pytest.raises(DataError) as error:
        write_twin("casme2", real, scale=0.01, seed=0)
    assert str(real) in str(error.value)
    assert (real / "CASME2-coding-20190701.xlsx").read_bytes() == b"real data"


def test_failed_generation_leaves_no_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mer_bench.synth.casme2 as twin

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(twin, "write_truth", crash)
    with pytest.raises(RuntimeError):
        write_twin("casme2", tmp_path / "CASME2", scale=0.01, seed=0)
    assert list(tmp_path.iterdir()) == []


def test_rewriting_a_twin_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "CASME2"
    write_twin("casme2", out, scale=0.01, seed=0)
    write_twin("casme2", out, scale=0.01, seed=1)
    assert json.loads((out / "twin_manifest.json").read_text())["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CASME2"]


def test_unknown_dataset_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError):
        write_twin("casme9", tmp_path / "X")


def test_load_truth_outside_a_twin_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_truth(tmp_path)
    assert TRUTH_FILE in str(error.value)
