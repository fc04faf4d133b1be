"""`mer-bench doctor`: which datasets a data root holds, whether each reads cleanly, what was done.

The doctor tells the whole truth about a data root: where it looked when nothing is there; per
dataset, every row excluded (not just the first problem), every errata fix, every label
normalisation (apart from the fixes), labels no protocol maps (such samples silently fall out of
every protocol otherwise), gaps in clips, and key frames that cannot be decoded (with ``deep``,
every frame). Sample lists (MEGC2019) are checked against the clips they must name.

The doctor never raises on bad data: a reader's error becomes the dataset's verdict, and any other
exception is reported as a reader crash naming the dataset, so one broken dataset cannot hide the
state of the others. Other checks add their findings as sections of a dataset's report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from PIL import Image
from tabulate import tabulate

from mer_bench.data.errata import AppliedFix
from mer_bench.data.loading import LoadedDataset, Normalised, load_dataset_dir
from mer_bench.data.sample import Excluded, Sample, normalise_label
from mer_bench.data.sample_list import read_sample_list, select_listed
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.datasource import cache_dir
from mer_bench.errors import MerBenchError
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.face_crop import without_faceless_rows
from mer_bench.inputs.face_report import SECTION_TITLE, face_detection_summary, summary_line


@dataclass
class Section:
    """A titled block of lines in a dataset's report (e.g. a face-detection rate)."""

    title: str
    lines: list[str]


@dataclass
class DatasetReport:
    name: str
    title: str
    folder: Path
    looked_for: str  # where under the root it was looked for, e.g. 'SMIC/SMIC_all_cropped/HS/'
    present: bool
    strict: bool = False  # an excluded row makes the dataset unusable
    samples: int = 0
    subjects: int = 0
    fixes: list[AppliedFix] = field(default_factory=list)
    normalised: list[Normalised] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    sections: list[Section] = field(default_factory=list)
    loaded: LoadedDataset | None = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        return (self.present and self.error is None
                and not (self.strict and self.excluded))

    @property
    def status(self) -> str:
        if not self.present:
            return "absent"
        if self.error:
            return "error"
        if self.excluded:
            left_out = f"{len(self.excluded)} rows excluded"
            return f"error: {left_out} (--strict)" if self.strict else f"usable, {left_out}"
        return "usable, with notes" if self.problems else "usable"


@dataclass
class ListReport:
    """A protocol's sample list: the file used, and whether every entry names one clip."""

    protocol: str
    file: str | None  # relative to the root; None where none of its files is there (absent)
    entries: int = 0
    sha256: str = ""
    dropped: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Diagnosis:
    root: Path
    datasets: list[DatasetReport]
    lists: list[ListReport]

    @property
    def found(self) -> bool:
        return any(r.present for r in self.datasets)

    @property
    def ok(self) -> bool:
        """Exit status 0: something found, every dataset found usable, every list found sound."""
        return (self.found and all(r.usable for r in self.datasets if r.present)
                and not any(r.error for r in self.lists))

    def render(self, *, verbose: bool = False) -> str:
        return render(self, verbose=verbose)


# --- diagnosing -----------------------------------------------------------------------------------


def diagnose(root: Path, *, deep: bool = False, strict: bool = False) -> Diagnosis:
    """Every registered dataset (absent ones included, in registry order) and sample list."""
    datasets = [diagnose_dataset(DATASETS.get(name), root, deep=deep, strict=strict)
                for name in DATASETS.names()]
    return Diagnosis(root, datasets, diagnose_sample_lists(root, datasets))


def diagnose_dataset(spec: DatasetSpec, root: Path, *, deep: bool = False,
                     strict: bool = False) -> DatasetReport:
    """One dataset's report; ``deep`` decodes every frame (key frames are always decoded)."""
    folder = root / spec.folder
    report = DatasetReport(spec.name, spec.title, folder, spec.looked_for,
                           spec.present_in(folder), strict)
    if not report.present:
        return report
    try:
        loaded = load_dataset_dir(spec, folder)
    except MerBenchError as error:
        report.error = str(error)
        return report
    except Exception as error:  # a reader bug must not hide the other datasets' state
        report.error = f"reader crashed: {type(error).__name__}: {error}"
        return report
    if spec.face_crop:
        loaded = _find_faces(report, loaded)
    samples = loaded.samples
    report.loaded = loaded
    report.samples = len(samples)
    report.subjects = len({s.subject for s in samples})
    report.fixes, report.normalised, report.excluded = (loaded.fixes, loaded.normalised,
                                                        loaded.excluded)
    report.problems = [line for sample in samples for line in clip_problems(sample)]
    report.problems += unmapped_labels(spec.name, samples)
    report.problems += [line for sample in samples for line in frame_problems(sample, deep=deep)]
    if not samples:
        report.error = (f"{folder}: no usable clip found ({len(loaded.excluded)} rows excluded); "
                        "check the dataset layout")
    return report


def _find_faces(report: DatasetReport, loaded: LoadedDataset) -> LoadedDataset:
    """The face-detection section; clips with no face become rows excluded, as runs see them."""
    cache = InputCache(cache_dir() / "inputs")  # the one runs use
    try:
        summary = face_detection_summary(loaded.samples, cache)
    except MerBenchError as error:
        report.problems.append(f"face detection stopped: {error}")
        return loaded
    report.sections.append(Section(SECTION_TITLE, [summary_line(summary)]))
    return without_faceless_rows(loaded, cache)


def clip_problems(sample: Sample) -> list[str]:
    """Frame-numbering findings for one clip (after errata and validation): gaps."""
    numbers = sample.frame_numbers
    gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b - a > 1]
    if not gaps:
        return []
    shown = ", ".join(f"{a + 1}..{b - 1}" for a, b in gaps[:3])
    return [f"{sample.sample_id}: frames missing inside the clip ({shown})"]


def unmapped_labels(dataset: str, samples: Iterable[Sample]) -> list[str]:
    """One line per label that no protocol of ``dataset`` maps: its samples are in no protocol.

    A typo such as 'confusion??' would otherwise drop its sample from every protocol silently.
    """
    from mer_bench.protocols import protocol_registry

    registry = protocol_registry()
    mapped: dict[str, set[str]] = {}  # label field -> raw labels some protocol maps
    for pid in registry.names():
        for source in registry.get(pid).sources:
            if source.dataset == dataset:
                mapped.setdefault(source.label_field, set()).update(source.class_map)
    lines = []
    samples = list(samples)
    for label_field, labels in mapped.items():
        unmapped = Counter()
        example: dict[str, str] = {}
        for sample in samples:
            raw = sample.emotion if label_field == "emotion" else sample.extra.get(label_field, "")
            label = normalise_label(str(raw))
            if label not in labels:
                unmapped[label] += 1
                example.setdefault(label, sample.origin or sample.sample_id)
        for label, count in sorted(unmapped.items()):
            lines.append(f"{count} samples with {label_field} {label!r}, which no protocol maps: "
                         f"they are in no protocol (e.g. {example[label]}); fix the label if it "
                         "is a typo")
    return lines


def frame_problems(sample: Sample, *, deep: bool = False) -> list[str]:
    """Frames of the clip that are empty, unreadable or corrupt: the key frames, or with ``deep``
    every frame (then also frames of a size other than the first's)."""
    if deep:
        paths = sample.frame_paths
    else:
        kf = sample.annotated
        wanted = {n for n in (kf.onset, kf.apex, kf.offset) if n is not None}
        paths = tuple(p for n, p in zip(sample.frame_numbers, sample.frame_paths) if n in wanted)
    problems, sizes = [], {}
    for path in paths:
        problem, size = _decode(path)
        if problem:
            problems.append(f"{sample.sample_id}: {problem}")
        elif size is not None:
            sizes.setdefault(size, path)
    if len(sizes) > 1:
        (size_a, a), (size_b, b) = list(sizes.items())[:2]
        problems.append(f"{sample.sample_id}: frames of different sizes in one clip ({a.name} "
                        f"{size_a[0]}x{size_a[1]}, {b.name} {size_b[0]}x{size_b[1]}); re-crop it")
    return problems


def _decode(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """(problem, None) for a frame file that cannot be used, else (None, its width x height).

    Decoding is Pillow's: OpenCV reads a truncated JPEG without an error (grey where the data
    ends), so only a full decode tells a corrupt frame from a good one.
    """
    try:
        if path.stat().st_size == 0:
            return f"{path}: empty frame file (0 bytes); restore it from the release", None
        with Image.open(path) as image:
            image.load()
            return None, image.size
    except PermissionError:
        return f"{path}: frame file cannot be read (permission denied); fix its permissions", None
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "corrupt"
        reason = " ".join(str(error).split()) or type(error).__name__
        return f"{path}: corrupt frame ({reason}); restore it from the release", None


def diagnose_sample_lists(root: Path, datasets: list[DatasetReport]) -> list[ListReport]:
    """The sample list of each protocol that has one and whose datasets are here and usable."""
    from mer_bench.protocols import protocol_registry

    by_name = {r.name: r for r in datasets}
    registry = protocol_registry()
    reports = []
    for pid in registry.names():
        protocol = registry.get(pid)
        parts = [by_name.get(name) for name in protocol.datasets]
        if not protocol.sample_lists or not all(p and p.loaded for p in parts):
            continue
        spec = next((s for s in protocol.sample_lists if (root / s.file).is_file()), None)
        if spec is None:  # like an absent dataset: the protocol is skipped, nothing is wrong
            reports.append(ListReport(pid, None))
            continue
        report = ListReport(pid, spec.file)
        try:
            listed = read_sample_list(root / spec.file)
            kept = select_listed([s for p in parts for s in p.loaded.samples], listed,
                                 protocol.datasets, [e for p in parts for e in p.excluded])
        except MerBenchError as error:
            report.error = str(error)
        else:
            report.entries = len(kept.samples) + len(kept.dropped)
            report.sha256, report.dropped = listed.sha256, kept.dropped
        reports.append(report)
    return reports


# --- rendering ------------------------------------------------------------------------------------


def render(diagnosis: Diagnosis, *, verbose: bool = False) -> str:
    """The doctor's report: a table of datasets, then every finding, dataset by dataset."""
    reports = diagnosis.datasets
    table = tabulate([[r.name, r.looked_for, r.status, r.samples or "", r.subjects or "",
                       len(r.fixes) or "", len(r.normalised) or "", len(r.excluded) or "",
                       len(r.problems) or ""] for r in reports],
                     headers=["dataset", "looked for", "status", "samples", "subjects",
                              "errata fixes", "labels normalised", "rows excluded", "problems"])
    blocks = [table]
    if not diagnosis.found:
        looked = ", ".join(f"{r.looked_for} ({r.title})" for r in reports)
        blocks.append(f"no dataset found under {diagnosis.root}; looked for: {looked}")
    for report in (r for r in reports if r.present):
        blocks += _dataset_blocks(report, verbose)
    for item in diagnosis.lists:
        blocks.append(_list_block(item, diagnosis.root))
    return "\n\n".join(blocks)


def _dataset_blocks(report: DatasetReport, verbose: bool) -> list[str]:
    blocks = []
    if report.error:
        blocks.append(f"{report.title}: {report.error}")
    if report.excluded:
        blocks.append(f"{report.title}: rows excluded ({len(report.excluded)}; each a row of the "
                      "annotation no erratum corrects, or a clip with no face to crop)\n"
                      + "\n".join(f"  {row}" for row in report.excluded))
    if report.fixes:  # every correction of the annotation, always: they are few
        by_rule: dict[str, list[str]] = {}
        for fix in report.fixes:
            by_rule.setdefault(fix.rule, []).append(f"{fix.sample_id}: {fix.what}")
        blocks.append(f"{report.title}: errata applied (corrections of the annotation)\n"
                      + _grouped(by_rule, shown=None))
    if report.normalised:
        by_spelling: dict[str, list[str]] = {}
        for item in report.normalised:
            by_spelling.setdefault(f"{item.written!r} -> {item.canonical!r}", []).append(
                item.sample_id)
        blocks.append(f"{report.title}: labels normalised (case and spaces; not errata)\n"
                      + _grouped(by_spelling, shown=None if verbose else 0))
    if report.problems:
        blocks.append(f"{report.title}: problems\n"
                      + "\n".join(f"  {line}" for line in report.problems))
    for section in report.sections:
        blocks.append(f"{report.title}: {section.title}\n"
                      + "\n".join(f"  {line}" for line in section.lines))
    return blocks


def _grouped(groups: dict[str, list[str]], *, shown: int | None) -> str:
    """Each group's size and its first ``shown`` items (None: all)."""
    lines = []
    for name, items in groups.items():
        lines.append(f"  {name}: {len(items)} samples")
        listed = items if shown is None else items[:shown]
        lines += [f"    {item}" for item in listed]
        if 0 < len(listed) < len(items):
            lines.append(f"    ... {len(items) - len(listed)} more (--verbose lists them)")
    return "\n".join(lines)


def _list_block(item: ListReport, root: Path) -> str:
    if item.file is None:
        from mer_bench.protocols import get_protocol

        files = " or ".join(s.file for s in get_protocol(item.protocol).sample_lists)
        return (f"{item.protocol}: no sample list under {root} (looked for {files}); the "
                "protocol is skipped until one is there")
    if item.error:
        return f"{item.protocol}: sample list: {item.error}"
    lines = [f"{item.protocol}: sample list {item.file} ({item.entries} entries, sha256 "
             f"{item.sha256[:12]}): every entry names one clip"]
    lines += [f"  dropped: {line}" for line in item.dropped]
    return "\n".join(lines)
