"""Sample lists: a protocol restricted to listed clips, as MEGC2019's ground-truth file does.

The official composite is not defined by class mapping alone: its CASME II part (88/32/25, 24
subjects) is a listed subset of what the mapping selects from the coding file. The list is the
MEGC2019 `combined_3class_gt.csv`: no header; rows `dataset, subject, filename, label` with
dataset `casme2` / `smic` / `samm` and subjects written `sub01` / `s01` / `6`.

A synthetic twin has no such file, so one is written for it: every mapped clip of the twin, less
a deterministic selection that brings each dataset's part to the published counts (scale 1).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Mapping, Sequence

from mer_bench.data.sample import Sample
from mer_bench.errors import DataError

# dataset column of the MEGC2019 file -> registry name
MEGC_DATASETS = {"casme2": "casme2", "smic": "smic-hs", "samm": "samm"}
MEGC_NAMES = {registry: megc for megc, registry in MEGC_DATASETS.items()}
MEGC_LABELS = ("negative", "positive", "surprise")  # label 0, 1, 2 of the file

# Published parts of the composite: counts per class and subjects (MEGC2019 Recognition Challenge)
MEGC_PARTS: dict[str, tuple[dict[str, int], int]] = {
    "smic-hs": ({"negative": 70, "positive": 51, "surprise": 43}, 16),
    "casme2": ({"negative": 88, "positive": 32, "surprise": 25}, 24),
    "samm": ({"negative": 92, "positive": 26, "surprise": 15}, 28),
}

ListKey = tuple[str, int, str]  # (dataset registry name, subject number, clip)


def _subject_number(text: str) -> int | None:
    digits = re.search(r"(\d+)\s*$", text)
    return int(digits.group(1)) if digits else None


def sample_key(sample: Sample) -> ListKey | None:
    number = _subject_number(sample.subject)
    return None if number is None else (sample.dataset, number, sample.clip)


def read_sample_list(path: Path) -> frozenset[ListKey]:
    """The clips a MEGC2019-style ground-truth file lists; a malformed row is a DataError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise DataError(f"{path}: cannot read the sample list ({error.strerror}); restore it")
    keys = set()
    for row_number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        cells = [cell.strip() for cell in row]
        dataset = MEGC_DATASETS.get(cells[0].lower()) if cells else None
        subject = _subject_number(cells[1]) if len(cells) > 2 else None
        if len(cells) < 3 or dataset is None or subject is None or not cells[2]:
            raise DataError(f"{path} row {row_number}: expected 'dataset, subject, filename, "
                            f"label' with dataset one of {', '.join(MEGC_DATASETS)}, got "
                            f"{','.join(cells)!r}; fix the row")
        keys.add((dataset, subject, cells[2]))
    if not keys:
        raise DataError(f"{path}: the sample list is empty; restore the MEGC2019 ground truth")
    return frozenset(keys)


def keep_listed(samples: Sequence[Sample], listed: frozenset[ListKey]) -> list[Sample]:
    return [sample for sample in samples if sample_key(sample) in listed]


def twin_selection(labelled: Sequence[tuple[str, str, str, str]],
                   parts: Mapping[str, tuple[Mapping[str, int], int]] = MEGC_PARTS
                   ) -> list[tuple[str, str, str, str]]:
    """The listed subset of a twin's mapped clips, given as (dataset, subject, clip, class).

    Per dataset part with more clips than published: first drop whole subjects, those with the
    fewest clips first, while the counts allow it (no class may fall below its published count);
    then drop single clips of over-full classes from the subjects richest in that class. Parts
    that cannot reach the published figures are left as they are (the count check says so).
    """
    chosen = []
    for dataset in sorted({item[0] for item in labelled}):
        part = [item for item in labelled if item[0] == dataset]
        if dataset in parts:
            counts, subjects = parts[dataset]
            part = _reduce_part(part, counts, subjects)
        chosen.extend(part)
    return chosen


def _reduce_part(part: list[tuple[str, str, str, str]], counts: Mapping[str, int],
                 subjects: int) -> list[tuple[str, str, str, str]]:
    by_subject: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    for item in part:
        by_subject[item[1]].append(item)
    have = Counter(item[3] for item in part)
    for subject in sorted(by_subject, key=lambda s: (len(by_subject[s]), s)):
        if len(by_subject) <= subjects:
            break
        lose = Counter(item[3] for item in by_subject[subject])
        if all(have[c] - lose[c] >= counts.get(c, 0) for c in lose):
            have -= lose
            del by_subject[subject]
    kept = [item for subject in sorted(by_subject) for item in by_subject[subject]]
    for label, target in counts.items():
        while have[label] > target:
            holdings = Counter(item[1] for item in kept if item[3] == label)
            donor = max(holdings, key=lambda s: (holdings[s], s))
            if holdings[donor] < 2:
                break  # dropping it would remove a subject
            victim = max(i for i, item in enumerate(kept) if item[1] == donor and item[3] == label)
            del kept[victim]
            have[label] -= 1
    return kept


def write_sample_list(path: Path, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Write rows (dataset, subject, clip, class) in the MEGC2019 file format, atomically."""
    lines = [f"{MEGC_NAMES.get(d, d)},{s},{c},{MEGC_LABELS.index(label)}"
             for d, s, c, label in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent runs: one each
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)
