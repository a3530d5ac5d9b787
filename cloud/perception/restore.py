"""A frame made easier to read before a second look: turned upright, enlarged, sharpened, its contrast restored.

What the first read saw decides what is done, so a clean frame is left as it is: the text lines' own angle
says how far the head was tilted (the frame is turned back, on a canvas large enough to lose nothing), their
height says whether the text is too small for the recogniser (the frame is enlarged), the frame's sharpness
says whether to unsharp-mask it, and its local contrast whether a reflection washed it out (contrast-limited
equalisation). The mapping from the restored view back to the frame comes with it, so what is found there is
shown where it is in the frame.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception.ocr import TextLine

# A tilt smaller than this is left alone: the grouping of lines into packages copes with it.
MIN_TILT_DEG = 3.0
MAX_TILT_DEG = 45.0
# Text lines shorter than this (in pixels) are small for the recogniser; the frame is enlarged towards it,
# at most by MAX_ENLARGE (the OCR's cost grows with the area).
READABLE_LINE_PX = 22.0
MAX_ENLARGE = 3.0
# Below this variance of the Laplacian a frame is soft (defocus, motion); below this local contrast, washed out.
SOFT_SHARPNESS = 120.0
WASHED_OUT_CONTRAST = 28.0

Affine = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class RestoredView:
    """The restored pixels, what was done (readable words for the trace), and the map back to the frame."""

    image: Image
    done: tuple[str, ...]
    to_frame: Affine          # 2x3, restored pixels -> frame pixels
    frame_size: tuple[int, int]

    @property
    def changed(self) -> bool:
        return bool(self.done)

    def point(self, p: Point) -> Point:
        """A normalized point of the restored view, in the frame's normalized coordinates."""
        rows, cols = self.image.shape[:2]
        x, y = p[0] * cols, p[1] * rows
        fx = self.to_frame[0, 0] * x + self.to_frame[0, 1] * y + self.to_frame[0, 2]
        fy = self.to_frame[1, 0] * x + self.to_frame[1, 1] * y + self.to_frame[1, 2]
        width, height = self.frame_size
        return (min(1.0, max(0.0, fx / width)), min(1.0, max(0.0, fy / height)))

    def box(self, box: NormBox) -> NormBox:
        """A box of the restored view, bounded in the frame (a turned box's corners, enclosed)."""
        corners = [self.point(p) for p in ((box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1))]
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        return NormBox(min(xs), min(ys), max(xs), max(ys))


def text_tilt_deg(lines: Sequence[TextLine], size: tuple[int, int]) -> float:
    """The text's tilt in degrees (positive: clockwise on screen), from the longer lines' outlines; 0 for none."""
    width, height = size
    angles, weights = [], []
    for line in lines:
        (x0, y0), (x1, y1) = line.quad[0], line.quad[1]
        dx, dy = (x1 - x0) * width, (y1 - y0) * height
        length = math.hypot(dx, dy)
        if length < 3 * _line_height_px(line, size) or length < 20:
            continue   # short words' outlines say little about their direction
        angles.append(math.degrees(math.atan2(dy, dx)))
        weights.append(length)
    if len(angles) < 3:
        return 0.0
    return _weighted_median(angles, weights)


def text_height_px(lines: Sequence[TextLine], size: tuple[int, int]) -> float | None:
    heights = [_line_height_px(line, size) for line in lines if line.text.strip()]
    return statistics.median(heights) if heights else None


def restore(image: Image, lines: Sequence[TextLine]) -> RestoredView:
    """``image`` made easier to read, given what a first read found on it (``lines``)."""
    rows, cols = image.shape[:2]
    done: list[str] = []
    tilt = text_tilt_deg(lines, (cols, rows))
    height = text_height_px(lines, (cols, rows))
    scale = 1.0
    if height is not None and height < READABLE_LINE_PX:
        scale = min(MAX_ENLARGE, READABLE_LINE_PX / max(height, 1.0))
        scale = scale if scale >= 1.25 else 1.0
    turn = tilt if MIN_TILT_DEG <= abs(tilt) <= MAX_TILT_DEG else 0.0
    restored, forward = _warp(image, turn, scale)
    if turn:
        done.append(f"turned {abs(turn):.0f}° back upright")
    if scale > 1.0:
        done.append(f"enlarged {scale:.1f}x (text {height:.0f} px tall)")
    gray = np.asarray(cv2.cvtColor(restored, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if _contrast(gray) < WASHED_OUT_CONTRAST:
        restored = _equalised(restored)
        done.append("contrast restored")
    if _sharpness(gray) < SOFT_SHARPNESS:
        restored = _unsharp(restored)
        done.append("sharpened")
    return RestoredView(np.ascontiguousarray(restored), tuple(done), _inverse(forward), (cols, rows))


def _warp(image: Image, degrees: float, scale: float) -> tuple[Image, Affine]:
    """The frame turned by ``-degrees`` and scaled by ``scale`` onto a canvas that holds all of it."""
    rows, cols = image.shape[:2]
    if not degrees and scale == 1.0:
        return image, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    angle = math.radians(abs(degrees))
    out_cols = round(scale * (cols * math.cos(angle) + rows * math.sin(angle)))
    out_rows = round(scale * (cols * math.sin(angle) + rows * math.cos(angle)))
    matrix = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), degrees, scale)
    matrix[0, 2] += out_cols / 2.0 - cols / 2.0
    matrix[1, 2] += out_rows / 2.0 - rows / 2.0
    border = tuple(int(v) for v in np.median(image.reshape(-1, image.shape[2]), axis=0))
    warped = cv2.warpAffine(image, matrix, (out_cols, out_rows), flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return np.asarray(warped, dtype=np.uint8), np.asarray(matrix, dtype=np.float64)


def _inverse(forward: Affine) -> Affine:
    return np.asarray(cv2.invertAffineTransform(forward), dtype=np.float64)


def _sharpness(gray: npt.NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _contrast(gray: npt.NDArray[np.uint8]) -> float:
    """The typical local contrast: the median, over 32-pixel tiles that hold anything, of their spread."""
    rows, cols = gray.shape
    spreads = [float(tile.std()) for y in range(0, rows - 31, 32) for x in range(0, cols - 31, 32)
               if (tile := gray[y:y + 32, x:x + 32]).std() > 2.0]
    return statistics.median(spreads) if spreads else 0.0


def _equalised(image: Image) -> Image:
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), dtype=np.uint8)


def _unsharp(image: Image) -> Image:
    soft = cv2.GaussianBlur(image, (0, 0), 2.0)
    return np.asarray(cv2.addWeighted(image, 1.8, soft, -0.8, 0), dtype=np.uint8)


def _line_height_px(line: TextLine, size: tuple[int, int]) -> float:
    width, height = size
    (x0, y0), (x3, y3) = line.quad[0], line.quad[3]
    return math.hypot((x3 - x0) * width, (y3 - y0) * height)


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    half, total = sum(weights) / 2.0, 0.0
    for value, weight in pairs:
        total += weight
        if total >= half:
            return value
    return pairs[-1][0]
