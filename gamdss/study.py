"""Truth study: annotated vs reselected key frames against the true key frames of every twin.

For every registered dataset that has a synthetic twin, and for several annotator models, the mean
absolute error (frames and fraction of the true span) of the annotation and of each strategy's
choice. The annotator models (`VARIANTS`) are derived from the twin's own (its manifest's
``annotator``): ``native`` is the twin as written; the others re-annotate the same clips (same
frames, same truth) in memory, with a seeded stream per sample, so that no twin is rendered twice
and every dataset's twin takes part without its writer knowing about the study.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from gamdss.analysis import KEY_FRAMES, error_summary, keyframe_errors
from gamdss.reselect import make_strategy
from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.data.spec import DATASETS, DatasetSpec
from mer_bench.datasource import DataSource, load_samples, resolve_data_source, twin_scale_of
from mer_bench.keyframes import KEYFRAME_STRATEGIES
from mer_bench.missing_apex import apex_fill_counts
from mer_bench.synth.annotator import AnnotatorModel
from mer_bench.synth.truth import load_truth

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AnnotatorVariant:
    """A way of annotating a twin's clips, derived from the twin's own annotator model."""

    name: str
    description: str
    derive: Callable[[AnnotatorModel], AnnotatorModel]


def _biased(native: AnnotatorModel, sign: float, jitter: float = 1.0) -> AnnotatorModel:
    # "+ 0.0" turns -0.0 into 0.0, so a zero bias never prints as "-0".
    return AnnotatorModel(
        onset_bias=sign * native.onset_bias + 0.0, apex_bias=sign * native.apex_bias + 0.0,
        offset_bias=sign * native.offset_bias + 0.0, onset_sd=jitter * native.onset_sd,
        apex_sd=jitter * native.apex_sd, offset_sd=jitter * native.offset_sd)


VARIANTS: tuple[AnnotatorVariant, ...] = (
    AnnotatorVariant("native", "the twin as written: the dataset's annotator model (for CASME II "
                     "GAMDSS's reading: onset early, apex late, offset a little late)",
                     lambda native: native),
    AnnotatorVariant("symmetric", "no bias, the native jitter: every key frame as often early as "
                     "late", lambda native: _biased(native, 0.0)),
    AnnotatorVariant("reversed", "every native bias negated (onset late, apex early, offset "
                     "early): the opposite of what the search assumes", lambda native: _biased(native, -1.0)),
    AnnotatorVariant("exact", "annotation = truth (no bias, no jitter): a control, where every "
                     "move is an error", lambda native: _biased(native, 0.0, 0.0)),
)


def default_strategies() -> list[str]:
    """Every registered strategy but ``annotated`` (the baseline column), plus GAMDSS on flow."""
    return [name for name in KEYFRAME_STRATEGIES.names() if name != "annotated"] + [
        "gamdss[distance=flow]"]


def twin_datasets() -> list[DatasetSpec]:
    """Registered datasets that have a synthetic twin (the study grows as twins are added)."""
    specs = [DATASETS.get(name) for name in DATASETS.names()]
    return [spec for spec in specs if spec.write_twin is not None]


def native_annotator(dataset_dir: Path) -> AnnotatorModel | None:
    """The annotator model a twin was written with, from its manifest; None if not recorded."""
    path = Path(dataset_dir) / "twin_manifest.json"
    if not path.is_file():
        return None
    recorded = json.loads(path.read_text(encoding="utf-8")).get("annotator")
    return AnnotatorModel(**recorded) if isinstance(recorded, dict) else None


def reannotate(samples: Sequence[Sample], truth: Mapping[str, KeyFrames], model: AnnotatorModel,
               *, seed: int, variant: str) -> list[Sample]:
    """The samples with annotations drawn from ``model``; a missing apex stays missing."""
    result = []
    for sample in samples:
        rng = np.random.default_rng(np.random.SeedSequence(
            [seed, zlib.crc32(variant.encode()), zlib.crc32(sample.sample_id.encode())]))
        drawn = model.annotate(truth[sample.sample_id], sample.frame_numbers[0],
                               sample.frame_numbers[-1], rng)
        if sample.annotated.apex is None:
            drawn = KeyFrames(drawn.onset, None, drawn.offset)
        result.append(replace(sample, annotated=drawn))
    return result


@dataclass
class StudyResult:
    """Errors per (dataset, variant, strategy, key frame), fallbacks, timings, and the set-up."""

    scale: float
    seed: int
    strategies: list[str]
    table: pd.DataFrame
    fallbacks: pd.DataFrame
    seconds_per_clip: pd.DataFrame
    annotators: dict[tuple[str, str], AnnotatorModel] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)  # name -> data description
    # name -> apex MAE (frames) of the onset..offset midpoint on the twin's own annotation: the
    # convention of MEB / HTNet for clips without an apex, the bar for the apex finder.
    midpoint_apex_mae: dict[str, float] = field(default_factory=dict)


def run_study(*, scale: float = 1.0, seed: int = 0, strategies: Sequence[str] | None = None,
              datasets: Sequence[str] | None = None, progress: Progress | None = None,
              twins_root: Path | None = None) -> StudyResult:
    """Run every strategy on every twin (or the named ``datasets``) and annotator variant.

    Twins are generated once into the cache at ``scale`` / ``seed``; ``twins_root`` instead reads
    twins already written under a folder (e.g. by `mer-bench synth`), each with its truth sidecar.
    """
    strategies = list(strategies or default_strategies())
    for spec in strategies:
        make_strategy(spec)  # a bad name or option fails before any twin is generated
    chosen = twin_datasets()
    if datasets:
        wanted = {DATASETS.get(name).name for name in datasets}
        chosen = [spec for spec in chosen if spec.name in wanted]
    source = DataSource(Path(twins_root)) if twins_root else resolve_data_source(None, scale, seed)
    rows, fallbacks, timings = [], [], []
    result = StudyResult(scale, seed, strategies, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    for dataset in chosen:
        if not source.has(dataset):
            continue
        samples = load_samples(dataset, source)
        directory = source.dataset_dir(dataset)
        truth = load_truth(directory)
        native = native_annotator(directory)
        described = (source.describe(dataset) if source.is_twin else
                     f"twin:{dataset.name}:scale={twin_scale_of(directory)}:{directory.name}/")
        result.midpoint_apex_mae[dataset.name] = float(np.mean([
            abs((s.annotated.onset + s.annotated.offset) // 2 - truth[s.sample_id].apex)
            for s in samples]))
        subjects = len({sample.subject_key for sample in samples})
        filled = "".join(f"; {count} have no annotated apex and take the one the dataset's rule "
                         f"({rule}) fills, in the annotation and every strategy alike"
                         for rule, count in sorted(apex_fill_counts(samples).items()))
        result.datasets[dataset.name] = (f"{described}, {len(samples)} samples from {subjects} "
                                         f"subjects{filled}")
        seconds: dict[str, float] = dict.fromkeys(strategies, 0.0)
        clips = 0
        for variant in VARIANTS:
            if variant.name != "native" and native is None:
                continue  # the twin does not record its annotator: nothing to derive from
            if native is not None:
                result.annotators[(dataset.name, variant.name)] = variant.derive(native)
            annotated = samples if variant.name == "native" else reannotate(
                samples, truth, variant.derive(native), seed=seed, variant=variant.name)
            clips += len(annotated)
            for spec in strategies:
                if progress:
                    progress(f"{dataset.name} / {variant.name} / {spec}")
                strategy = make_strategy(spec)
                started = time.perf_counter()
                summary = error_summary(keyframe_errors(annotated, strategy, truth))
                seconds[spec] += time.perf_counter() - started
                for key in KEY_FRAMES:
                    rows.append({"dataset": dataset.name, "variant": variant.name,
                                 "strategy": spec, "key_frame": key, **summary.loc[key].to_dict()})
                counts = getattr(strategy, "fallback_counts", None)
                for reason, count in sorted((counts() if counts else {}).items()):
                    fallbacks.append({"dataset": dataset.name, "variant": variant.name,
                                      "strategy": spec, "reason": reason, "samples": count})
        timings += [{"dataset": dataset.name, "strategy": spec,
                     "ms_per_clip": 1000 * seconds[spec] / max(clips, 1)} for spec in strategies]
    result.table = pd.DataFrame(rows)
    result.fallbacks = pd.DataFrame(fallbacks, columns=["dataset", "variant", "strategy", "reason",
                                                        "samples"])
    result.seconds_per_clip = pd.DataFrame(timings)
    return result
