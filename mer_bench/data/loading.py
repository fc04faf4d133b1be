"""Loading one dataset the one way: rows as written -> labels normalised -> errata -> validation.

Readers parse (a text cell '355' is frame 355) but do not judge. The dataset's errata then correct
the rows they know (MEB's six CAS(ME)^3 rows, a far-off apex, ...), and only then does validation
judge what remains: onset not after offset, apex inside onset..offset, every key frame a frame of
the clip. A row that fails, or that could not be parsed, is excluded with a one-line reason naming
its file and row: one bad row never sinks a dataset. ``mer-bench doctor`` lists the exclusions,
runs count them, and ``--strict`` makes any of them an error.

Writing a label in one case and spacing ('Others' as 'others') is a normalisation, not an erratum:
it is reported apart, so that "errata fixes" counts corrections of the annotation only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from mer_bench.data.errata import AppliedFix, apply_errata
from mer_bench.data.sample import Excluded, Frames, Rows, Sample, normalise_label
from mer_bench.data.spec import DatasetSpec
from mer_bench.errors import DataError


@dataclass(frozen=True)
class Normalised:
    """A label written in another case or spacing than the canonical one."""

    sample_id: str
    written: str
    canonical: str


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset's samples and what loading did: errata fixes, normalisations, exclusions."""

    samples: list[Sample]
    fixes: list[AppliedFix]
    normalised: list[Normalised]
    excluded: list[Excluded]


def load_dataset_dir(spec: DatasetSpec, dataset_dir: Path) -> LoadedDataset:
    """Read ``dataset_dir`` with ``spec``'s reader, normalise, apply its errata, validate.

    A DataError naming the dataset as a whole (no workbook, a missing column) still propagates:
    then nothing of the dataset can be read.
    """
    rows = spec.read(dataset_dir)
    if not isinstance(rows, Rows):  # a plugin's reader may return its samples as a plain list
        rows = Rows(list(rows))
    samples, normalised = normalise_labels(rows.samples)
    samples, fixes = apply_errata(samples, spec.errata)
    fixed_by: dict[str, list[str]] = {}
    for fix in fixes:
        fixed_by.setdefault(fix.sample_id, []).append(fix.rule)
    kept, excluded = [], list(rows.excluded)
    for sample in samples:
        try:
            kept.append(validate_sample(sample, spec.key_columns, rows.frames_of))
        except DataError as error:
            rules = fixed_by.get(sample.sample_id)
            after = f" (after the errata {', '.join(rules)})" if rules else ""
            excluded.append(Excluded(f"{error}{after}", sample.sample_id))
    kept_ids = {sample.sample_id for sample in kept}
    return LoadedDataset(kept, [f for f in fixes if f.sample_id in kept_ids],
                         [n for n in normalised if n.sample_id in kept_ids], excluded)


def normalise_labels(samples: Sequence[Sample]) -> tuple[list[Sample], list[Normalised]]:
    """Every emotion label in its canonical spelling (lower case, single spaces)."""
    out, changed = [], []
    for sample in samples:
        canonical = normalise_label(sample.emotion)
        if canonical != sample.emotion:
            changed.append(Normalised(sample.sample_id, sample.emotion, canonical))
            sample = dataclasses.replace(sample, emotion=canonical)
        out.append(sample)
    return out, changed


def validate_sample(sample: Sample, key_columns: tuple[str, str, str],
                    frames_of: Callable[[Sample], Frames] | None = None) -> Sample:
    """The sample if its key frames are in order and are frames of its clip; else a DataError.

    ``frames_of`` first looks the frames up for long-video clips (see ``Rows.frames_of``).
    """
    onset_name, apex_name, offset_name = key_columns
    kf = sample.annotated
    where = sample.origin or sample.sample_id
    if kf.onset > kf.offset:
        raise DataError(f"{where}: {onset_name} {kf.onset} is after {offset_name} {kf.offset}; "
                        "fix the two cells")
    if kf.apex is not None and not kf.onset <= kf.apex <= kf.offset:
        raise DataError(f"{where}: {apex_name} {kf.apex} is outside {onset_name}..{offset_name} "
                        f"{kf.onset}..{kf.offset}; fix the cell")
    if frames_of is not None:
        numbers, paths = frames_of(sample)
        sample = dataclasses.replace(sample, frame_numbers=numbers, frame_paths=paths)
    numbers = sample.frame_numbers
    if not numbers:
        raise DataError(f"{where}: the clip has no frames; restore them or delete the row")
    present = set(numbers)
    folder = sample.frame_paths[0].parent
    for name, number in ((onset_name, kf.onset), (apex_name, kf.apex), (offset_name, kf.offset)):
        if number is not None and number not in present:
            inside = numbers[0] <= number <= numbers[-1]
            raise DataError(f"{where}: {name} {number} has no frame in {folder} "
                            f"({'a gap in ' if inside else ''}frames {numbers[0]}..{numbers[-1]}); "
                            "fix the cell or restore the frame")
    return sample
