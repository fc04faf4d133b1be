"""A missing apex, filled once per sample by its dataset's rule: one apex for every strategy and side.

After errata, ``Sample.annotated.apex is None`` means the apex is missing (not coded, or coded so
badly that an erratum dropped it). Each dataset names in ``DatasetSpec.missing_apex`` the rule that
fills it:

- ``midpoint``: the clip frame nearest the onset..offset middle, (onset + offset) // 2, the earlier
  of two equally near (the convention of MEB and HTNet). For datasets that code apexes and miss a
  few (CASME II's '/', SAMM's unmarked ones): the gap is in the annotation, not in the data.
- ``apex-finder``: for datasets that code no apex at all (SMIC's three cameras): the frame strictly
  between onset and offset farthest from both, max d(o, t) + d(t, f) in float pixel L2
  (`find_apex`). A clip with no frame strictly inside its span gets the midpoint, and is counted
  under that rule.

Every keyframe strategy, the annotated one included, and both sides of a fold take this same apex,
so two arms differ only in what a strategy does beyond it. Filling is not a correction of the
annotation: errata never fill, and the record keeps the apex as coded beside the rule that filled it.

The finder's result is decided once per sample and annotation: memoised in the process, and cached
on disk under the cache folder, keyed on the identity (path, size, mtime) of every frame it decodes,
so later runs do not decode the clip again.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DATASETS
from mer_bench.datasource import cache_dir
from mer_bench.errors import ConfigError, DataError, UnknownNameError
from mer_bench.frame_distance import PairDistance, PixelDistance
from mer_bench.inputs.cache import InputCache
from mer_bench.inputs.files import file_identity, frame_position
from mer_bench.inputs.frames import read_frames

ApexRule = Literal["midpoint", "apex-finder"]
APEX_RULES: tuple[str, ...] = ("midpoint", "apex-finder")
DEFAULT_RULE: ApexRule = "midpoint"
# Part of the finder's disk-cache key: bump it when `find_apex` may choose differently, so that no
# entry of the old finder is read back.
FINDER_VERSION = 1


@dataclass(frozen=True)
class FilledApex:
    """The apex a sample's inputs are built from (a frame number) and the rule that filled it
    (None: the annotated apex)."""

    apex: int
    rule: ApexRule | None


def dataset_rule(dataset: str) -> ApexRule:
    """The missing-apex rule the dataset's spec names; the midpoint for a dataset the registry does
    not know (hand-made samples)."""
    try:
        rule = DATASETS.get(dataset).missing_apex
    except UnknownNameError:
        return DEFAULT_RULE
    if rule not in APEX_RULES:
        raise ConfigError(f"dataset {dataset}: missing_apex {rule!r} is unknown; use one of "
                          f"{', '.join(APEX_RULES)}")
    return rule


def fill_rule(sample: Sample, keyframes: KeyFrames | None = None) -> ApexRule | None:
    """The rule that fills the apex of ``keyframes`` (default: the annotation); None if it has one.

    Decided without decoding a frame, so the doctor can count fills cheaply.
    """
    keyframes = sample.annotated if keyframes is None else keyframes
    if keyframes.apex is not None:
        return None
    rule = dataset_rule(sample.dataset)
    if rule == "apex-finder":
        onset, offset = _span(sample, keyframes)
        if offset - onset < 2:
            return "midpoint"  # no frame strictly inside the span to search
    return rule


def fill_apex(sample: Sample, keyframes: KeyFrames | None = None) -> FilledApex:
    """The apex of ``keyframes`` (default: the annotation), filled by the dataset's rule if missing."""
    keyframes = sample.annotated if keyframes is None else keyframes
    rule = fill_rule(sample, keyframes)
    if rule is None:
        assert keyframes.apex is not None
        return FilledApex(keyframes.apex, None)
    if rule == "apex-finder":
        return FilledApex(found_apex(sample, keyframes.onset, keyframes.offset), rule)
    return FilledApex(midpoint_apex(sample, keyframes.onset, keyframes.offset), rule)


def with_apex(sample: Sample, keyframes: KeyFrames | None = None) -> KeyFrames:
    """``keyframes`` (default: the annotation) with a missing apex filled by the dataset's rule."""
    keyframes = sample.annotated if keyframes is None else keyframes
    if keyframes.apex is not None:
        return keyframes
    return KeyFrames(keyframes.onset, fill_apex(sample, keyframes).apex, keyframes.offset)


def midpoint_apex(sample: Sample, onset: int, offset: int) -> int:
    """The clip frame nearest (onset + offset) // 2, the earlier of two equally near."""
    if not sample.frame_numbers:
        raise DataError(f"{sample.sample_id}: the clip has no frames; restore its frame files")
    middle = (onset + offset) // 2
    return min(sample.frame_numbers, key=lambda number: (abs(number - middle), number))


def find_apex(distance: PairDistance, onset: int, offset: int) -> int:
    """Position strictly between ``onset`` and ``offset`` farthest from both: max d(o, t) + d(t, f).

    Far from the onset alone would favour late frames under slow drift (head motion, lighting);
    adding the distance to the offset penalises drift from both ends. Ties go to the position
    nearest the middle of onset and offset, the earlier of two. Needs offset - onset >= 2.
    """
    candidates = list(range(onset + 1, offset))
    if not candidates:
        raise ValueError(f"no frame lies strictly between onset {onset} and offset {offset}")
    # The candidate is the minuend on both sides, as an apex is in reselection.
    score = (distance([onset], candidates, minuend="columns")[0]
             + distance(candidates, [offset], minuend="rows")[:, 0])
    middle = (onset + offset) / 2
    best = [p for p, s in zip(candidates, score, strict=True) if s == score.max()]
    return min(best, key=lambda p: (abs(p - middle), p))


_lock = threading.Lock()
_memory: dict[tuple[object, ...], int] = {}


def found_apex(sample: Sample, onset: int, offset: int) -> int:
    """The apex finder's frame for the span ``onset``..``offset`` (frame numbers) of the clip.

    Memoised in the process and cached on disk (see the module docstring); a frame that cannot be
    decoded is a DataError naming its file.
    """
    first, last = _span(sample, KeyFrames(onset, None, offset))
    paths = sample.frame_paths[first:last + 1]
    memory_key = (paths, sample.frame_numbers[first:last + 1])
    with _lock:
        known = _memory.get(memory_key)
    if known is None:
        disk_key = {"input": "apex-finder", "version": FINDER_VERSION,
                    "frames": [file_identity(path) for path in paths]}

        def search() -> np.ndarray:
            frames = dict(enumerate(read_frames(paths)))
            return np.array([find_apex(PixelDistance(frames), 0, len(paths) - 1)], dtype=np.int64)

        # Stored as a position inside the span, so the entry holds only what the frames decide.
        known = int(InputCache(cache_dir() / "inputs").get_or_build(disk_key, search)[0])
        with _lock:
            _memory[memory_key] = known
    return sample.frame_numbers[first + known]


def forget_found_apexes() -> None:
    """Empty the in-process memo (the disk cache stays): for tests that count decodes."""
    with _lock:
        _memory.clear()


def apex_fill_counts(samples: Iterable[Sample]) -> Counter[str]:
    """How many of ``samples`` have their apex filled, per rule (no frame is decoded)."""
    return Counter(rule for rule in map(fill_rule, samples) if rule is not None)


def apex_fill_config(datasets: Sequence[str]) -> dict[str, str]:
    """The rules of ``datasets`` that differ from the midpoint, for a record's config.

    The midpoint is what the old missing-apex erratum applied at load time, so leaving it out keeps
    the config hash of every record whose key frames did not change.
    """
    rules = {name: dataset_rule(name) for name in datasets}
    return {name: rule for name, rule in rules.items() if rule != DEFAULT_RULE}


def _span(sample: Sample, keyframes: KeyFrames) -> tuple[int, int]:
    return (frame_position(sample, keyframes.onset, "onset"),
            frame_position(sample, keyframes.offset, "offset"))
