"""Draws overlays onto frames with OpenCV.

Anchored items (box, outline, badge, arrow, label) sit at normalized points of the frame the cloud saw; a
caller that tracks the scene supplies a projection that moves them onto the frame being drawn. Screen-space
items (panel, step card, notice) belong to the display rather than the world: ``cards`` lays them out.

``OverlayRenderer.draw`` holds no state and is CPU work: call it from a worker thread, never the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.edge.display.canvas import (
    BGR,
    Canvas,
    Font,
    PixelPoint,
    Projection,
    RenderError,
    drawable_text,
    ink_on,
    item_bgr,
)
from eyeline.edge.display.cards import draw_screen_items
from eyeline.edge.overlays import (
    ArrowShape,
    BadgeShape,
    Box,
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

ProjectionFor = Callable[[Overlay], Projection | None]
OpacityFor = Callable[[Overlay], float]
"""Gives an overlay's projection, or None when its anchor is lost and its anchored items must not show."""

# Magenta is rare in real scenes, so badges stay findable by colour (tests rely on this).
BADGE_BGR: Final[BGR] = (255, 0, 255)
BOX_BGR: Final[BGR] = (60, 220, 80)
OUTLINE_BGR: Final[BGR] = (255, 210, 0)
ARROW_BGR: Final[BGR] = (0, 140, 255)
LABEL_BGR: Final[BGR] = (255, 255, 255)
TAG_BGR: Final[BGR] = (24, 24, 24)
# An overlay with this many boxes marks many small things (the lines of a label read out): they are drawn thin.
DENSE_BOXES: Final = 6


class OverlayRenderer:
    """Draws every overlay item type onto a copy of a BGR frame."""

    def draw(self, image: Image, overlays: Iterable[Overlay], project: ProjectionFor | None = None,
             opacity: OpacityFor | None = None, card_opacity: OpacityFor | None = None) -> Image:
        """Return a new image with ``overlays`` drawn on ``image``, which is left untouched.

        ``project`` maps each overlay to its re-projection onto this frame (None: draw where the cloud put
        the items). When it returns None for an overlay, that overlay's anchored items are skipped while its
        panels, step cards and notices still show. ``opacity`` (0..1, default 1) blends an overlay's anchored
        items into the frame, so an overlay whose anchor is lost can fade out; ``card_opacity`` (default 1) does
        the same for its panels and step cards, so an answer leaves with the view it was about. Notices (the
        edge's own lines) never fade.
        """
        _check_image(image)
        canvas = Canvas(image.copy())
        screen_items: list[tuple[Item, float]] = []
        for overlay in overlays:
            card_alpha = 1.0 if card_opacity is None else min(1.0, max(0.0, card_opacity(overlay)))
            screen_items.extend((item, 1.0 if isinstance(item.shape, NoticeShape) else card_alpha)
                                for item in overlay.items if _is_screen_space(item.shape))
            projection = _identity if project is None else project(overlay)
            alpha = 1.0 if opacity is None else min(1.0, max(0.0, opacity(overlay)))
            if projection is not None and alpha > 0.0:
                _draw_anchored_items(canvas, overlay, projection, alpha)
        draw_screen_items(canvas, screen_items)
        return canvas.image


@dataclass(frozen=True, slots=True)
class _Marked:
    """What the overlay's boxes mark on this frame: captions never cover it, and many boxes are drawn thin."""

    boxes: tuple[tuple[float, float, float, float], ...]   # pixel bounds of every projected box
    thin: bool
    tags: list[tuple[float, float, float, float]] = field(default_factory=list)   # captions placed so far


def _marked(canvas: Canvas, items: list[Item], projection: Projection) -> _Marked:
    bounds = []
    for item in items:
        if isinstance(item.shape, BoxShape):
            corners = _pixels(canvas, _corners(item.shape.box), projection)
            if corners is not None:
                xs, ys = [x for x, _ in corners], [y for _, y in corners]
                bounds.append((min(xs), min(ys), max(xs), max(ys)))
    return _Marked(tuple(bounds), thin=len(bounds) >= DENSE_BOXES)


def _draw_anchored_items(canvas: Canvas, overlay: Overlay, projection: Projection, alpha: float) -> None:
    anchored = [item for item in overlay.items if not _is_screen_space(item.shape)]
    target = canvas if alpha >= 1.0 else Canvas(canvas.image.copy())
    marked = _marked(canvas, anchored, projection)
    for item in anchored:
        _draw_anchored(target, item, projection, marked)
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

# --- anchored items -------------------------------------------------------------------------------------


def _draw_anchored(canvas: Canvas, item: Item, projection: Projection, marked: _Marked) -> None:
    shape = item.shape
    match shape:
        case BoxShape():
            _draw_box(canvas, shape, item_bgr(item, BOX_BGR), projection, marked)
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


def _pixels(canvas: Canvas, points: Iterable[Point], projection: Projection) -> list[PixelPoint] | None:
    """All points in pixels, or None if any of them cannot be placed."""
    pixels = [canvas.pixel(point, projection) for point in points]
    return None if any(pixel is None for pixel in pixels) else [p for p in pixels if p is not None]


def _draw_polygon(canvas: Canvas, corners: list[PixelPoint] | None, bgr: BGR, width: int = 0) -> None:
    if corners is None or len(corners) < 2:
        return
    for start, end in zip(corners, corners[1:] + corners[:1], strict=True):
        segment = canvas.segment(start, end)
        if segment is not None:
            cv2.line(canvas.image, *segment, bgr, width or canvas.metrics.line_width, cv2.LINE_AA)


def _corners(box: Box) -> tuple[Point, Point, Point, Point]:
    left, right = sorted((box.x0, box.x1))
    top, bottom = sorted((box.y0, box.y1))
    return (left, top), (right, top), (right, bottom), (left, bottom)


def _draw_box(canvas: Canvas, shape: BoxShape, bgr: BGR, projection: Projection, marked: _Marked) -> None:
    # Projected corners rather than a rectangle: under a homography the box becomes a general quad.
    corners = _pixels(canvas, _corners(shape.box), projection)
    # Many boxes mark many small things (the lines of a label read out): drawn thin, beside what they mark.
    width = 1 if marked.thin else canvas.metrics.line_width
    _draw_polygon(canvas, _outset(corners, width + 1.5) if marked.thin else corners, bgr, width)
    if corners is None or not shape.caption or not _touches_image(canvas, corners):
        return
    _draw_caption(canvas, shape.caption, corners, bgr, marked)


def _outset(corners: list[PixelPoint] | None, by: float) -> list[PixelPoint] | None:
    """The quad grown by ``by`` pixels from its centre, so a thin edge runs just outside what it marks."""
    if corners is None:
        return None
    cx, cy = sum(x for x, _ in corners) / len(corners), sum(y for _, y in corners) / len(corners)
    return [(x + by * math.copysign(1.0, x - cx), y + by * math.copysign(1.0, y - cy)) for x, y in corners]


def _draw_caption(canvas: Canvas, caption: str, corners: list[PixelPoint], bgr: BGR, marked: _Marked) -> None:
    """The caption in a tag just above the box, else beside it (left, right) or below: the first spot inside the
    image that covers none of the overlay's boxes nor their captions; with none, it is left out rather than hide
    the text."""
    font, pad = canvas.metrics.font, canvas.metrics.pad
    if marked.thin:   # many small boxes: small tags, so more of them find room
        font, pad = Font(font.scale * 0.75, max(1, font.thickness - 1)), max(1, pad // 2)
    line = font.fit(drawable_text(caption), canvas.width - 2 * pad)
    if not line:
        return
    width, height, depth = font.size(line)
    tag_w, tag_h = width + 2 * pad, height + depth + 2 * pad
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
    gap = 4.0   # clear of a thin edge drawn just outside the box
    spots = [(left, top - tag_h - gap), (left - tag_w - gap, (top + bottom - tag_h) / 2),
             (right + gap, (top + bottom - tag_h) / 2), (left, bottom + gap)]
    for x, y in spots:
        tag = (x, y, x + tag_w, y + tag_h)
        inside = tag[0] >= 0 and tag[1] >= 0 and tag[2] <= canvas.width and tag[3] <= canvas.height
        if inside and not any(_overlaps(tag, taken) for taken in (*marked.boxes, *marked.tags)):
            marked.tags.append(tag)
            _put_tag(canvas, font, pad, line, (round(x), round(y)), ink_on(bgr), bgr)
            return


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _touches_image(canvas: Canvas, corners: list[PixelPoint]) -> bool:
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return max(xs) >= 0 and min(xs) < canvas.width and max(ys) >= 0 and min(ys) < canvas.height


def _draw_badge(canvas: Canvas, shape: BadgeShape, bgr: BGR, projection: Projection) -> None:
    radius = canvas.metrics.badge_radius
    centre = canvas.pixel(shape.center, projection)
    if centre is None or not canvas.contains(centre, margin=radius):
        return
    at = (round(centre[0]), round(centre[1]))
    cv2.circle(canvas.image, at, radius, bgr, -1, cv2.LINE_AA)
    cv2.circle(canvas.image, at, radius, ink_on(bgr), max(1, radius // 8), cv2.LINE_AA)
    text = drawable_text(shape.text).strip()[:3]
    if text:
        font = _badge_font(text, radius)
        width, height, _ = font.size(text)
        font.put(canvas.image, text, at[0] - width // 2, at[1] + height // 2, ink_on(bgr))


def _badge_font(text: str, radius: int) -> Font:
    """A bold font sized so ``text`` sits inside a badge of ``radius``."""
    thickness = max(2, radius // 7)
    width, height, _ = Font(1.0, thickness).size(text)
    return Font(min(1.25 * radius / max(width, 1), 0.95 * radius / max(height, 1)), thickness)


def _draw_arrow(canvas: Canvas, shape: ArrowShape, bgr: BGR, projection: Projection) -> None:
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
        _draw_tag(canvas, shape.text, tail, ink_on(TAG_BGR), TAG_BGR, centred=True)


def _draw_tag(canvas: Canvas, text: str, at: PixelPoint, ink: BGR, paper: BGR, *, centred: bool) -> None:
    """One line of text on a solid backing box, centred on ``at`` or sitting on it, kept inside the image."""
    font, pad = canvas.metrics.font, canvas.metrics.pad
    line = font.fit(drawable_text(text), canvas.width - 2 * pad)
    if not line:
        return
    width, height, depth = font.size(line)
    box_width, box_height = width + 2 * pad, height + depth + 2 * pad
    left = at[0] - box_width / 2 if centred else at[0]
    top = at[1] - box_height / 2 if centred else at[1] - box_height
    left_px = int(min(max(left, 0), max(canvas.width - box_width, 0)))
    top_px = int(min(max(top, 0), max(canvas.height - box_height, 0)))
    _put_tag(canvas, font, pad, line, (left_px, top_px), ink, paper)


def _put_tag(canvas: Canvas, font: Font, pad: int, line: str, at: tuple[int, int], ink: BGR, paper: BGR) -> None:
    width, height, depth = font.size(line)
    left, top = at
    cv2.rectangle(canvas.image, (left, top), (left + width + 2 * pad - 1, top + height + depth + 2 * pad - 1), paper,
                  -1)
    font.put(canvas.image, line, left + pad, top + pad + height, ink)
