"""Protocols as data: YAML -> Protocol, labels, LOSO folds, count checks."""

from pathlib import Path

import pytest

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.errors import ConfigError, UnknownNameError
from mer_bench.protocols import (Fold, assert_subject_independent, get_protocol,
                                 load_protocol_file, loso_folds)


def sample(subject: str, clip: str, emotion: str) -> Sample:
    return Sample("casme2", subject, clip, (Path("f1.jpg"),), (1,), 200.0,
                  KeyFrames(1, 2, 3), emotion)


def test_casme2_5class_protocol_has_published_counts():
    protocol = get_protocol("casme2-5class")
    assert protocol.classes == ("happiness", "repression", "disgust", "surprise", "others")
    assert sum(protocol.expected.counts.values()) == 249
    assert protocol.expected.subjects == 26
    assert len(protocol.hash) == 16


def test_labels_are_matched_case_insensitively_and_unlisted_labels_excluded():
    protocol = get_protocol("casme2-5class")
    samples = [sample("sub01", "a", "Others"), sample("sub01", "b", "fear"),
               sample("sub02", "c", " happiness ")]
    labelled = protocol.label_samples(samples)
    assert [(item.sample.clip, item.label) for item in labelled] == [("a", 4), ("c", 0)]


def test_count_check_reports_each_mismatch():
    protocol = get_protocol("casme2-5class")
    problems = protocol.check_counts(protocol.label_samples([sample("sub01", "a", "others")]))
    assert any("'others' has 1 samples, published 99" in p for p in problems)
    assert any("1 subjects, published 26" in p for p in problems)


def test_loso_folds_leave_out_exactly_one_subject_each():
    protocol = get_protocol("casme2-5class")
    samples = [sample(f"sub0{i % 3}", f"clip{i}", "disgust") for i in range(7)]
    folds = loso_folds(protocol.label_samples(samples))
    assert [f.test_subject for f in folds] == ["casme2/sub00", "casme2/sub01", "casme2/sub02"]
    for fold in folds:
        assert len(fold.train_ids) + len(fold.test_ids) == 7
        assert all(fold.test_subject.endswith(s.split("/")[1]) for s in fold.test_ids)


def test_subject_overlap_is_caught():
    fold = Fold(0, "d/s1", ("d/s1/a",), ("d/s1/b",))
    with pytest.raises(AssertionError, match="shares subjects"):
        assert_subject_independent([fold], {"d/s1/a": "d/s1", "d/s1/b": "d/s1"})


def test_changing_the_class_map_changes_the_hash(tmp_path):
    text = (Path(__file__).parents[1] / "mer_bench" / "protocol_files" / "casme2.yaml").read_text()
    changed = tmp_path / "casme2.yaml"
    changed.write_text(text.replace("others: others", "others: disgust"))
    original = get_protocol("casme2-5class")
    (edited,) = [p for p in load_protocol_file(changed) if p.id == "casme2-5class"]
    assert edited.hash != original.hash


def test_protocol_mapping_to_an_unknown_class_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: x\nprotocols:\n  p:\n    version: '1'\n    evaluation: loso\n"
                   "    classes: [a]\n    class_map: {x: b}\n")
    with pytest.raises(ConfigError, match="not in its classes"):
        load_protocol_file(bad)


def test_unknown_protocol_suggests():
    with pytest.raises(UnknownNameError, match="did you mean casme2-5class"):
        get_protocol("casme2-5clas")


COMPOSITE_AND_CROSS = """
dataset: mixed
protocols:
  mix-3class:
    version: '1'
    evaluation: composite-loso
    classes: [negative, positive]
    sources:
      casme2: {class_map: {disgust: negative, happiness: positive}}
      samm: {class_map: {anger: negative, happiness: positive}}
  samm-to-casme2:
    version: '1'
    evaluation: cross-dataset
    classes: [negative, positive]
    train: {dataset: samm, class_map: {anger: negative, happiness: positive}}
    test: {dataset: casme2, class_map: {disgust: negative, happiness: positive}}
"""


def other(dataset: str, subject: str, clip: str, emotion: str) -> Sample:
    return Sample(dataset, subject, clip, (Path("f1.jpg"),), (1,), 200.0, KeyFrames(1, 2, 3),
                  emotion)


def mixed_samples() -> list[Sample]:
    return [other("casme2", "sub01", "a", "disgust"), other("casme2", "sub01", "b", "anger"),
            other("casme2", "sub02", "c", "happiness"), other("samm", "sub01", "d", "Anger"),
            other("samm", "007", "e", "happiness")]


def test_composite_maps_each_dataset_and_keeps_same_named_subjects_apart(tmp_path):
    from mer_bench.protocols import make_folds

    path = tmp_path / "mixed.yaml"
    path.write_text(COMPOSITE_AND_CROSS)
    composite, _ = load_protocol_file(path)
    labelled = composite.label_samples(mixed_samples())
    # casme2 has no 'anger' in its map, so clip b is excluded; samm's 'Anger' is negative
    assert [(i.sample.clip, i.label) for i in labelled] == [("a", 0), ("c", 1), ("d", 0), ("e", 1)]
    folds = make_folds(composite, labelled)
    assert [f.test_subject for f in folds] == ["casme2/sub01", "casme2/sub02", "samm/007",
                                               "samm/sub01"]


def test_cross_dataset_trains_on_one_dataset_and_tests_on_the_other(tmp_path):
    from mer_bench.protocols import make_folds

    path = tmp_path / "mixed.yaml"
    path.write_text(COMPOSITE_AND_CROSS)
    _, cross = load_protocol_file(path)
    (fold,) = make_folds(cross, cross.label_samples(mixed_samples()))
    assert set(fold.train_ids) == {"samm/sub01/d", "samm/007/e"}
    assert set(fold.test_ids) == {"casme2/sub01/a", "casme2/sub02/c"}
    assert cross.datasets == ("samm", "casme2")


def test_cross_dataset_on_one_dataset_is_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(COMPOSITE_AND_CROSS.replace("test: {dataset: casme2", "test: {dataset: samm"))
    with pytest.raises(ConfigError, match="use evaluation: loso"):
        load_protocol_file(path)
