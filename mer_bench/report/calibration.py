"""How hard the twins are: the twins' MEGC2019 scores beside the published ones (``calibration.md``).

The twins' difficulty knobs (``mer_bench/synth/difficulty.py``) were set so that STSTNet, trained
with its default budget on annotated frames, scores on the full-size twins of the MEGC2019
composite what it scores on the real data. Off-ApexNet was not looked at while setting them: its
row is the check. The page is made from the records of ``megc2019-3class`` at twin scale 1 made by
the current twin generators (records of an older generator are left out), pooled per seed, each
part scored on its own samples of the same pooled predictions (as MEGC2019 reports them).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from tabulate import tabulate

from mer_bench.data.spec import DATASETS
from mer_bench.datasource import DataSource
from mer_bench.files import write_if_changed
from mer_bench.metrics import pooled_metrics
from mer_bench.protocols import get_protocol
from mer_bench.store import JobResult

CALIBRATION_PAGE = "calibration.md"
PROTOCOL = "megc2019-3class"
PARTS = ("smic-hs", "casme2", "samm")
SET_NAMES = {"composite": "composite (442)", "smic-hs": "SMIC-HS part", "casme2": "CASME II part",
             "samm": "SAMM part"}


@dataclass(frozen=True)
class Published:
    """A model's published MEGC2019 composite figures: (UF1, UAR) for the whole set and each part."""

    model: str
    scores: Mapping[str, tuple[float, float]]
    tolerance: float  # how far the twin may land from them, in UF1
    role: str  # "calibrated on" or "check"


# STSTNet's repository table (result.JPG), which lists Off-ApexNet beside it; see
# reference/mer-datasets-and-protocols.md §4.1.
PUBLISHED = (
    Published("ststnet", {"composite": (0.7353, 0.7605), "smic-hs": (0.6801, 0.7013),
                          "casme2": (0.8382, 0.8686), "samm": (0.6588, 0.6810)},
              tolerance=0.05, role="calibrated on"),
    Published("offapexnet", {"composite": (0.7196, 0.7096), "smic-hs": (0.6817, 0.6695),
                              "casme2": (0.8764, 0.8681), "samm": (0.5409, 0.5392)},
              tolerance=0.08, role="check (not tuned to)"),
)


def current_twin_data() -> str:
    """The data description a record of ``PROTOCOL`` made on today's full-size twins carries."""
    source = DataSource(None, 1.0, 0)
    return " + ".join(source.describe(DATASETS.get(name))
                      for name in get_protocol(PROTOCOL).datasets)


def calibration_runs(results: Sequence[JobResult], model: str) -> list[JobResult]:
    """``model``'s honest annotated runs of the composite on the current full-size twins, by seed."""
    wanted = current_twin_data()
    runs = [r for r in results
            if r.cell.protocol == PROTOCOL and r.cell.model == model
            and r.cell.keyframes == "annotated" and r.cell.selection == "fixed-epochs"
            and r.config.get("data") == wanted]
    return sorted(runs, key=lambda r: r.cell.seed)


def _part_scores(run: JobResult, part: str) -> tuple[float, float, int, int]:
    frame = run.predictions
    if part != "composite":
        frame = frame[frame["sample_id"].str.split("/").str[0] == part]
    metrics = pooled_metrics(frame["y_true"].tolist(), frame["y_pred"].tolist(),
                             get_protocol(PROTOCOL).classes)
    return metrics.uf1, metrics.uar, len(frame), frame["subject"].nunique()


def calibration_rows(results: Sequence[JobResult]) -> list[dict[str, object]]:
    """One row per published model and set (composite and parts) that the records cover."""
    rows = []
    for published in PUBLISHED:
        runs = calibration_runs(results, published.model)
        if not runs:
            continue
        for part in ("composite", *PARTS):
            scores = [_part_scores(run, part) for run in runs]
            uf1 = statistics.fmean(s[0] for s in scores)
            uar = statistics.fmean(s[1] for s in scores)
            target_uf1, target_uar = published.scores[part]
            rows.append({
                "model": published.model, "role": published.role, "set": part,
                "seeds": len(runs), "samples": scores[0][2], "subjects": scores[0][3],
                "uf1_published": target_uf1, "uf1_twin": uf1,
                "uf1_sd": statistics.stdev(s[0] for s in scores) if len(scores) > 1 else None,
                "uf1_diff": uf1 - target_uf1,
                "uar_published": target_uar, "uar_twin": uar, "uar_diff": uar - target_uar,
                "tolerance": published.tolerance,
                "within": abs(uf1 - target_uf1) <= published.tolerance,
            })
    return rows


def _signed(value: float) -> str:
    return f"{value:+.4f}"


def calibration_markdown(rows: Sequence[Mapping[str, object]], knobs: str) -> str:
    headers = ["model", "role", "set", "seeds", "samples", "subjects", "UF1 published",
               "UF1 twin (mean ± sd)", "ΔUF1", "UAR published", "UAR twin", "ΔUAR", "within"]
    lines = []
    for row in rows:
        sd = row["uf1_sd"]
        lines.append([
            row["model"], row["role"], SET_NAMES[str(row["set"])], row["seeds"], row["samples"],
            row["subjects"], f"{row['uf1_published']:.4f}",
            f"{row['uf1_twin']:.4f}" + ("" if sd is None else f" ± {sd:.4f}"),
            _signed(float(row["uf1_diff"])), f"{row['uar_published']:.4f}",
            f"{row['uar_twin']:.4f}", _signed(float(row["uar_diff"])),
            f"{'yes' if row['within'] else 'NO'} (±{row['tolerance']:.2f})"])
    table = tabulate(lines, headers=headers, tablefmt="pipe", disable_numparse=True)
    return "\n\n".join([
        "# How hard the twins are: MEGC2019 calibration",
        "The twins' difficulty knobs (motion amplitude, the share of clips whose face moves as "
        "another label's do, distractors) were set so that STSTNet, with its default budget "
        "(fixed epochs, annotated key frames), scores on the full-size twins of the MEGC2019 "
        "composite (68 subjects, leave-one-subject-out) what its authors report on the real data. "
        "Off-ApexNet was never run while the knobs were set: its rows check whether the twins are "
        "hard in the way the real data is, or only for one model. Published figures: STSTNet's "
        "repository table (reference/mer-datasets-and-protocols.md §4.1). Each part is scored on "
        "its own samples of the composite's pooled predictions, as MEGC2019 reports them.",
        table,
        "Δ = twin − published, on the mean over seeds. A twin score within the tolerance says the "
        "twin is about as hard as the real data for that model; it says nothing about which "
        "model ranks first on the real data.",
        "## The knobs",
        knobs,
        "Generated by `mer-bench leaderboard` from the records of `megc2019-3class` at twin "
        "scale 1 (`mer-bench run --protocol megc2019-3class --model ststnet --model offapexnet "
        "--keyframes annotated --seed 0 --seed 1 --seed 2 --twin-scale 1`). Records of an older "
        "twin generator are left out.",
    ]) + "\n"


def knobs_markdown() -> str:
    """Each twin's difficulty knobs, as a table."""
    from mer_bench.synth.difficulty import all_difficulties

    lines = [[name, f"{d.amplitude_px[0]:g}–{d.amplitude_px[1]:g}", f"{d.confusable_share:g}",
              f"{d.distractors.noise_sd:g}", f"{d.distractors.blinks_per_clip:g}",
              f"{d.distractors.drift_px:g}", f"{d.distractors.flicker:g}"]
             for name, d in all_difficulties().items()]
    return tabulate(lines, headers=["twin", "amplitude (px)", "confusable share", "noise sd",
                                    "blinks per clip", "drift (px)", "flicker"],
                    tablefmt="pipe", disable_numparse=True)


def write_calibration(rows: Sequence[Mapping[str, object]], out_dir: Path) -> Path | None:
    """``calibration.md`` under ``out_dir`` from ``calibration_rows``; None (nothing written)
    when there are none."""
    if not rows:
        return None
    path = Path(out_dir) / CALIBRATION_PAGE
    write_if_changed(path, calibration_markdown(rows, knobs_markdown()))
    return path


__all__ = ["CALIBRATION_PAGE", "PUBLISHED", "calibration_rows", "calibration_markdown",
           "write_calibration"]
