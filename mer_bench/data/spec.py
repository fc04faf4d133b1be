"""What the core knows about a dataset: its reader, its folder under a data root, its twin."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from mer_bench.data.errata import COMMON_RULES, ErratumRule
from mer_bench.data.sample import Rows, Sample
from mer_bench.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset in its native layout.

    ``folder`` is the directory name under a data root (``<data-root>/CASME2``);
    ``read(dataset_dir)`` returns the rows as written (see ``Rows``; a plugin's reader may return
    a plain list of samples), samples sorted by (subject, clip); ``mer_bench.data.loading`` turns them into the dataset's samples;
    ``write_twin(out_dir, scale, seed)`` writes a synthetic twin into ``out_dir`` in the same
    native layout, readable by ``read``; ``twin_version`` names the generator's output version;
    ``face_crop`` is True for datasets shipped without face crops: every input representation then
    crops each clip to one detected face box (see ``mer_bench.inputs.face_crop``);
    ``errata`` are the rules applied after reading (see ``mer_bench.data.errata``), in order;
    ``missing_apex`` names the rule that fills an apex still missing after them: ``"midpoint"`` or
    ``"apex-finder"`` for datasets that code no apex (see ``mer_bench.missing_apex``).
    ``key_columns`` name the onset, apex and offset as the annotation file does, for messages;
    ``markers`` are folders inside ``folder`` of which one must exist for the dataset to count as
    present (SMIC's three cameras share one folder; empty: the folder itself is enough).
    """

    name: str
    title: str
    folder: str
    fps: float
    read: Callable[[Path], Rows | Sequence[Sample]]
    write_twin: Callable[[Path, float, int], None] | None = None
    twin_version: str = ""
    face_crop: bool = False
    errata: tuple[ErratumRule, ...] = COMMON_RULES
    missing_apex: str = "midpoint"
    key_columns: tuple[str, str, str] = ("onset", "apex", "offset")
    markers: tuple[str, ...] = ()

    def present_in(self, dataset_dir: Path) -> bool:
        """Whether ``dataset_dir`` (``<root>/<folder>``) holds this dataset."""
        return dataset_dir.is_dir() and (
            not self.markers or any((dataset_dir / marker).is_dir() for marker in self.markers))

    @property
    def looked_for(self) -> str:
        """Where under a data root the dataset is looked for, as messages show it."""
        return f"{self.folder}/{self.markers[0]}/" if self.markers else f"{self.folder}/"


def lazy_twin(target: str) -> Callable[[Path, float, int], None]:
    """A ``write_twin`` that imports ``"module:function"`` only when called, so reading real data
    never loads the twin renderer."""
    module_name, _, function = target.partition(":")

    def write_twin(out_dir: Path, scale: float, seed: int) -> None:
        writer = getattr(importlib.import_module(module_name), function)
        writer(out_dir, scale=scale, seed=seed)

    return write_twin


DATASETS: Registry[DatasetSpec] = Registry("dataset", entry_point_group="mer_bench.datasets")
DATASETS.register("casme2", "mer_bench.data.casme2:CASME2")
DATASETS.register("mmew", "mer_bench.data.mmew:MMEW")
DATASETS.register("samm", "mer_bench.data.samm:SAMM")
DATASETS.register("4dme", "mer_bench.data.fourdme:FOURDME")
DATASETS.register("smic-hs", "mer_bench.data.smic:SMIC_HS")
DATASETS.register("smic-vis", "mer_bench.data.smic:SMIC_VIS")
DATASETS.register("smic-nir", "mer_bench.data.smic:SMIC_NIR")
DATASETS.register("casme", "mer_bench.data.casme:CASME")
DATASETS.register("casme3", "mer_bench.data.casme3:CASME3")
DATASETS.register("casme-sq", "mer_bench.data.casme_sq:CASME_SQ")
