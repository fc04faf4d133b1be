"""The Sample record every reader produces and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


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
