"""Twins at full scale in seconds: the annotation files exactly as the twin writes them, every frame
one small image (a face) hard-linked in place, so tests can read whole datasets as released."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest

# twin modules that render frames through writer.write_frames (imported by name)
TWIN_MODULES = ("mer_bench.synth.casme2", "mer_bench.synth.casme3", "mer_bench.synth.samm",
                "mer_bench.synth.smic")


def placeholder_image() -> np.ndarray:
    """A 56 x 56 grey frame holding a 40 px twin face: datasets shipped without face crops need a
    face on every clip (a clip without one is excluded on loading), and finding it takes ~2 ms."""
    from mer_bench.synth.face import render_face
    from mer_bench.synth.plan import STREAM_FACE, stream

    frame = np.full((56, 56, 3), 96, np.uint8)
    frame[8:48, 8:48] = np.clip(render_face(stream(0, STREAM_FACE, 1), 40).image, 0, 255)
    return frame


def write_placeholder_frames(plans, seed, fps, distractors, frame_path, *, scene=None,
                             grey=False) -> int:
    """``writer.write_frames``'s contract (a file at ``frame_path(plan, n)`` for every frame of
    every plan), each file a link to one small face image per suffix."""
    first: dict[str, Path] = {}
    written = 0
    for plan in plans:
        for number in plan.frame_numbers:
            path = frame_path(plan, int(number))
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():  # clips of one long video may share a frame
                continue
            if path.suffix in first:
                os.link(first[path.suffix], path)
            else:
                ok, encoded = cv2.imencode(path.suffix, placeholder_image())
                assert ok
                path.write_bytes(encoded.tobytes())
                first[path.suffix] = path
            written += 1
    return written


@contextmanager
def placeholder_frames() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for module in TWIN_MODULES:
            patch.setattr(f"{module}.write_frames", write_placeholder_frames)
        yield


def write_megc_lists(root: Path, *names: str) -> None:
    """The MEGC2019 list files ``names`` under ``root``/MEGC2019, written (as for twins) from the
    CASME II, SMIC-HS and SAMM twins under ``root``, each in its published format."""
    from mer_bench.data.loading import load_dataset_dir
    from mer_bench.data.sample_list import twin_selection, write_sample_list
    from mer_bench.data.spec import DATASETS
    from mer_bench.protocols import get_protocol

    protocol = get_protocol("megc2019-3class")
    samples = [s for name in protocol.datasets
               for s in load_dataset_dir(DATASETS.get(name), root / DATASETS.get(name).folder
                                         ).samples]
    rows = [(s.dataset, s.subject, s.clip, protocol.classes[label]) for s in samples
            if (label := protocol.label_of(s)) is not None]
    for name in names:
        write_sample_list(root / "MEGC2019" / name, twin_selection(rows))
