"""Protocols as data: protocol_files/*.yaml -> typed Protocol objects, labelled samples and LOSO folds.

Plugin packages add protocols through the entry point group ``mer_bench.protocols``: each entry
names a package whose folder holds protocol YAML files in the same format.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, Mapping, Sequence

import yaml

from mer_bench.data.sample import Sample, normalise_label
from mer_bench.errors import ConfigError
from mer_bench.registry import Registry

Evaluation = Literal["loso", "composite-loso", "cross-dataset"]
EVALUATIONS: tuple[str, ...] = ("loso", "composite-loso", "cross-dataset")
Role = Literal["both", "train", "test"]


def protocols_dir() -> Path:
    """The protocol folder: ``MER_BENCH_PROTOCOLS`` or the package's ``mer_bench/protocol_files/``."""
    from mer_bench import protocol_files

    return protocol_files.folder()


def plugin_protocol_dirs() -> tuple[Path, ...]:
    """Folders of protocol files that plugin packages declare (entry points ``mer_bench.protocols``)."""
    from importlib import resources
    from importlib.metadata import entry_points

    folders = []
    for entry in sorted(entry_points(group="mer_bench.protocols"), key=lambda e: e.name):
        try:
            folders.append(Path(str(resources.files(entry.value))))
        except ModuleNotFoundError:
            raise ConfigError(f"protocol plugin {entry.name!r} names package {entry.value!r}, "
                              "which is not installed; reinstall the plugin") from None
    return tuple(folders)


@dataclass(frozen=True)
class ExpectedCounts:
    """Published class counts and subject count, checked against the data present."""

    counts: Mapping[str, int]
    subjects: int | None
    source: str = ""
    # True where no published figure exists and the counts are the project's plausible choice
    assumed: bool = False


@dataclass(frozen=True)
class SampleListSpec:
    """A file under the data root listing a protocol's clips (MEGC2019's ground truth), and the
    counts the protocol has with it where they differ from its own (None: the same)."""

    file: str
    expected: ExpectedCounts | None = None


@dataclass(frozen=True)
class LabelledSample:
    sample: Sample
    label: int


@dataclass(frozen=True)
class Fold:
    """One LOSO fold: the test subject and the sample ids on each side."""

    index: int
    test_subject: str
    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """One dataset of a protocol, its raw label -> class map, and which side of folds it feeds."""

    dataset: str
    class_map: Mapping[str, str]
    role: Role = "both"
    # which field carries the raw label: the emotion, or a column kept in Sample.extra
    # (e.g. SAMM's and CAS(ME)^3's objective classes)
    label_field: str = "emotion"

    def raw_label(self, sample: Sample) -> str:
        if self.label_field == "emotion":
            return sample.emotion
        return str(sample.extra.get(self.label_field, ""))


@dataclass(frozen=True)
class Protocol:
    """A class split and how it is evaluated.

    ``loso``: one dataset, leave one subject out. ``composite-loso``: several datasets pooled
    (MEGC2019), leave one subject out over all of them, subjects namespaced by dataset.
    ``cross-dataset``: train on the ``train`` source, test on the ``test`` source, one fold.
    """

    id: str
    title: str
    version: str
    evaluation: Evaluation
    classes: tuple[str, ...]
    sources: tuple[Source, ...]
    expected: ExpectedCounts
    source_file: Path = field(compare=False)
    # files under the data root listing the protocol's clips (MEGC2019's ground truth): the first
    # one present is used; none for protocols of whole datasets
    sample_lists: tuple[SampleListSpec, ...] = ()

    @property
    def family(self) -> str:
        """The protocol file's name (casme2, megc2019, cross-dataset...): one leaderboard page each."""
        return self.source_file.stem

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(source.dataset for source in self.sources)

    @property
    def dataset(self) -> str:
        """The dataset name, or the datasets joined by '+' for multi-dataset protocols."""
        return "+".join(self.datasets)

    @property
    def class_map(self) -> Mapping[str, str]:
        """The class map of a single-dataset protocol."""
        if len(self.sources) != 1:
            raise ValueError(f"{self.id} has one class map per dataset; use its sources")
        return self.sources[0].class_map

    @property
    def hash(self) -> str:
        """Content hash of the definition: any change to classes, mapping or counts changes it."""
        content = {
            "id": self.id,
            "version": self.version,
            "evaluation": self.evaluation,
            "classes": list(self.classes),
            "sources": [{"dataset": s.dataset, "role": s.role, "label_field": s.label_field,
                         "class_map": dict(sorted(s.class_map.items()))} for s in self.sources],
            "expected": _counts_content(self.expected),
        }
        if self.sample_lists:
            content["sample_lists"] = [
                {"file": spec.file, **({"expected": _counts_content(spec.expected)}
                                       if spec.expected else {})}
                for spec in self.sample_lists]
        blob = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def label_of(self, sample: Sample) -> int | None:
        """Class index of a sample, or None when the protocol excludes its label or dataset."""
        for source in self.sources:
            if source.dataset == sample.dataset:
                target = source.class_map.get(normalise_label(source.raw_label(sample)))
                return None if target is None else self.classes.index(target)
        return None

    def role_of(self, dataset: str) -> Role:
        return next(source.role for source in self.sources if source.dataset == dataset)

    def label_samples(self, samples: Sequence[Sample]) -> list[LabelledSample]:
        labelled = []
        for sample in samples:
            label = self.label_of(sample)
            if label is not None:
                labelled.append(LabelledSample(sample, label))
        return labelled

    def expected_with(self, sample_list: SampleListSpec | None) -> ExpectedCounts:
        """The published counts with ``sample_list`` (the protocol's own where it has none)."""
        return sample_list.expected if sample_list and sample_list.expected else self.expected

    def check_counts(self, labelled: Sequence[LabelledSample],
                     expected: ExpectedCounts | None = None) -> list[str]:
        """Differences between the data and the published counts (``expected``, default the
        protocol's own), one readable line each."""
        expected = expected or self.expected
        problems = []
        found = Counter(self.classes[item.label] for item in labelled)
        for name in self.classes:
            want = expected.counts.get(name)
            if want is not None and found[name] != want:
                problems.append(f"{self.id}: class {name!r} has {found[name]} samples, "
                                f"published {want}")
        subjects = len({item.sample.subject_key for item in labelled})
        if expected.subjects is not None and subjects != expected.subjects:
            problems.append(f"{self.id}: {subjects} subjects, published {expected.subjects}")
        return problems


def _counts_content(expected: ExpectedCounts) -> dict:
    return {"counts": dict(sorted(expected.counts.items())), "subjects": expected.subjects}


def loso_folds(labelled: Sequence[LabelledSample]) -> list[Fold]:
    """Leave-one-subject-out folds, subjects in sorted order; independence is asserted."""
    subjects = sorted({item.sample.subject_key for item in labelled})
    folds = []
    for index, subject in enumerate(subjects):
        train = tuple(i.sample.sample_id for i in labelled if i.sample.subject_key != subject)
        test = tuple(i.sample.sample_id for i in labelled if i.sample.subject_key == subject)
        folds.append(Fold(index, subject, train, test))
    assert_subject_independent(folds, {i.sample.sample_id: i.sample.subject_key for i in labelled})
    return folds


def make_folds(protocol: Protocol, labelled: Sequence[LabelledSample]) -> list[Fold]:
    """The protocol's folds: LOSO (single or composite) or one train-dataset -> test-dataset fold."""
    if protocol.evaluation != "cross-dataset":
        return loso_folds(labelled)
    train = tuple(i.sample.sample_id for i in labelled
                  if protocol.role_of(i.sample.dataset) == "train")
    test = tuple(i.sample.sample_id for i in labelled
                 if protocol.role_of(i.sample.dataset) == "test")
    test_dataset = next(s.dataset for s in protocol.sources if s.role == "test")
    folds = [Fold(0, test_dataset, train, test)]
    assert_subject_independent(folds, {i.sample.sample_id: i.sample.subject_key for i in labelled})
    return folds


def assert_subject_independent(folds: Sequence[Fold], subject_of: Mapping[str, str]) -> None:
    for fold in folds:
        train_subjects = {subject_of[s] for s in fold.train_ids}
        test_subjects = {subject_of[s] for s in fold.test_ids}
        shared = train_subjects & test_subjects
        if shared:
            raise AssertionError(f"fold {fold.index} shares subjects {sorted(shared)} "
                                 "between train and test")


def _class_map(raw: object, classes: Sequence[str], where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: class_map must map raw labels to classes")
    class_map = {normalise_label(k): v for k, v in raw.items()}
    unknown = sorted(set(class_map.values()) - set(classes))
    if unknown:
        raise ConfigError(f"{where} maps to {unknown}, not in its classes")
    return class_map


def _parse_sources(pid: str, body: Mapping, dataset: str, evaluation: str, classes: Sequence[str],
                   where: str) -> tuple[Source, ...]:
    if evaluation == "loso":
        if "class_map" not in body:
            raise ConfigError(f"{where} lacks 'class_map'; add it")
        return (Source(body.get("dataset", dataset), _class_map(body["class_map"], classes, where),
                       label_field=body.get("label_field", "emotion")),)
    if evaluation == "composite-loso":
        parts = body.get("sources")
        if not isinstance(parts, Mapping) or len(parts) < 2:
            raise ConfigError(f"{where} is composite: give 'sources' with two or more datasets, "
                              "each with its class_map")
        return tuple(Source(name, _class_map(part.get("class_map"), classes, f"{where} {name}"))
                     for name, part in parts.items())
    sides = []
    for role in ("train", "test"):
        part = body.get(role)
        if not isinstance(part, Mapping) or "dataset" not in part:
            raise ConfigError(f"{where} is cross-dataset: give '{role}: {{dataset, class_map}}'")
        sides.append(Source(part["dataset"], _class_map(part.get("class_map"), classes,
                                                        f"{where} {role}"), role))
    if sides[0].dataset == sides[1].dataset:
        raise ConfigError(f"{where} trains and tests on {sides[0].dataset}; use evaluation: loso")
    return tuple(sides)


def _parse_protocol(pid: str, body: Mapping, dataset: str, source: Path) -> Protocol:
    where = f"{source}: protocol {pid!r}"

    def need(key: str):
        if key not in body:
            raise ConfigError(f"{where} lacks {key!r}; add it")
        return body[key]

    classes = tuple(need("classes"))
    evaluation = need("evaluation")
    if evaluation not in EVALUATIONS:
        raise ConfigError(f"{where} has evaluation {evaluation!r}; "
                          f"use one of {', '.join(EVALUATIONS)}")
    return Protocol(
        id=pid,
        title=body.get("title", pid),
        version=str(need("version")),
        evaluation=evaluation,
        classes=classes,
        sources=_parse_sources(pid, body, dataset, evaluation, classes, where),
        expected=_expected(body.get("expected", {}), where),
        source_file=source,
        sample_lists=_sample_lists(body.get("sample_list"), where),
    )


def _expected(raw: object, where: str) -> ExpectedCounts:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: 'expected' must map counts, subjects and source")
    return ExpectedCounts(dict(raw.get("counts", {})), raw.get("subjects"), raw.get("source", ""),
                          bool(raw.get("assumed", False)))


def _sample_lists(raw: object, where: str) -> tuple[SampleListSpec, ...]:
    """``sample_list``: one file, or a list of files, each a name or {file, expected}."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    specs = []
    for item in items:
        if isinstance(item, str):
            specs.append(SampleListSpec(item))
        elif isinstance(item, Mapping) and isinstance(item.get("file"), str):
            expected = item.get("expected")
            specs.append(SampleListSpec(item["file"],
                                        _expected(expected, where) if expected else None))
        else:
            raise ConfigError(f"{where}: each sample_list entry is a file name or "
                              "{file, expected}")
    return tuple(specs)


def load_protocol_file(path: Path) -> list[Protocol]:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error.__class__.__name__}); fix the file")
    if not isinstance(document, dict) or "protocols" not in document:
        raise ConfigError(f"{path}: expected a mapping with 'dataset' and 'protocols'")
    dataset = document.get("dataset", path.stem)
    return [_parse_protocol(pid, body, dataset, path)
            for pid, body in document["protocols"].items()]


@lru_cache(maxsize=4)
def _protocol_registry(directories: tuple[Path, ...]) -> Registry[Protocol]:
    registry: Registry[Protocol] = Registry("protocol")
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")):
            if path.name == "suites.yaml":
                continue
            for protocol in load_protocol_file(path):
                registry.register(protocol.id, protocol)
    return registry


def protocol_registry() -> Registry[Protocol]:
    return _protocol_registry((protocols_dir(), *plugin_protocol_dirs()))


def get_protocol(protocol_id: str) -> Protocol:
    return protocol_registry().get(protocol_id)
