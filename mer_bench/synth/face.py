"""Procedural face renderer: one distinct, textured face identity per synthetic subject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import cv2
import numpy as np

SUPERSAMPLE = 2  # features are drawn at 2x and area-downsampled, so edges are anti-aliased
Point = tuple[float, float]
Colour = tuple[float, float, float]  # BGR


@dataclass(frozen=True)
class Face:
    """A rendered neutral face and what the motion and blink models need to know about it.

    Images are float32 (size, size, 3) BGR in 0..255. ``landmarks`` are (x, y) pixel positions;
    "left"/"right" are the subject's own sides, so "left" is on the image's right.
    ``eye_mask`` is 1 inside the eyes; ``lid_top`` / ``lid_span`` give, per eye pixel, the upper
    lid's y and the eye's height, so a blink of closure c covers rows above lid_top + c * lid_span.
    """

    image: np.ndarray
    closed_eyes: np.ndarray
    landmarks: Mapping[str, Point]
    face_width: float
    eye_mask: np.ndarray
    lid_top: np.ndarray
    lid_span: np.ndarray

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class _Identity:
    """Geometry (in units of the image size) and colours of one face."""

    skin: Colour
    hair: Colour
    iris: Colour
    lips: Colour
    centre: Point
    half_width: float
    half_height: float
    brow_y: float
    brow_inner: float
    brow_outer: float
    brow_arch: float
    brow_thickness: float
    eye_y: float
    eye_x: float
    eye_half_width: float
    eye_half_height: float
    nose_y: float
    nose_half_width: float
    mouth_y: float
    mouth_half_width: float
    upper_lip: float
    lower_lip: float
    chin_y: float
    moles: int


def _draw_identity(rng: np.random.Generator) -> _Identity:
    lightness = rng.uniform(0.0, 1.0)
    # skin in BGR: red > green > blue, all rising with lightness, plus a little warmth jitter
    skin = (
        45.0 + 115.0 * lightness + rng.normal(0, 5),
        72.0 + 118.0 * lightness + rng.normal(0, 5),
        118.0 + 112.0 * lightness + rng.normal(0, 5),
    )
    hair_level = rng.uniform(15, 90)
    hair = (hair_level * rng.uniform(0.6, 0.9), hair_level * rng.uniform(0.8, 1.0), hair_level)
    iris_level = rng.uniform(20, 90)
    iris = (iris_level * rng.uniform(0.5, 1.1), iris_level * rng.uniform(0.7, 1.0), iris_level)
    lips = (skin[0] * 0.70, skin[1] * 0.68, min(255.0, skin[2] * 0.95))
    cx = 0.5 + rng.normal(0, 0.01)
    cy = 0.53 + rng.normal(0, 0.01)
    brow_y = cy - rng.uniform(0.17, 0.21)
    eye_y = brow_y + rng.uniform(0.075, 0.10)
    nose_y = eye_y + rng.uniform(0.17, 0.21)
    mouth_y = nose_y + rng.uniform(0.11, 0.14)
    return _Identity(
        skin=skin,
        hair=hair,
        iris=iris,
        lips=lips,
        centre=(cx, cy),
        half_width=rng.uniform(0.37, 0.45),
        half_height=rng.uniform(0.50, 0.57),
        brow_y=brow_y,
        brow_inner=rng.uniform(0.05, 0.08),
        brow_outer=rng.uniform(0.25, 0.30),
        brow_arch=rng.uniform(0.01, 0.03),
        brow_thickness=rng.uniform(0.025, 0.04),
        eye_y=eye_y,
        eye_x=rng.uniform(0.15, 0.19),
        eye_half_width=rng.uniform(0.065, 0.085),
        eye_half_height=rng.uniform(0.026, 0.036),
        nose_y=nose_y,
        nose_half_width=rng.uniform(0.055, 0.085),
        mouth_y=mouth_y,
        mouth_half_width=rng.uniform(0.10, 0.14),
        upper_lip=rng.uniform(0.014, 0.024),
        lower_lip=rng.uniform(0.02, 0.034),
        chin_y=mouth_y + rng.uniform(0.10, 0.13),
        moles=int(rng.poisson(3)),
    )


def _landmarks(ident: _Identity, size: int) -> dict[str, Point]:
    cx = ident.centre[0]
    marks: dict[str, Point] = {
        "nose_root": (cx, ident.eye_y),
        "nose_tip": (cx, ident.nose_y),
        "upper_lip": (cx, ident.mouth_y - ident.upper_lip),
        "lower_lip": (cx, ident.mouth_y + ident.lower_lip),
        "chin": (cx, ident.chin_y),
    }
    for side, sign in (("left", 1.0), ("right", -1.0)):
        marks[f"brow_inner_{side}"] = (cx + sign * ident.brow_inner, ident.brow_y)
        marks[f"brow_mid_{side}"] = (
            cx + sign * (ident.brow_inner + ident.brow_outer) / 2,
            ident.brow_y - ident.brow_arch,
        )
        marks[f"brow_outer_{side}"] = (cx + sign * ident.brow_outer, ident.brow_y)
        marks[f"eye_{side}"] = (cx + sign * ident.eye_x, ident.eye_y)
        marks[f"lower_lid_{side}"] = (cx + sign * ident.eye_x, ident.eye_y + ident.eye_half_height)
        marks[f"cheek_{side}"] = (cx + sign * (ident.eye_x + 0.02), ident.eye_y + 0.10)
        marks[f"nose_wing_{side}"] = (cx + sign * ident.nose_half_width, ident.nose_y - 0.01)
        marks[f"upper_lip_{side}"] = (
            cx + sign * ident.mouth_half_width * 0.5,
            ident.mouth_y - ident.upper_lip * 0.8,
        )
        marks[f"mouth_corner_{side}"] = (cx + sign * ident.mouth_half_width, ident.mouth_y)
    return {name: (x * size, y * size) for name, (x, y) in marks.items()}


def _shade(colour: Colour, factor: float) -> Colour:
    return (colour[0] * factor, colour[1] * factor, colour[2] * factor)


@dataclass(frozen=True)
class _Painter:
    """Anti-aliased drawing on the supersampled canvas, in units of the output image size."""

    canvas: np.ndarray
    size: int

    def point(self, x: float, y: float) -> tuple[int, int]:
        scale = self.size * SUPERSAMPLE
        return round(x * scale), round(y * scale)

    def length(self, value: float) -> int:
        return max(1, round(value * self.size * SUPERSAMPLE))

    def line(self, points: list[Point], colour: Colour, width: float) -> None:
        pts = np.array([self.point(x, y) for x, y in points], dtype=np.int32)
        cv2.polylines(self.canvas, [pts], False, colour, self.length(width), cv2.LINE_AA)

    def fill(self, points: list[Point], colour: Colour) -> None:
        pts = np.array([self.point(x, y) for x, y in points], dtype=np.int32)
        cv2.fillPoly(self.canvas, [pts], colour, cv2.LINE_AA)

    def ellipse(
        self,
        centre: Point,
        axes: tuple[float, float],
        colour: Colour,
        arc: tuple[int, int] = (0, 360),
        width: float | None = None,
    ) -> None:
        thickness = -1 if width is None else self.length(width)
        radii = (self.length(axes[0]), self.length(axes[1]))
        cv2.ellipse(
            self.canvas, self.point(*centre), radii, 0, *arc, colour, thickness, cv2.LINE_AA
        )


def _paint_skin(paint: _Painter, ident: _Identity) -> None:
    paint.ellipse(ident.centre, (ident.half_width, ident.half_height), ident.skin)


def _paint_nose_and_folds(paint: _Painter, ident: _Identity) -> None:
    """Nose sides, nostrils and nasolabial folds: the edges AU9, AU10 and AU12 visibly move."""
    cx = ident.centre[0]
    for sign in (1.0, -1.0):
        wing = (cx + sign * ident.nose_half_width, ident.nose_y - 0.01)
        bridge = [(cx + sign * 0.025, ident.eye_y + 0.02), (cx + sign * 0.03, ident.nose_y - 0.06)]
        paint.line([*bridge, wing], _shade(ident.skin, 0.8), 0.012)
        nostril = (cx + sign * ident.nose_half_width * 0.45, ident.nose_y)
        paint.ellipse(nostril, (0.018, 0.009), _shade(ident.skin, 0.45))
        corner_x = cx + sign * ident.mouth_half_width
        fold = [
            (wing[0] + sign * 0.015, wing[1] + 0.01),
            (corner_x + sign * 0.035, ident.mouth_y - 0.03),
            (corner_x + sign * 0.04, ident.mouth_y + 0.03),
        ]
        paint.line(fold, _shade(ident.skin, 0.88), 0.01)


def _paint_brows(paint: _Painter, ident: _Identity) -> None:
    cx = ident.centre[0]
    for sign in (1.0, -1.0):
        brow = [
            (cx + sign * ident.brow_inner, ident.brow_y),
            (cx + sign * (ident.brow_inner + ident.brow_outer) / 2, ident.brow_y - ident.brow_arch),
            (cx + sign * ident.brow_outer, ident.brow_y + 0.01),
        ]
        paint.line(brow, ident.hair, ident.brow_thickness)


def _paint_mouth(paint: _Painter, ident: _Identity) -> None:
    cx, w, m = ident.centre[0], ident.mouth_half_width, ident.mouth_y
    upper = [
        (cx - w, m),
        (cx - w * 0.4, m - ident.upper_lip),
        (cx, m - ident.upper_lip * 0.7),
        (cx + w * 0.4, m - ident.upper_lip),
        (cx + w, m),
    ]
    lower = [
        (cx + w * 0.4, m + ident.lower_lip),
        (cx - w * 0.4, m + ident.lower_lip),
    ]
    paint.fill(upper + lower, ident.lips)
    paint.line([(cx - w, m), (cx, m + 0.003), (cx + w, m)], _shade(ident.lips, 0.45), 0.008)


def _paint_moles(paint: _Painter, ident: _Identity, rng: np.random.Generator) -> None:
    for _ in range(ident.moles):
        angle, radius = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0.05, 0.8))
        spot = (
            ident.centre[0] + radius * ident.half_width * np.cos(angle),
            ident.centre[1] + radius * ident.half_height * np.sin(angle),
        )
        size = rng.uniform(0.004, 0.009)
        paint.ellipse(spot, (size, size), _shade(ident.skin, 0.7))


def _paint_eyes(paint: _Painter, ident: _Identity, closed: bool) -> None:
    for sign in (1.0, -1.0):
        centre = (ident.centre[0] + sign * ident.eye_x, ident.eye_y)
        axes = (ident.eye_half_width, ident.eye_half_height)
        if closed:
            paint.ellipse(centre, axes, _shade(ident.skin, 0.92))
            paint.ellipse(centre, axes, _shade(ident.hair, 0.4), arc=(20, 160), width=0.008)
            continue
        paint.ellipse(centre, axes, (225.0, 232.0, 238.0))
        iris = ident.eye_half_height * 0.95
        paint.ellipse(centre, (iris, iris), ident.iris)
        paint.ellipse(centre, (iris / 2, iris / 2), (20.0, 20.0, 20.0))
        paint.ellipse(centre, axes, _shade(ident.hair, 0.5), arc=(180, 360), width=0.008)


def _skin_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multiplicative pore-scale plus blotch-scale texture, so smooth skin still shows motion."""
    fine = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.8)
    coarse = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 3.0)
    fine *= 0.04 / max(float(fine.std()), 1e-6)
    coarse *= 0.04 / max(float(coarse.std()), 1e-6)
    return (1.0 + fine + coarse)[..., None]


def _shading(ident: _Identity, size: int) -> np.ndarray:
    """Darker towards the face outline: a cheap stand-in for a rounded face under frontal light."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    r2 = ((xs - ident.centre[0]) / ident.half_width) ** 2 + (
        (ys - ident.centre[1]) / ident.half_height
    ) ** 2
    return np.clip(1.0 - 0.3 * r2**2, 0.55, 1.0)[..., None]


def _eye_maps(ident: _Identity, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = np.zeros((size, size), np.float32)
    top = np.zeros((size, size), np.float32)
    span = np.ones((size, size), np.float32)
    half_w, half_h = ident.eye_half_width * size, ident.eye_half_height * size
    for sign in (1.0, -1.0):
        ex, ey = (ident.centre[0] + sign * ident.eye_x) * size, ident.eye_y * size
        # a little larger than the eye, so the lid also covers the anti-aliased rim
        inside = ((xs - ex) / (half_w + 1.0)) ** 2 + ((ys - ey) / (half_h + 1.0)) ** 2 <= 1.0
        mask[inside] = 1.0
        top[inside] = ey - half_h - 1.0
        span[inside] = 2 * half_h + 2.0
    return mask, top, span


def render_face(rng: np.random.Generator, size: int = 128) -> Face:
    """A neutral face drawn from ``rng``; the same generator state gives the same face."""
    ident = _draw_identity(rng)
    big = size * SUPERSAMPLE
    background = np.full((big, big, 3), ident.hair, np.float32)
    paint = _Painter(background, size)
    _paint_skin(paint, ident)
    _paint_nose_and_folds(paint, ident)
    _paint_brows(paint, ident)
    _paint_mouth(paint, ident)
    _paint_moles(paint, ident, rng)
    open_canvas = background.copy()
    _paint_eyes(_Painter(open_canvas, size), ident, closed=False)
    closed_canvas = background
    _paint_eyes(_Painter(closed_canvas, size), ident, closed=True)
    texture = _skin_texture(rng, size)
    shading = _shading(ident, size)
    images = []
    for canvas in (open_canvas, closed_canvas):
        small = cv2.resize(
            cv2.GaussianBlur(canvas, (0, 0), 0.6 * SUPERSAMPLE),
            (size, size),
            interpolation=cv2.INTER_AREA,
        )
        images.append(np.clip(small * texture * shading, 0, 255).astype(np.float32))
    mask, top, span = _eye_maps(ident, size)
    return Face(
        image=images[0],
        closed_eyes=images[1],
        landmarks=_landmarks(ident, size),
        face_width=2 * ident.half_width * size,
        eye_mask=mask,
        lid_top=top,
        lid_span=span,
    )
