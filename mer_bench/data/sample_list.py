"""Sample lists: a protocol restricted to listed clips, as MEGC2019's ground-truth files do.

The official composite is not defined by class mapping alone: its CASME II part (88/32/25, 24
subjects) is a listed subset of what the mapping selects from the coding file. MEGC2019 publishes
the list in two versions (counted from both files in Facial-Micro-ExpressionGC/MEGC2019/images/):

- ``combined_3class_gt.csv``: 442 entries, the counts of the Recognition Challenge;
- ``combined_3class_gt-2.csv``, the official answer file: 441 entries (SAMM ``032_3_1``, a
  negative, is absent), and an empty ``,,,`` line after every entry.

Both have no header; rows are ``dataset, subject, filename, label`` with dataset ``casme2`` /
``smic`` / ``samm``, subjects written ``sub01`` / ``s01`` / ``6`` and labels 0 / 1 / 2 (negative,
positive, surprise). Both name SMIC clips ``s01_ne_01`` where the SMIC release's folders are
``s1_ne_01``: entries and clips are compared case-insensitively with numbers by value, so
``s01_ne_01`` is ``s1_ne_01`` and ``sub01`` is subject 1, without the user editing anything.

A list is a contract: every entry of the protocol's datasets must match exactly one clip. An entry
that matches none, or several, or repeats another is an error naming the file and row; an entry
whose clip was excluded on loading (a bad row) is dropped and said so, and the count check then
reports it.

A synthetic twin has no such file, so both versions are written for it in the official formats:
every mapped clip of the twin, less a deterministic selection that brings each dataset's part to
the published counts (scale 1), and for ``-2.csv`` less one SAMM negative as in the real file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Mapping, Sequence

from mer_bench.data.sample import Excluded, Sample
from mer_bench.errors import DataError

# dataset column of the MEGC2019 file -> registry name
MEGC_DATASETS = {"casme2": "casme2", "smic": "smic-hs", "samm": "samm"}
MEGC_NAMES = {registry: megc for megc, registry in MEGC_DATASETS.items()}
MEGC_LABELS = ("negative", "positive", "surprise")  # label 0, 1, 2 of the file

# The two published versions of the list, by file name.
MEGC_LIST = "combined_3class_gt.csv"  # 442 entries
MEGC_ANSWER_FILE = "combined_3class_gt-2.csv"  # 441 entries, ',,,' after each, SAMM 032_3_1 absent
MEGC_ANSWER_FILE_ABSENT = ("samm", "032_3_1")

# Published parts of the composite: counts per class and subjects (MEGC2019 Recognition Challenge)
MEGC_PARTS: dict[str, tuple[dict[str, int], int]] = {
    "smic-hs": ({"negative": 70, "positive": 51, "surprise": 43}, 16),
    "casme2": ({"negative": 88, "positive": 32, "surprise": 25}, 24),
    "samm": ({"negative": 92, "positive": 26, "surprise": 15}, 28),
}

ListKey = tuple[str, int, str]  # (dataset registry name, subject number, clip as compared)


def _subject_number(text: str) -> int | None:
    digits = re.search(r"(\d+)\s*$", text)
    return int(digits.group(1)) if digits else None


def clip_key(name: str) -> str:
    """A clip name as lists and folders are compared: any case, numbers by value ('s01_ne_01' and
    'S1_ne_1' are one clip)."""
    return re.sub(r"\d+", lambda digits: str(int(digits.group())), name.strip().casefold())


def sample_key(sample: Sample) -> ListKey | None:
    number = _subject_number(sample.subject)
    return None if number is None else (sample.dataset, number, clip_key(sample.clip))


@dataclass(frozen=True)
class ListEntry:
    row: int  # line number in the file
    dataset: str  # registry name
    subject: str  # as written
    clip: str  # as written
    key: ListKey

    def __str__(self) -> str:
        return f"{MEGC_NAMES.get(self.dataset, self.dataset)} {self.subject} {self.clip}"


@dataclass(frozen=True)
class SampleList:
    """A sample list file as read: its entries, and the SHA-256 of its bytes (recorded by runs)."""

    path: Path
    entries: tuple[ListEntry, ...]
    sha256: str


def read_sample_list(path: Path) -> SampleList:
    """The entries of a MEGC2019-style list; blank lines (``,,,``) are passed over; a malformed
    row is a DataError naming it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the sample list ({error.strerror}); restore it")
    text = data.decode("utf-8-sig", errors="replace")
    entries = []
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
        entries.append(ListEntry(row_number, dataset, cells[1], cells[2],
                                 (dataset, subject, clip_key(cells[2]))))
    if not entries:
        raise DataError(f"{path}: the sample list is empty; restore the MEGC2019 ground truth")
    return SampleList(path, tuple(entries), hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class Listed:
    """The samples a list selects, and its entries that name clips excluded on loading."""

    samples: list[Sample]
    dropped: list[str]  # one line per entry whose clip was excluded


def select_listed(samples: Sequence[Sample], listed: SampleList, datasets: Collection[str],
                  excluded: Sequence[Excluded] = ()) -> Listed:
    """The samples ``listed`` names, keeping the contract: each entry of ``datasets`` matches
    exactly one clip (entries of other datasets are not this protocol's).

    An entry naming no clip, several clips or the clip of an earlier entry is a DataError naming
    the file and row; one naming a clip in ``excluded`` is dropped and said so.
    """
    by_key: dict[ListKey, list[Sample]] = defaultdict(list)
    for sample in samples:
        key = sample_key(sample)
        if key is not None:
            by_key[key].append(sample)
    excluded_keys = {}
    for item in excluded:
        if item.sample_id:
            dataset, subject, clip = item.sample_id.split("/", 2)
            number = _subject_number(subject)
            if number is not None:
                excluded_keys[(dataset, number, clip_key(clip))] = item
    chosen, dropped, first_row = [], [], {}
    for entry in listed.entries:
        if entry.dataset not in datasets:
            continue
        where = f"{listed.path} row {entry.row}"
        if entry.key in first_row:
            raise DataError(f"{where}: {entry} repeats row {first_row[entry.key]}; delete one "
                            "of the two rows")
        first_row[entry.key] = entry.row
        matches = by_key.get(entry.key, [])
        if len(matches) > 1:
            names = ", ".join(s.sample_id for s in matches)
            raise DataError(f"{where}: {entry} matches {len(matches)} clips ({names}); rename "
                            "one of the clip folders")
        if matches:
            chosen.append(matches[0])
        elif entry.key in excluded_keys:
            dropped.append(f"{where}: {entry} names a clip excluded on loading "
                           f"({excluded_keys[entry.key]})")
        else:
            raise DataError(f"{where}: {entry} matches no clip of {entry.dataset} under the data "
                            "root; restore the clip or use the list of the release you hold")
    return Listed(chosen, dropped)


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


def megc_rows(rows: Sequence[tuple[str, str, str, str]]) -> list[tuple[str, str, str, int]]:
    """Rows (dataset, subject, clip, class) as MEGC2019 writes them: SMIC subjects and clips
    ``s01`` / ``s01_ne_01``, SAMM subjects as plain numbers ``6``, labels 0 / 1 / 2."""
    written = []
    for dataset, subject, clip, label in rows:
        if dataset == "smic-hs":
            clip = re.sub(r"^s(\d+)_", lambda m: f"s{int(m.group(1)):02d}_", clip)
        elif dataset == "samm":
            subject = str(int(subject))
        written.append((MEGC_NAMES.get(dataset, dataset), subject, clip,
                        MEGC_LABELS.index(label)))
    return written


def write_sample_list(path: Path, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Write rows (dataset, subject, clip, class) in the format of the MEGC2019 version that
    ``path`` names, atomically: the answer file ``-2.csv`` without SAMM 032_3_1 (without the last
    SAMM negative where there is no such clip) and with ``,,,`` after every entry."""
    written = megc_rows(rows)
    blank_after = path.name == MEGC_ANSWER_FILE
    if blank_after:
        written = _without_the_absent_samm_entry(written)
    lines = []
    for row in written:
        lines.append(",".join(map(str, row)))
        if blank_after:
            lines.append(",,,")
    text = "\n".join(lines) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return  # parallel jobs rewrite the twins' lists: leave an identical file alone
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent runs: one each
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _without_the_absent_samm_entry(rows: list[tuple[str, str, str, int]]
                                   ) -> list[tuple[str, str, str, int]]:
    """``rows`` less SAMM 032_3_1, or where there is none (a twin), less the last SAMM negative
    whose subject keeps another entry, so the subjects stay 68."""
    per_subject = Counter((row[0], row[1]) for row in rows)
    samm_negative = [i for i, row in enumerate(rows) if row[0] == "samm" and row[3] == 0]
    named = [i for i in samm_negative if (rows[i][0], rows[i][2]) == MEGC_ANSWER_FILE_ABSENT]
    others = [i for i in samm_negative if per_subject[(rows[i][0], rows[i][1])] > 1]
    drop = named or others[-1:]
    return [row for i, row in enumerate(rows) if i not in drop]
