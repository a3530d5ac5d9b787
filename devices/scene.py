"""The camera of a wearer's head looking at a flat, drawn world: what the synthetic scenes (the shelf, the
espresso machine) share.

A scene is drawn once on a canvas; each frame views it through a camera that only rotates with the head
(``K R K^-1``), after the scene's own placement. Pixels and ground truth go through the same homography, so the
truth is exact. ``FrameEffects`` are the difficulty knobs every scene takes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.devices.base import DeviceSpecError, Image

Matrix = npt.NDArray[np.float64]
Point = tuple[float, float]

HORIZONTAL_FOV_DEG = 70.0
"""The synthetic camera's horizontal field of view, a typical webcam standing in for glasses."""


@dataclass(frozen=True, slots=True)
class FrameEffects:
    """The difficulty knobs of one rendered frame; the defaults change nothing.

    ``perspective_deg`` turns the shelf plane about its vertical axis; ``zoom`` below 1 makes everything
    (text included) smaller; ``glare`` (0..1) is a bright reflection; ``blur_sigma`` a defocus in pixels.
    Geometry knobs go through the frame's homography, so the ground truth stays exact.
    """

    blur_sigma: float = 0.0
    glare: float = 0.0
    perspective_deg: float = 0.0
    zoom: float = 1.0


# --- the head and the camera ----------------------------------------------------------------------------------

_AMPLITUDES_DEG = (4.0, 3.0, 2.0)  # yaw, pitch, roll of someone standing still, looking along a shelf


@dataclass(frozen=True, slots=True)
class _Wave:
    amplitude_deg: float
    frequency_hz: float

    def at(self, t_s: float) -> float:
        return self.amplitude_deg * math.sin(2.0 * math.pi * self.frequency_hz * t_s)


@functools.lru_cache(maxsize=64)
def _head_waves(seed: int) -> tuple[tuple[_Wave, ...], ...]:
    """Per axis, a slow sway and a faster wobble; both start at zero, so ``t = 0`` is the rest pose."""
    rng = np.random.default_rng([seed, 0x5EE])
    waves = []
    for amplitude in _AMPLITUDES_DEG:
        signs = rng.choice((-1.0, 1.0), size=2)
        slow = _Wave(0.7 * amplitude * signs[0], float(rng.uniform(0.15, 0.35)))
        wobble = _Wave(0.3 * amplitude * signs[1], float(rng.uniform(0.6, 1.1)))
        waves.append((slow, wobble))
    return tuple(waves)


def head_pose(seed: int, t_s: float, motion_scale: float = 1.0) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees at ``t_s``: smooth, bounded by (4, 3, 2) x ``motion_scale``."""
    yaw, pitch, roll = (motion_scale * sum(wave.at(t_s) for wave in axis) for axis in _head_waves(seed))
    return (yaw, pitch, roll)


def rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> Matrix:
    yaw, pitch, roll = (math.radians(angle) for angle in (yaw_deg, pitch_deg, roll_deg))
    about_y = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    about_x = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    about_z = np.array([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]])
    rotation: Matrix = about_z @ about_x @ about_y
    return rotation


def intrinsics(width: int, height: int) -> Matrix:
    focal = (width / 2.0) / math.tan(math.radians(HORIZONTAL_FOV_DEG) / 2.0)
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def turned_plane(camera: Matrix, degrees: float) -> Matrix:
    """The shelf plane turned about the frame's vertical centre line, re-centred so it stays in view."""
    turn = camera @ rotation(degrees, 0.0, 0.0) @ np.linalg.inv(camera)
    centre = np.array([camera[0, 2], camera[1, 2], 1.0])
    moved = turn @ centre
    shift = np.array([[1.0, 0.0, centre[0] - moved[0] / moved[2]], [0.0, 1.0, centre[1] - moved[1] / moved[2]],
                      [0.0, 0.0, 1.0]])
    turned: Matrix = shift @ turn
    return turned


def normalised(homography: Matrix) -> Matrix:
    scaled: Matrix = homography / homography[2, 2]
    return scaled


def as_tuple(homography: Matrix) -> tuple[float, ...]:
    return tuple(float(value) for value in homography.ravel())


def as_matrix(flat: Sequence[float]) -> Matrix:
    return np.asarray(flat, dtype=np.float64).reshape(3, 3)


def project(homography: Matrix, points: Sequence[Point]) -> list[Point]:
    projected = []
    for x, y in points:
        u, v, w = homography @ np.array([x, y, 1.0])
        projected.append((float(u / w), float(v / w)))
    return projected


def polygon_area(points: Sequence[Point]) -> float:
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], *points[:1]], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2.0


def _clip_half_plane(points: Sequence[Point], axis: int, limit: float, keep_below: bool) -> list[Point]:
    """One Sutherland-Hodgman pass: keep the part of a convex polygon on one side of ``x|y = limit``."""

    def inside(point: Point) -> bool:
        return point[axis] <= limit if keep_below else point[axis] >= limit

    kept: list[Point] = []
    for current, following in zip(points, [*points[1:], *points[:1]], strict=True):
        if inside(current):
            kept.append(current)
        if inside(current) != inside(following):
            share = (limit - current[axis]) / (following[axis] - current[axis])
            kept.append((current[0] + share * (following[0] - current[0]),
                         current[1] + share * (following[1] - current[1])))
    return kept


def clip_to_frame(points: Sequence[Point], width: int, height: int) -> list[Point]:
    clipped = list(points)
    for axis, low, high in ((0, -0.5, width - 0.5), (1, -0.5, height - 0.5)):
        clipped = _clip_half_plane(clipped, axis, low, keep_below=False)
        clipped = _clip_half_plane(clipped, axis, high, keep_below=True)
        if not clipped:
            break
    return clipped


def with_optics(image: Image, effects: FrameEffects, seed: int) -> Image:
    """Glare (a bright soft ellipse placed by the seed) and defocus blur, applied after the geometry."""
    if effects.glare > 0.0:
        height, width = image.shape[:2]
        rng = np.random.default_rng([seed, 0x61A])
        centre = (int(rng.uniform(0.2, 0.8) * width), int(rng.uniform(0.3, 0.7) * height))
        mask = np.zeros((height, width), np.float32)
        cv2.ellipse(mask, centre, (width // 8, height // 5), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), width / 40) * min(1.0, effects.glare)
        image = np.asarray(image * (1 - mask[..., None]) + 255 * mask[..., None], dtype=np.uint8)
    if effects.blur_sigma > 0.0:
        image = np.asarray(cv2.GaussianBlur(image, (0, 0), effects.blur_sigma), dtype=np.uint8)
    return image


def check_render_args(t_s: float, width: int, height: int, motion_scale: float) -> None:
    if width <= 0 or height <= 0:
        raise DeviceSpecError(f"frame size must be positive, got {width}x{height}")
    if not math.isfinite(t_s):
        raise DeviceSpecError(f"t_s must be a finite number of seconds, got {t_s}")
    if not (math.isfinite(motion_scale) and motion_scale >= 0.0):
        raise DeviceSpecError(f"motion_scale must be a finite number >= 0, got {motion_scale}")
