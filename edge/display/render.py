"""Draws overlays onto frames with OpenCV.

Anchored items (box, outline, badge, arrow, label) sit at normalized points of the frame the cloud saw; a
caller that tracks the scene supplies a projection that moves them onto the frame being drawn. Screen-space
items (panel, step card, notice) belong to the display rather than the world, so the renderer lays them out
itself, stacking them so that no card covers another.

``OverlayRenderer.draw`` holds no state and is CPU work: call it from a worker thread, never the event loop.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.edge.errors import EdgeError
from eyeline.edge.overlays import (
    ArrowShape,
    BadgeShape,
    BoxShape,
    Item,
    LabelShape,
    NoticeShape,
    OutlineShape,
    Overlay,
    PanelShape,
    Point,
    Shape,
    StepCardShape,
)

BGR = tuple[int, int, int]
PixelPoint = tuple[float, float]
Projection = Callable[[Point], Point]
"""Maps a normalized point of the overlay's frame to a normalized point of the frame being drawn."""
ProjectionFor = Callable[[Overlay], Projection | None]
OpacityFor = Callable[[Overlay], float]
"""Gives an overlay's projection, or None when its anchor is lost and its anchored items must not show."""

# Magenta is rare in real scenes, so badges stay findable by colour (tests rely on this).
BADGE_BGR: Final[BGR] = (255, 0, 255)
BOX_BGR: Final[BGR] = (60, 220, 80)
OUTLINE_BGR: Final[BGR] = (255, 210, 0)
ARROW_BGR: Final[BGR] = (0, 140, 255)
LABEL_BGR: Final[BGR] = (255, 255, 255)
PANEL_BGR: Final[BGR] = (255, 170, 60)
STEP_BGR: Final[BGR] = (90, 230, 120)
WARNING_BGR: Final[BGR] = (0, 200, 255)
NOTICE_BGR: Final[BGR] = (225, 225, 225)
CARD_BGR: Final[BGR] = (28, 28, 28)
TAG_BGR: Final[BGR] = (24, 24, 24)

_WHITE: Final[BGR] = (255, 255, 255)
_BLACK: Final[BGR] = (0, 0, 0)
_FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
_CARD_OPACITY: Final = 0.8
_CARD_MAX_WIDTH_FRACTION: Final = 0.45
_ASCII_LOOKALIKES: Final = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2212": "-", "\u2026": "...", "\u00d7": "x", "\u00b5": "u", "\u00b0": "deg", "\u2022": "*",
    "\u00b7": "-", "\u2044": "/", "\u00a0": " ",
})


class RenderError(EdgeError):
    """The renderer was handed something it cannot draw on or draw."""


class OverlayRenderer:
    """Draws every overlay item type onto a copy of a BGR frame."""

    def draw(self, image: Image, overlays: Iterable[Overlay], project: ProjectionFor | None = None,
             opacity: OpacityFor | None = None) -> Image:
        """Return a new image with ``overlays`` drawn on ``image``, which is left untouched.

        ``project`` maps each overlay to its re-projection onto this frame (None: draw where the cloud put
        the items). When it returns None for an overlay, that overlay's anchored items are skipped while its
        panels, step cards and notices still show. ``opacity`` (0..1, default 1) blends an overlay's anchored
        items into the frame, so an overlay whose anchor is lost can fade out.
        """
        _check_image(image)
        canvas = _Canvas(image.copy())
        screen_items: list[Item] = []
        for overlay in overlays:
            screen_items.extend(item for item in overlay.items if _is_screen_space(item.shape))
            projection = _identity if project is None else project(overlay)
            alpha = 1.0 if opacity is None else min(1.0, max(0.0, opacity(overlay)))
            if projection is not None and alpha > 0.0:
                _draw_anchored_items(canvas, overlay, projection, alpha)
        _draw_screen_items(canvas, screen_items)
        return canvas.image


def _draw_anchored_items(canvas: _Canvas, overlay: Overlay, projection: Projection, alpha: float) -> None:
    anchored = [item for item in overlay.items if not _is_screen_space(item.shape)]
    target = canvas if alpha >= 1.0 else _Canvas(canvas.image.copy())
    for item in anchored:
        _draw_anchored(target, item, projection)
    if target is not canvas:
        cv2.addWeighted(target.image, alpha, canvas.image, 1.0 - alpha, 0.0, dst=canvas.image)


def _identity(point: Point) -> Point:
    return point


def _check_image(image: Image) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise RenderError(f"expected a BGR image of shape (height, width, 3), got {shape}")
    if image.dtype != np.uint8:
        raise RenderError(f"expected a uint8 BGR image, got dtype {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise RenderError(f"cannot draw on an empty image of shape {image.shape}")


def _is_screen_space(shape: Shape) -> bool:
    return isinstance(shape, PanelShape | StepCardShape | NoticeShape)


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


def _printable_ascii(char: str) -> str:
    if " " <= char <= "~":
        return char
    return " " if char.isspace() else "?"


def _ink_on(paper: BGR) -> BGR:
    """White or black, whichever reads better on ``paper``."""
    blue, green, red = paper
    return _BLACK if 0.114 * blue + 0.587 * green + 0.299 * red > 150 else _WHITE


# --- sizes and text -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Font:
    scale: float
    thickness: int

    def size(self, text: str) -> tuple[int, int, int]:
        """Width, height above the baseline, and depth below it, in pixels."""
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
        cv2.putText(image, text, (left, baseline_y), _FONT, self.scale, ink, self.thickness, cv2.LINE_AA)


@dataclass(frozen=True, slots=True)
class _Metrics:
    """Sizes scaled to the image, so overlays look the same at 360p and 1080p."""

    font: _Font
    pad: int
    line_width: int
    badge_radius: int

    @classmethod
    def for_size(cls, width: int, height: int) -> _Metrics:
        unit = min(width, height) / 720
        font = _Font(max(0.35, 0.65 * unit), max(1, round(1.6 * unit)))
        return cls(font, max(2, round(8 * unit)), max(1, round(3 * unit)), max(7, round(22 * unit)))


class _Canvas:
    """The copy being drawn on, with its size and the metrics that go with it."""

    def __init__(self, image: Image) -> None:
        self.image = image
        self.height, self.width = int(image.shape[0]), int(image.shape[1])
        self.metrics = _Metrics.for_size(self.width, self.height)

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


# --- anchored items -------------------------------------------------------------------------------------


def _draw_anchored(canvas: _Canvas, item: Item, projection: Projection) -> None:
    shape = item.shape
    match shape:
        case BoxShape():
            _draw_box(canvas, shape, item_bgr(item, BOX_BGR), projection)
        case OutlineShape():
            _draw_polygon(canvas, _pixels(canvas, shape.points, projection), item_bgr(item, OUTLINE_BGR))
        case BadgeShape():
            _draw_badge(canvas, shape, item_bgr(item, BADGE_BGR), projection)
        case ArrowShape():
            _draw_arrow(canvas, shape, item_bgr(item, ARROW_BGR), projection)
        case LabelShape():
            anchor = canvas.pixel(shape.anchor, projection)
            if anchor is not None and canvas.contains(anchor):
                _draw_tag(canvas, shape.text, anchor, item_bgr(item, LABEL_BGR), TAG_BGR, centred=True)
        case _:
            raise RenderError(f"item {item.id!r} has a shape the renderer does not know: {type(shape).__name__}")


def _pixels(canvas: _Canvas, points: Iterable[Point], projection: Projection) -> list[PixelPoint] | None:
    """All points in pixels, or None if any of them cannot be placed."""
    pixels = [canvas.pixel(point, projection) for point in points]
    return None if any(pixel is None for pixel in pixels) else [p for p in pixels if p is not None]


def _draw_polygon(canvas: _Canvas, corners: list[PixelPoint] | None, bgr: BGR) -> None:
    if corners is None or len(corners) < 2:
        return
    for start, end in zip(corners, corners[1:] + corners[:1], strict=True):
        segment = canvas.segment(start, end)
        if segment is not None:
            cv2.line(canvas.image, *segment, bgr, canvas.metrics.line_width, cv2.LINE_AA)


def _draw_box(canvas: _Canvas, shape: BoxShape, bgr: BGR, projection: Projection) -> None:
    box = shape.box
    left, right = sorted((box.x0, box.x1))
    top, bottom = sorted((box.y0, box.y1))
    # Projected corners rather than a rectangle: under a homography the box becomes a general quad.
    corners = _pixels(canvas, ((left, top), (right, top), (right, bottom), (left, bottom)), projection)
    _draw_polygon(canvas, corners, bgr)
    if corners is None or not shape.caption or not _touches_image(canvas, corners):
        return
    top_left = min(corners, key=lambda corner: (corner[1], corner[0]))
    anchor = (min(max(top_left[0], 0.0), canvas.width - 1.0), min(max(top_left[1], 0.0), canvas.height - 1.0))
    _draw_tag(canvas, shape.caption, anchor, _ink_on(bgr), bgr, centred=False)


def _touches_image(canvas: _Canvas, corners: list[PixelPoint]) -> bool:
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return max(xs) >= 0 and min(xs) < canvas.width and max(ys) >= 0 and min(ys) < canvas.height


def _draw_badge(canvas: _Canvas, shape: BadgeShape, bgr: BGR, projection: Projection) -> None:
    radius = canvas.metrics.badge_radius
    centre = canvas.pixel(shape.center, projection)
    if centre is None or not canvas.contains(centre, margin=radius):
        return
    at = (round(centre[0]), round(centre[1]))
    cv2.circle(canvas.image, at, radius, bgr, -1, cv2.LINE_AA)
    cv2.circle(canvas.image, at, radius, _ink_on(bgr), max(1, radius // 8), cv2.LINE_AA)
    text = ascii_text(shape.text).strip()[:3]
    if text:
        font = _badge_font(text, radius)
        width, height, _ = font.size(text)
        font.put(canvas.image, text, at[0] - width // 2, at[1] + height // 2, _ink_on(bgr))


def _badge_font(text: str, radius: int) -> _Font:
    """A bold font sized so ``text`` sits inside a badge of ``radius``."""
    thickness = max(2, radius // 7)
    width, height, _ = _Font(1.0, thickness).size(text)
    return _Font(min(1.25 * radius / max(width, 1), 0.95 * radius / max(height, 1)), thickness)


def _draw_arrow(canvas: _Canvas, shape: ArrowShape, bgr: BGR, projection: Projection) -> None:
    tail, head = canvas.pixel(shape.tail, projection), canvas.pixel(shape.head, projection)
    if tail is None or head is None:
        return
    segment = canvas.segment(tail, head)
    if segment is not None and segment[0] != segment[1]:
        (x0, y0), (x1, y1) = segment
        tip_pixels = 5 * canvas.metrics.line_width + 8
        tip_fraction = min(0.5, tip_pixels / math.hypot(x1 - x0, y1 - y0))
        cv2.arrowedLine(canvas.image, *segment, bgr, canvas.metrics.line_width, cv2.LINE_AA, 0, tip_fraction)
    if shape.text and canvas.contains(tail):
        _draw_tag(canvas, shape.text, tail, _ink_on(TAG_BGR), TAG_BGR, centred=True)


def _draw_tag(canvas: _Canvas, text: str, at: PixelPoint, ink: BGR, paper: BGR, *, centred: bool) -> None:
    """One line of text on a solid backing box, centred on ``at`` or sitting on it, kept inside the image."""
    font, pad = canvas.metrics.font, canvas.metrics.pad
    line = font.fit(ascii_text(text), canvas.width - 2 * pad)
    if not line:
        return
    width, height, depth = font.size(line)
    box_width, box_height = width + 2 * pad, height + depth + 2 * pad
    left = at[0] - box_width / 2 if centred else at[0]
    top = at[1] - box_height / 2 if centred else at[1] - box_height
    left_px = int(min(max(left, 0), max(canvas.width - box_width, 0)))
    top_px = int(min(max(top, 0), max(canvas.height - box_height, 0)))
    cv2.rectangle(canvas.image, (left_px, top_px), (left_px + box_width - 1, top_px + box_height - 1), paper, -1)
    font.put(canvas.image, line, left_px + pad, top_px + pad + height, ink)


# --- screen-space items ---------------------------------------------------------------------------------


class _Corner(Enum):
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM = "bottom"


@dataclass(frozen=True, slots=True)
class _Rect:
    left: int
    top: int
    right: int  # exclusive
    bottom: int  # exclusive

    def overlaps(self, other: _Rect) -> bool:
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)

    def inside(self, width: int, height: int) -> bool:
        return self.left >= 0 and self.top >= 0 and self.right <= width and self.bottom <= height


class _ScreenLayout:
    """Greedy placement of cards: each goes to its corner, stacked past the cards already placed.

    Positions tried are the corner itself and the edges of every placed card, column by column; the first
    that fits inside the image and overlaps nothing wins. Only when the screen is full does a card fall back
    to its bare corner.
    """

    def __init__(self, width: int, height: int, gap: int) -> None:
        self._width, self._height, self._gap = width, height, gap
        self._taken: list[_Rect] = []

    def place(self, width: int, height: int, corner: _Corner) -> _Rect:
        candidates = [
            _Rect(left, top, left + width, top + height)
            for left in self._lefts(width, corner)
            for top in self._tops(height, corner)
        ]
        chosen = next((rect for rect in candidates if self._free(rect)), candidates[0])
        self._taken.append(chosen)
        return chosen

    def _free(self, rect: _Rect) -> bool:
        return rect.inside(self._width, self._height) and not any(rect.overlaps(t) for t in self._taken)

    def _lefts(self, width: int, corner: _Corner) -> list[int]:
        if corner is _Corner.BOTTOM:
            return [(self._width - width) // 2]
        if corner is _Corner.TOP_LEFT:
            return [self._gap, *sorted(rect.right + self._gap for rect in self._taken)]
        corner_left = self._width - self._gap - width
        return [corner_left, *sorted((rect.left - self._gap - width for rect in self._taken), reverse=True)]

    def _tops(self, height: int, corner: _Corner) -> list[int]:
        if corner is _Corner.BOTTOM:
            bottom_top = self._height - self._gap - height
            return [bottom_top, *sorted((rect.top - self._gap - height for rect in self._taken), reverse=True)]
        return [self._gap, *sorted(rect.bottom + self._gap for rect in self._taken)]


@dataclass(frozen=True, slots=True)
class _CardLine:
    text: str
    ink: BGR
    right: str = ""  # right-aligned column, e.g. a panel row's value


@dataclass(frozen=True, slots=True)
class _Card:
    lines: tuple[_CardLine, ...]
    accent: BGR
    corner: _Corner


def _draw_screen_items(canvas: _Canvas, items: list[Item]) -> None:
    layout = _ScreenLayout(canvas.width, canvas.height, canvas.metrics.pad)
    # Notices first: they claim the bottom edge, so stacked cards stop above them.
    for item in sorted(items, key=lambda item: not isinstance(item.shape, NoticeShape)):
        _draw_card(canvas, layout, _card_for(canvas, item))


def _card_for(canvas: _Canvas, item: Item) -> _Card:
    shape = item.shape
    max_text = _card_text_width(canvas)
    font = canvas.metrics.font
    match shape:
        case PanelShape():
            return _panel_card(shape, item_bgr(item, PANEL_BGR))
        case StepCardShape():
            return _step_card(shape, item_bgr(item, STEP_BGR), font, max_text)
        case NoticeShape():
            bgr = item_bgr(item, NOTICE_BGR)
            lines = (_CardLine(font.fit(ascii_text(shape.text), canvas.width - 4 * canvas.metrics.pad), bgr),)
            return _Card(lines, bgr, _Corner.BOTTOM)
    raise RenderError(f"item {item.id!r} is not a screen-space item: {type(shape).__name__}")


def _card_text_width(canvas: _Canvas) -> int:
    return max(int(canvas.width * _CARD_MAX_WIDTH_FRACTION) - 3 * canvas.metrics.pad, 1)


def _panel_card(shape: PanelShape, accent: BGR) -> _Card:
    title = (_CardLine(ascii_text(shape.title), accent),) if shape.title else ()
    rows = tuple(
        _CardLine(ascii_text(f"{row.rank}. {row.text}" if row.rank else row.text), _WHITE, ascii_text(row.value))
        for row in shape.rows
    )
    return _Card(title + rows, accent, _Corner.TOP_RIGHT)


def _step_card(shape: StepCardShape, accent: BGR, font: _Font, max_text: int) -> _Card:
    lines = [_CardLine(f"Step {shape.step}/{shape.total}", accent)]
    lines += [_CardLine(text, _WHITE) for text in font.wrap(ascii_text(shape.instruction), max_text)]
    if shape.warning:
        lines += [_CardLine(text, WARNING_BGR) for text in font.wrap("! " + ascii_text(shape.warning), max_text)]
    return _Card(tuple(lines), accent, _Corner.TOP_LEFT)


def _draw_card(canvas: _Canvas, layout: _ScreenLayout, card: _Card) -> None:
    metrics = canvas.metrics
    font, pad = metrics.font, metrics.pad
    lines = tuple(_fit_line(font, line, _card_text_width(canvas)) for line in card.lines)
    text_width = max((_line_width(font, line, pad) for line in lines), default=0)
    line_height = font.line_height() + pad // 2
    accent_width = max(2, pad // 2)
    width = accent_width + text_width + 2 * pad
    height = line_height * len(lines) + 2 * pad
    rect = layout.place(width, height, card.corner)
    _shade(canvas.image, rect, CARD_BGR)
    cv2.rectangle(canvas.image, (rect.left, rect.top), (rect.left + accent_width - 1, rect.bottom - 1),
                  card.accent, -1)
    text_left, text_right = rect.left + accent_width + pad, rect.right - pad
    for row, line in enumerate(lines):
        baseline = rect.top + pad + row * line_height + font.size("Ag")[1]
        _put_card_line(canvas.image, font, line, text_left, text_right, baseline)


def _fit_line(font: _Font, line: _CardLine, max_width: int) -> _CardLine:
    right = font.fit(line.right, max_width // 2)
    room = max_width - (font.width(right) + font.width("  ") if right else 0)
    return _CardLine(font.fit(line.text, room), line.ink, right)


def _line_width(font: _Font, line: _CardLine, pad: int) -> int:
    return font.width(line.text) + (2 * pad + font.width(line.right) if line.right else 0)


def _put_card_line(image: Image, font: _Font, line: _CardLine, left: int, right: int, baseline: int) -> None:
    font.put(image, line.text, left, baseline, line.ink)
    if line.right:
        font.put(image, line.right, right - font.width(line.right), baseline, line.ink)


def _shade(image: Image, rect: _Rect, bgr: BGR) -> None:
    """Darken ``rect`` towards ``bgr``; translucent, so the wearer still sees the world behind a card."""
    height, width = image.shape[:2]
    left, top = max(rect.left, 0), max(rect.top, 0)
    right, bottom = min(rect.right, width), min(rect.bottom, height)
    if left >= right or top >= bottom:
        return
    region = image[top:bottom, left:right]
    paper = np.empty_like(region)
    paper[:] = bgr
    image[top:bottom, left:right] = cv2.addWeighted(region, 1 - _CARD_OPACITY, paper, _CARD_OPACITY, 0)
