"""AU-like local deformation fields: each action unit moves a few facial regions a little."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from mer_bench.synth.face import Face

Side = Literal["both", "left", "right"]


@dataclass(frozen=True)
class Bump:
    """A Gaussian patch of skin moving in one direction.

    For a sided bump, ``anchor`` gets a "_left"/"_right" suffix and x components point away
    from the face midline (so one definition serves both sides); for a midline bump, x points
    to the image right. Offsets and ``sigma`` are fractions of the face width; y points down.
    """

    anchor: str
    direction: tuple[float, float]
    sigma: float
    sided: bool = True
    offset: tuple[float, float] = (0.0, 0.0)


# Directions follow FACS descriptions of what each action unit does to the skin surface.
AU_BUMPS: dict[int, tuple[Bump, ...]] = {
    1: (Bump("brow_inner", (0.0, -1.0), 0.07, offset=(0.0, -0.03)),),  # inner brow raiser
    2: (Bump("brow_outer", (0.2, -1.0), 0.07, offset=(0.0, -0.03)),),  # outer brow raiser
    4: (  # brow lowerer: inner brows drawn down and together
        Bump("brow_inner", (-0.7, 0.7), 0.065),
        Bump("brow_mid", (-0.3, 0.8), 0.06),
    ),
    5: (Bump("eye", (0.0, -1.0), 0.04, offset=(0.0, -0.03)),),  # upper lid raiser
    6: (  # cheek raiser: cheeks and lower lids lifted
        Bump("cheek", (0.1, -1.0), 0.08),
        Bump("lower_lid", (0.0, -0.6), 0.05, offset=(0.02, 0.02)),
    ),
    7: (Bump("lower_lid", (0.0, -1.0), 0.035, offset=(0.0, 0.01)),),  # lid tightener
    9: (  # nose wrinkler: skin beside the nose pulled up, inner brows slightly down
        Bump("nose_wing", (-0.3, -1.0), 0.05, offset=(0.0, -0.04)),
        Bump("nose_root", (0.0, 0.5), 0.05, sided=False, offset=(0.0, 0.03)),
    ),
    10: (Bump("upper_lip", (0.1, -1.0), 0.05),),  # upper lip raiser
    12: (Bump("mouth_corner", (0.7, -0.7), 0.055),),  # lip corner puller
    14: (Bump("mouth_corner", (-1.0, -0.1), 0.04),),  # dimpler: corners tightened inwards
    15: (Bump("mouth_corner", (0.05, 1.0), 0.05, offset=(0.0, 0.02)),),  # lip corner depressor
    17: (  # chin raiser: chin boss and lower lip pushed up
        Bump("chin", (0.0, -1.0), 0.08, sided=False),
        Bump("lower_lip", (0.0, -0.6), 0.05, sided=False),
    ),
    20: (Bump("mouth_corner", (1.0, 0.15), 0.05),),  # lip stretcher
    25: (Bump("lower_lip", (0.0, 1.0), 0.04, sided=False),),  # lips part
    26: (  # jaw drop
        Bump("chin", (0.0, 1.0), 0.10, sided=False),
        Bump("lower_lip", (0.0, 0.8), 0.05, sided=False),
    ),
}

_AU_TOKEN = re.compile(r"^([LR]?)(\d+)$")


@dataclass(frozen=True)
class ActionUnit:
    number: int
    side: Side = "both"

    @property
    def code(self) -> str:
        prefix = {"both": "", "left": "L", "right": "R"}[self.side]
        return f"{prefix}{self.number}"


def parse_action_units(text: str) -> list[ActionUnit]:
    """'4+L10' -> [AU4 both sides, AU10 left side], the CASME II notation."""
    units = []
    for token in text.split("+"):
        match = _AU_TOKEN.match(token.strip())
        if not match or int(match.group(2)) not in AU_BUMPS:
            raise ValueError(f"no deformation model for action unit {token!r} in {text!r}")
        side: Side = {"": "both", "L": "left", "R": "right"}[match.group(1)]
        units.append(ActionUnit(int(match.group(2)), side))
    return units


def format_action_units(units: Sequence[ActionUnit]) -> str:
    return "+".join(unit.code for unit in units)


def displacement_field(
    face: Face, units: Sequence[ActionUnit], weights: Sequence[float]
) -> np.ndarray:
    """(2, size, size) float32 displacement (dx, dy) of the expression at full intensity.

    Scaled so that the largest displacement is exactly 1 pixel; the caller multiplies by the
    sample's amplitude and the intensity profile.
    """
    size = face.size
    axis = np.arange(size, dtype=np.float32)
    field = np.zeros((2, size, size), np.float32)
    midline = face.landmarks["nose_root"][0]
    for unit, weight in zip(units, weights, strict=True):
        for bump in AU_BUMPS[unit.number]:
            for side in _sides(bump, unit.side):
                # sided directions point away from the midline: mirrored on the image's left
                sign = -1.0 if bump.sided and side == "right" else 1.0
                name = f"{bump.anchor}_{side}" if bump.sided else bump.anchor
                ax, ay = face.landmarks[name]
                cx = ax + sign * bump.offset[0] * face.face_width
                cy = ay + bump.offset[1] * face.face_width
                sigma = bump.sigma * face.face_width
                gx = np.exp(-((axis - cx) ** 2) / (2 * sigma**2))
                gy = np.exp(-((axis - cy) ** 2) / (2 * sigma**2))
                if not bump.sided and side != "both":
                    # a one-sided AU moves only that half of a midline region
                    half = axis >= midline if side == "left" else axis < midline
                    gx = gx * half
                patch = np.outer(gy, gx)
                dx, dy = bump.direction
                norm = float(np.hypot(dx, dy))
                field[0] += (weight * sign * dx / norm) * patch
                field[1] += (weight * dy / norm) * patch
    peak = float(np.sqrt((field**2).sum(axis=0)).max())
    if peak <= 0:
        raise ValueError(f"action units {format_action_units(units)} produce no motion")
    return field / peak


def _sides(bump: Bump, side: Side) -> tuple[str, ...]:
    if bump.sided:
        return ("left", "right") if side == "both" else (side,)
    return (side,)
