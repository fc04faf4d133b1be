"""CASME II 3-class, MMNet / GAMDSS variant: its YAML entry against the twin's spec and plans.

The entry is kept inline so the test stands alone; once it is in mer_bench/protocol_files/casme2.yaml the last
test checks the two agree.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.protocols import Protocol, load_protocol_file
from mer_bench.synth.casme2 import casme2_twin_spec, plan_casme2_twin

ENTRY = """\
  casme2-3class:
    title: CASME II 3-class, MMNet / GAMDSS variant (negative = repression, disgust, fear, sadness)
    version: "1.0"
    evaluation: loso
    # Label order of the GAMDSS script (Positive 0, Surprise 1, Negative 2); others excluded.
    # Not the MEGC2019 CASME II subset (negative = disgust + repression; 145 samples, 24 subjects).
    classes: [positive, surprise, negative]
    class_map:
      happiness: positive
      surprise: surprise
      repression: negative
      disgust: negative
      fear: negative
      sadness: negative
    expected:
      counts: {positive: 32, surprise: 28, negative: 96}
      subjects: 25
      source: >-
        counted from CASME2-coding-20190701.xlsx (gamdss-method.md section 4): negative
        63 + 27 + 6 fear/sadness = 96; sub18 has only 'others' rows, hence 25 subjects
"""
DOCUMENT = "dataset: casme2\nprotocols:\n" + ENTRY
REPO_FILE = Path(__file__).resolve().parents[1] / "mer_bench" / "protocol_files" / "casme2.yaml"


@pytest.fixture(scope="module")
def protocol(tmp_path_factory: pytest.TempPathFactory) -> Protocol:
    path = tmp_path_factory.mktemp("protocols") / "casme2.yaml"
    path.write_text(DOCUMENT)
    (loaded,) = load_protocol_file(path)
    return loaded


def sample(emotion: str, subject: str = "sub01") -> Sample:
    return Sample(dataset="casme2", subject=subject, clip="EP01_01", frame_paths=(),
                  frame_numbers=(), fps=200.0, annotated=KeyFrames(1, 2, 3), emotion=emotion)


def test_entry_loads_with_classes_in_gamdss_order(protocol: Protocol) -> None:
    assert protocol.id == "casme2-3class" and protocol.dataset == "casme2"
    assert protocol.classes == ("positive", "surprise", "negative")
    assert protocol.expected.assumed is False


def test_fear_and_sadness_are_negative_and_others_is_excluded(protocol: Protocol) -> None:
    assert protocol.label_of(sample("Fear ")) == 2
    assert protocol.label_of(sample("sadness")) == 2
    assert protocol.label_of(sample("repression")) == 2
    assert protocol.label_of(sample("happiness")) == 0
    assert protocol.label_of(sample("surprise")) == 1
    assert protocol.label_of(sample("others")) is None


def test_full_scale_twin_spec_gives_the_expected_counts(protocol: Protocol) -> None:
    mapped: Counter[str] = Counter()
    for label, count in casme2_twin_spec(1.0).class_counts.items():
        target = protocol.class_map.get(label)
        if target is not None:
            mapped[target] += count
    assert dict(mapped) == dict(protocol.expected.counts)
    assert sum(mapped.values()) == 156


def test_full_scale_twin_has_the_expected_subjects(protocol: Protocol) -> None:
    plans = plan_casme2_twin(casme2_twin_spec(1.0), seed=0)
    subjects = {p.subject for p in plans if p.emotion in protocol.class_map}
    assert len(subjects) == protocol.expected.subjects


def test_repository_entry_matches_this_one(protocol: Protocol) -> None:
    added = {p.id: p for p in load_protocol_file(REPO_FILE)}
    assert protocol.id in added
    assert added[protocol.id].hash == protocol.hash
