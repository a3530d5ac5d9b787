"""What drawing on a frame is made of: colours, text that fits (in a Unicode FreeType font, ``fonts``, or
OpenCV's ASCII Hershey font where none is installed), and the canvas with its size-scaled metrics. Shared by the
anchored items (``render``) and the screen-space cards (``cards``)."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import cv2

from eyeline.devices.base import Image
from eyeline.edge.display.fonts import FreeTypeText, freetype_available
from eyeline.edge.errors import EdgeError
from eyeline.edge.overlays import Item, Point

BGR = tuple[int, int, int]
PixelPoint = tuple[float, float]
Projection = Callable[[Point], Point]
"""Maps a normalized point of the overlay's frame to a normalized point of the frame being drawn."""

WHITE: Final[BGR] = (255, 255, 255)
BLACK: Final[BGR] = (0, 0, 0)
_FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
_ASCII_LOOKALIKES: Final = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2212": "-", "\u2026": "...", "\u00d7": "x", "\u00b5": "u", "\u00b0": "deg", "\u2022": "*",
    "\u00b7": "-", "\u2044": "/", "\u00a0": " ",
})


class RenderError(EdgeError):
    """The renderer was handed something it cannot draw on or draw."""

def item_bgr(item: Item, default: BGR) -> BGR:
    """The item's colour as BGR: its 0xRRGGBB ``rgb`` when set, else the shape's default."""
    if item.rgb == 0:
        return default
    rgb = item.rgb & 0xFFFFFF
    return (rgb & 0xFF, (rgb >> 8) & 0xFF, (rgb >> 16) & 0xFF)


def ascii_text(text: str) -> str:
    """``text`` reduced to what Hershey fonts can draw: accents dropped, lookalikes mapped, the rest '?'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_LOOKALIKES))
    kept = (char for char in decomposed if not unicodedata.combining(char))
    return "".join(_printable_ascii(char) for char in kept)


def drawable_text(text: str) -> str:
    """``text`` as the font in use can draw it: as written (controls and zero-width characters dropped) with a
    Unicode font, reduced to ASCII with the Hershey font."""
    if not freetype_available():
        return ascii_text(text)
    return "".join(" " if char.isspace() else char for char in text
                   if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn"))


def _printable_ascii(char: str) -> str:
    if " " <= char <= "~":
        return char
    return " " if char.isspace() else "?"


def ink_on(paper: BGR) -> BGR:
    """White or black, whichever reads better on ``paper``."""
    blue, green, red = paper
    return BLACK if 0.114 * blue + 0.587 * green + 0.299 * red > 150 else WHITE


# --- sizes and text -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Font:
    """A size (``scale``: Hershey units, 1.0 is about 22 px of cap height) and weight of the overlay typeface."""

    scale: float
    thickness: int

    @property
    def _freetype(self) -> FreeTypeText | None:
        return FreeTypeText(self.scale, self.thickness) if freetype_available() else None

    def size(self, text: str) -> tuple[int, int, int]:
        """Width, height above the baseline, and depth below it, in pixels."""
        freetype = self._freetype
        if freetype is not None:
            return freetype.size(text)
        (width, height), baseline = cv2.getTextSize(text, _FONT, self.scale, self.thickness)
        return int(width), int(height), int(baseline)

    def width(self, text: str) -> int:
        return self.size(text)[0]

    def line_height(self) -> int:
        _, height, baseline = self.size("Ag")
        return height + baseline

    def fit(self, text: str, max_width: int) -> str:
        """``text``, cut short with '...' if it is wider than ``max_width``."""
        full_width = self.width(text)
        if full_width <= max_width:
            return text
        # Start near the proportional cut, so a huge string costs a few measurements rather than thousands.
        first_end = min(len(text) - 1, len(text) * max_width // max(full_width, 1) + 1)
        for end in range(first_end, 0, -1):
            shortened = text[:end].rstrip() + "..."
            if self.width(shortened) <= max_width:
                return shortened
        return ""

    def wrap(self, text: str, max_width: int) -> list[str]:
        """``text`` broken into lines no wider than ``max_width`` (an over-long word is cut short)."""
        lines: list[str] = []
        current = ""
        for word in text.split():
            candidate = f"{current} {word}" if current else word
            if current and self.width(candidate) > max_width:
                lines.append(current)
                candidate = word
            current = candidate
        if current:
            lines.append(current)
        return [self.fit(line, max_width) for line in lines]

    def put(self, image: Image, text: str, left: int, baseline_y: int, ink: BGR) -> None:
        freetype = self._freetype
        if freetype is not None:
            freetype.put(image, text, left, baseline_y, ink)
            return
        cv2.putText(image, text, (left, baseline_y), _FONT, self.scale, ink, self.thickness, cv2.LINE_AA)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Sizes scaled to the image, so overlays look the same at 360p and 1080p."""

    font: Font
    pad: int
    line_width: int
    badge_radius: int

    @classmethod
    def for_size(cls, width: int, height: int) -> Metrics:
        unit = min(width, height) / 720
        font = Font(max(0.35, 0.65 * unit), max(1, round(1.6 * unit)))
        return cls(font, max(2, round(8 * unit)), max(1, round(3 * unit)), max(7, round(22 * unit)))


class Canvas:
    """The copy being drawn on, with its size and the metrics that go with it."""

    def __init__(self, image: Image) -> None:
        self.image = image
        self.height, self.width = int(image.shape[0]), int(image.shape[1])
        self.metrics = Metrics.for_size(self.width, self.height)

    def pixel(self, point: Point, projection: Projection) -> PixelPoint | None:
        """The pixel position of a normalized point after projection; None if it came out non-finite."""
        x, y = projection(point)
        px, py = x * self.width, y * self.height
        return (px, py) if math.isfinite(px) and math.isfinite(py) else None

    def contains(self, point: PixelPoint, margin: float = 0.0) -> bool:
        x, y = point
        return -margin <= x < self.width + margin and -margin <= y < self.height + margin

    def segment(self, start: PixelPoint, end: PixelPoint) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The segment clipped to a generous box around the image, in ints OpenCV accepts; None if outside.

        Clipping rather than clamping keeps the direction of a line whose far end lies way off screen.
        """
        reach = float(max(self.width, self.height))
        clipped = _clip_segment(start, end, (-reach, -reach), (self.width + reach, self.height + reach))
        if clipped is None:
            return None
        (x0, y0), (x1, y1) = clipped
        return (round(x0), round(y0)), (round(x1), round(y1))


def _clip_segment(
    start: PixelPoint, end: PixelPoint, low: PixelPoint, high: PixelPoint,
) -> tuple[PixelPoint, PixelPoint] | None:
    """Liang-Barsky clipping of a segment to the box [low, high]."""
    t_enter, t_leave = 0.0, 1.0
    delta = (end[0] - start[0], end[1] - start[1])
    for axis in (0, 1):
        for direction, room in ((-delta[axis], start[axis] - low[axis]), (delta[axis], high[axis] - start[axis])):
            if direction == 0:
                if room < 0:
                    return None
                continue
            t = room / direction
            if direction < 0:
                t_enter = max(t_enter, t)
            else:
                t_leave = min(t_leave, t)
    if t_enter > t_leave:
        return None
    return _lerp(start, delta, t_enter), _lerp(start, delta, t_leave)


def _lerp(start: PixelPoint, delta: PixelPoint, t: float) -> PixelPoint:
    return start[0] + t * delta[0], start[1] + t * delta[1]


