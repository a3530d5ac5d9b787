"""Answers for display glasses: a small see-through display shows no camera picture, so nothing is drawn over
the world; it shows one card at a time, large and high-contrast (black is transparent on such a display).

The card is the newest answer's: its step card (a repair in progress) or its panel (the ranking), else the edge's
own notice (offline). Anchored items (badges, boxes) are not shown: without a calibrated display they could
not be placed on the world. The card fades with its scene as the overlay renderer's cards do. The glasses profile
chooses this layout (``GlassesProfile.layout == "hud"``; ``renderer_for``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.devices.profiles import GlassesProfile
from eyeline.edge.display.canvas import BGR, WHITE, Font, RenderError, drawable_text, item_bgr
from eyeline.edge.display.cards import NOTICE_BGR, PANEL_BGR, STEP_BGR, WARNING_BGR
from eyeline.edge.display.render import OpacityFor, OverlayRenderer, ProjectionFor
from eyeline.edge.overlays import Item, NoticeShape, Overlay, PanelShape, StepCardShape

HUD_ROWS: Final = 3          # a panel's top rows shown; the rest is for the phone or a question
_MAX_LINES: Final = 6
_WIDTH_FRACTION: Final = 0.9


def renderer_for(profile: GlassesProfile) -> OverlayRenderer:
    """The renderer the profile's display wants: the HUD card for display glasses, overlays on the picture else."""
    return HudRenderer() if profile.layout == "hud" else OverlayRenderer()


class HudRenderer(OverlayRenderer):
    """Draws the one current card, centred low on a black display of the frame's size."""

    def draw(self, image: Image, overlays: Iterable[Overlay], project: ProjectionFor | None = None,
             opacity: OpacityFor | None = None, card_opacity: OpacityFor | None = None) -> Image:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise RenderError(f"expected a uint8 BGR image of shape (height, width, 3), got {type(image).__name__}")
        display = np.zeros_like(image)
        chosen = _current_card(list(overlays), card_opacity)
        if chosen is not None:
            item, alpha = chosen
            _draw_hud_card(display, item, alpha)
        return display


def _current_card(overlays: list[Overlay], card_opacity: OpacityFor | None) -> tuple[Item, float] | None:
    notice: tuple[Item, float] | None = None
    for overlay in reversed(overlays):
        alpha = 1.0 if card_opacity is None else min(1.0, max(0.0, card_opacity(overlay)))
        for item in overlay.items:
            if isinstance(item.shape, NoticeShape):
                notice = notice or (item, 1.0)
            elif isinstance(item.shape, StepCardShape | PanelShape) and alpha > 0.0:
                return item, alpha
    return notice


def _lines(item: Item, font: Font, width: int) -> list[tuple[str, BGR]]:
    shape = item.shape
    if isinstance(shape, PanelShape):
        accent = item_bgr(item, PANEL_BGR)
        lines = [(drawable_text(shape.title), accent)] if shape.title else []
        for row in shape.rows[:HUD_ROWS]:
            text = f"{row.rank}. {row.text}" if row.rank else row.text
            lines.append((font.fit(drawable_text(f"{text}  {row.value}".strip()), width), WHITE))
        return lines
    if isinstance(shape, StepCardShape):
        lines = [(f"Step {shape.step}/{shape.total}", item_bgr(item, STEP_BGR))]
        lines += [(text, WHITE) for text in font.wrap(drawable_text(shape.instruction), width)]
        if shape.warning:
            lines += [(text, WARNING_BGR) for text in font.wrap("! " + drawable_text(shape.warning), width)]
        return lines
    if isinstance(shape, NoticeShape):
        return [(font.fit(drawable_text(shape.text), width), item_bgr(item, NOTICE_BGR))]
    raise RenderError(f"item {item.id!r} is not a card: {type(shape).__name__}")


def _draw_hud_card(display: Image, item: Item, alpha: float) -> None:
    height, width = display.shape[:2]
    unit = min(width, height) / 720
    font, pad = Font(1.2 * unit, max(3, round(3 * unit))), max(4, round(18 * unit))
    text_width = int(width * _WIDTH_FRACTION) - 2 * pad
    lines = [(font.fit(text, text_width), ink) for text, ink in _lines(item, font, text_width)][:_MAX_LINES]
    if not lines:
        return
    line_height = font.line_height() + pad // 2
    card_w = max(font.width(text) for text, _ in lines) + 2 * pad
    card_h = line_height * len(lines) + 2 * pad
    left, top = (width - card_w) // 2, max(0, height - card_h - 2 * pad)
    card = display.copy()
    cv2.rectangle(card, (left, top), (left + card_w - 1, top + card_h - 1), WHITE, max(1, pad // 6))
    for row, (text, ink) in enumerate(lines):
        font.put(card, text, left + pad, top + pad + row * line_height + font.size("Ag")[1], ink)
    display[:] = card if alpha >= 1.0 else cv2.addWeighted(card, alpha, display, 1.0 - alpha, 0.0)
