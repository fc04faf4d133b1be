"""The Sample record every reader produces and every later stage consumes, and what a reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping


def normalise_label(label: str) -> str:
    """Emotion labels compare case- and space-insensitively ('Others' == 'others ')."""
    return " ".join(label.split()).lower()


@dataclass(frozen=True)
class KeyFrames:
    """Onset / apex / offset as the dataset's own frame numbers (not list indices).

    ``apex`` is None where a dataset annotates none (SMIC) or the annotation is missing.
    """

    onset: int
    apex: int | None
    offset: int

    def as_dict(self) -> dict[str, int | None]:
        return {"onset": self.onset, "apex": self.apex, "offset": self.offset}


@dataclass(frozen=True)
class Sample:
    """One annotated micro-expression clip.

    ``frame_paths`` is sorted by frame number and ``frame_numbers[i]`` is the number of
    ``frame_paths[i]``. ``subject`` is the dataset's subject id as text (e.g. "sub01").
    True key frames of synthetic twins are deliberately absent: only evaluation reads them,
    from the twin's sidecar file.
    """

    dataset: str
    subject: str
    clip: str
    frame_paths: tuple[Path, ...]
    frame_numbers: tuple[int, ...]
    fps: float
    annotated: KeyFrames
    emotion: str
    action_units: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    # where the sample was read, as messages name it: "<file>: row <n>", or its clip folder
    origin: str = ""

    @property
    def sample_id(self) -> str:
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def subject_key(self) -> str:
        """Subject id namespaced by dataset, so composite folds never merge two people."""
        return f"{self.dataset}/{self.subject}"

    def index_of(self, frame_number: int) -> int:
        """Position of ``frame_number`` in ``frame_paths``; ValueError if the clip lacks it."""
        return self.frame_numbers.index(frame_number)

    def path_of(self, frame_number: int) -> Path:
        return self.frame_paths[self.index_of(frame_number)]


Frames = tuple[tuple[int, ...], tuple[Path, ...]]


@dataclass(frozen=True)
class Excluded:
    """A row (or clip folder) left out of its dataset, and why, in one line naming file and row.

    ``sample_id`` is None where the row did not even parse into a sample.
    """

    reason: str
    sample_id: str | None = None

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Rows:
    """What a reader returns: the annotation as written, parsed (a text cell '355' is frame 355)
    but not judged, and the rows that could not be parsed into a sample at all.

    ``frames_of`` is set by readers whose clips are ranges of a long video (CAS(ME)^2,
    CAS(ME)^3): their samples come without frames, which are looked up from each sample's
    onset..offset only after the errata have corrected it (see ``mer_bench.data.loading``).
    """

    samples: list[Sample]
    excluded: list[Excluded] = field(default_factory=list)
    frames_of: Callable[[Sample], Frames] | None = None
