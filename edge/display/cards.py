"""Screen-space items (panel, step card, notice): they belong to the display rather than the world, so they
are laid out here, stacked so that no card covers another, whatever the frame size."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.edge.display.canvas import BGR, WHITE, Canvas, Font, RenderError, drawable_text, item_bgr
from eyeline.edge.overlays import Item, NoticeShape, PanelShape, StepCardShape

PANEL_BGR: Final[BGR] = (255, 170, 60)
STEP_BGR: Final[BGR] = (90, 230, 120)
WARNING_BGR: Final[BGR] = (0, 200, 255)
NOTICE_BGR: Final[BGR] = (225, 225, 225)
CARD_BGR: Final[BGR] = (28, 28, 28)

_CARD_OPACITY: Final = 0.8
_CARD_MAX_WIDTH_FRACTION: Final = 0.45

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


def draw_screen_items(canvas: Canvas, items: list[tuple[Item, float]]) -> None:
    """Each item with its opacity (0..1): a fading card is blended into the frame, a gone one takes no room."""
    layout = _ScreenLayout(canvas.width, canvas.height, canvas.metrics.pad)
    # Notices first: they claim the bottom edge, so stacked cards stop above them.
    for item, alpha in sorted(items, key=lambda pair: not isinstance(pair[0].shape, NoticeShape)):
        if alpha > 0.0:
            _draw_card(canvas, layout, _card_for(canvas, item), alpha)


def _card_for(canvas: Canvas, item: Item) -> _Card:
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
            lines = (_CardLine(font.fit(drawable_text(shape.text), canvas.width - 4 * canvas.metrics.pad), bgr),)
            return _Card(lines, bgr, _Corner.BOTTOM)
    raise RenderError(f"item {item.id!r} is not a screen-space item: {type(shape).__name__}")


def _card_text_width(canvas: Canvas) -> int:
    return max(int(canvas.width * _CARD_MAX_WIDTH_FRACTION) - 3 * canvas.metrics.pad, 1)


def _panel_card(shape: PanelShape, accent: BGR) -> _Card:
    title = (_CardLine(drawable_text(shape.title), accent),) if shape.title else ()
    rows = tuple(
        _CardLine(drawable_text(f"{row.rank}. {row.text}" if row.rank else row.text), WHITE, drawable_text(row.value))
        for row in shape.rows
    )
    return _Card(title + rows, accent, _Corner.TOP_RIGHT)


def _step_card(shape: StepCardShape, accent: BGR, font: Font, max_text: int) -> _Card:
    lines = [_CardLine(f"Step {shape.step}/{shape.total}", accent)]
    lines += [_CardLine(text, WHITE) for text in font.wrap(drawable_text(shape.instruction), max_text)]
    if shape.warning:
        lines += [_CardLine(text, WARNING_BGR) for text in font.wrap("! " + drawable_text(shape.warning), max_text)]
    return _Card(tuple(lines), accent, _Corner.TOP_LEFT)


def _draw_card(canvas: Canvas, layout: _ScreenLayout, card: _Card, alpha: float = 1.0) -> None:
    metrics = canvas.metrics
    font, pad = metrics.font, metrics.pad
    lines = tuple(_fit_line(font, line, _card_text_width(canvas)) for line in card.lines)
    text_width = max((_line_width(font, line, pad) for line in lines), default=0)
    line_height = font.line_height() + pad // 2
    accent_width = max(2, pad // 2)
    width = accent_width + text_width + 2 * pad
    height = line_height * len(lines) + 2 * pad
    rect = layout.place(width, height, card.corner)
    area = _clipped(rect, canvas.width, canvas.height)
    before = canvas.image[area].copy() if alpha < 1.0 else None
    _shade(canvas.image, rect, CARD_BGR)
    cv2.rectangle(canvas.image, (rect.left, rect.top), (rect.left + accent_width - 1, rect.bottom - 1),
                  card.accent, -1)
    text_left, text_right = rect.left + accent_width + pad, rect.right - pad
    for row, line in enumerate(lines):
        baseline = rect.top + pad + row * line_height + font.size("Ag")[1]
        _put_card_line(canvas.image, font, line, text_left, text_right, baseline)
    if before is not None:
        canvas.image[area] = cv2.addWeighted(canvas.image[area], alpha, before, 1.0 - alpha, 0.0)


def _clipped(rect: _Rect, width: int, height: int) -> tuple[slice, slice]:
    return slice(max(rect.top, 0), min(rect.bottom, height)), slice(max(rect.left, 0), min(rect.right, width))


def _fit_line(font: Font, line: _CardLine, max_width: int) -> _CardLine:
    right = font.fit(line.right, max_width // 2)
    room = max_width - (font.width(right) + font.width("  ") if right else 0)
    return _CardLine(font.fit(line.text, room), line.ink, right)


def _line_width(font: Font, line: _CardLine, pad: int) -> int:
    return font.width(line.text) + (2 * pad + font.width(line.right) if line.right else 0)


def _put_card_line(image: Image, font: Font, line: _CardLine, left: int, right: int, baseline: int) -> None:
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
