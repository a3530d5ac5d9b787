"""What a real camera does to a rendered frame that a clean render never shows: the stress degradations.

Each degradation is applied to a finished frame (pixels only), seeded, at a severity from 1 (mild) to 3
(harsh): the frame shrunk so its text is small (the wearer stands farther back), defocus or motion blur, the
head tilted (the frame rotated, shrunk just enough to keep every corner in view), a glare blob that washes out
part of a package, and a hand-like shape over part of the shelf. None of them moves a package out of view or
changes what is on it, so a frame's ground truth (which products are in view, and their figures) still holds;
boxes in the truth are those of the clean frame.
"""

from __future__ import annotations

import math
from enum import StrEnum

import cv2
import numpy as np

from eyeline.devices.base import DeviceSpecError, Image

SEVERITIES = (1, 2, 3)
_BACKGROUND_BGR = (214, 220, 224)


class Degradation(StrEnum):
    SMALL = "small"
    BLUR = "blur"
    ROTATED = "rotated"
    GLARE = "glare"
    OCCLUDED = "occluded"


# Per severity 1..3: the scale of a small frame, the blur's sigma (defocus) or length (motion) in pixels,
# the tilt in degrees, the glare's peak strength, and the share of the frame's width a hand covers.
_SMALL_SCALE = (0.32, 0.26, 0.22)
_DEFOCUS_SIGMA = (2.2, 2.8, 3.4)
_MOTION_LENGTH = (11, 15, 19)
_TILT_DEG = (10.0, 16.0, 22.0)
_GLARE_PEAK = (0.86, 0.91, 0.95)
_HAND_WIDTH = (0.12, 0.16, 0.2)


def degrade(image: Image, kind: Degradation, severity: int, seed: int) -> Image:
    """``image`` through one degradation at ``severity`` (1..3); the same seed gives the same frame."""
    if severity not in SEVERITIES:
        raise DeviceSpecError(f"severity must be one of {SEVERITIES}, got {severity}")
    rng = np.random.default_rng([seed, 0xDE9, SEVERITIES.index(severity), list(Degradation).index(kind)])
    level = severity - 1
    if kind is Degradation.SMALL:
        return shrunk(image, _SMALL_SCALE[level])
    if kind is Degradation.BLUR:
        return _motion_blur(image, _MOTION_LENGTH[level], float(rng.uniform(0, 180))) if rng.random() < 0.5 \
            else np.asarray(cv2.GaussianBlur(image, (0, 0), _DEFOCUS_SIGMA[level]), dtype=np.uint8)
    if kind is Degradation.ROTATED:
        return tilted(image, float(rng.choice((-1.0, 1.0))) * _TILT_DEG[level])
    if kind is Degradation.GLARE:
        return _glare(image, _GLARE_PEAK[level], rng)
    return _hand(image, _HAND_WIDTH[level], rng)


def shrunk(image: Image, scale: float) -> Image:
    """The frame as seen from farther back: scaled down by ``scale`` in the middle of a same-size frame."""
    rows, cols = image.shape[:2]
    small = cv2.resize(image, (round(cols * scale), round(rows * scale)), interpolation=cv2.INTER_AREA)
    frame = np.full_like(image, _BACKGROUND_BGR)
    top, left = (rows - small.shape[0]) // 2, (cols - small.shape[1]) // 2
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    return frame


def tilted(image: Image, degrees: float) -> Image:
    """The frame rotated by ``degrees`` (a head tilted sideways), scaled so every corner stays in view."""
    rows, cols = image.shape[:2]
    angle = math.radians(abs(degrees))
    fit = min(cols / (cols * math.cos(angle) + rows * math.sin(angle)),
              rows / (cols * math.sin(angle) + rows * math.cos(angle)))
    matrix = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), degrees, fit)
    return np.asarray(cv2.warpAffine(image, matrix, (cols, rows), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=_BACKGROUND_BGR), dtype=np.uint8)


def _motion_blur(image: Image, length: int, degrees: float) -> Image:
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), degrees, 1.0)
    kernel = np.asarray(cv2.warpAffine(line, turn, (length, length)), dtype=np.float32)
    kernel = kernel / max(float(kernel.sum()), 1e-6)
    return np.asarray(cv2.filter2D(image, -1, kernel), dtype=np.uint8)


def _glare(image: Image, peak: float, rng: np.random.Generator) -> Image:
    """A soft bright reflection over a third of the frame's middle band: contrast falls, nothing is erased."""
    rows, cols = image.shape[:2]
    centre = (int(rng.uniform(0.25, 0.75) * cols), int(rng.uniform(0.4, 0.6) * rows))
    mask = np.zeros((rows, cols), np.float32)
    cv2.ellipse(mask, centre, (cols // 6, rows // 3), float(rng.uniform(-30, 30)), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), cols / 50) * peak
    lit = image.astype(np.float32) * (1 - mask[..., None]) + 255.0 * mask[..., None]
    return np.asarray(np.clip(lit, 0, 255), dtype=np.uint8)


def _hand(image: Image, width_share: float, rng: np.random.Generator) -> Image:
    """A hand reaching in from the bottom edge: a palm and four fingers, skin toned, softly shaded."""
    rows, cols = image.shape[:2]
    width = width_share * cols
    x = float(rng.uniform(0.2, 0.8)) * cols
    reach = float(rng.uniform(0.45, 0.6)) * rows
    skin = tuple(float(v) for v in rng.uniform((120, 150, 190), (150, 180, 225)))
    mask = np.zeros((rows, cols), np.uint8)
    palm_top = rows - reach * 0.55
    cv2.ellipse(mask, (int(x), int(rows + width * 0.2)), (int(width / 2), int(rows - palm_top + width * 0.2)),
                0, 0, 360, 255, -1)
    for finger in range(4):
        fx = x - width * 0.36 + finger * width * 0.24
        tip = rows - reach * (0.9 + 0.1 * math.sin(finger * 1.3))
        cv2.line(mask, (int(fx), int(palm_top + width * 0.2)), (int(fx), int(tip)), 255, max(3, int(width * 0.17)))
        cv2.circle(mask, (int(fx), int(tip)), max(2, int(width * 0.085)), 255, -1)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 2.0)[..., None]
    shade = np.linspace(0.85, 1.05, rows, dtype=np.float32)[:, None, None]
    hand = np.clip(np.asarray(skin, np.float32)[None, None, :] * shade, 0, 255)
    covered = image.astype(np.float32) * (1 - soft) + hand * soft
    return np.asarray(covered, dtype=np.uint8)
