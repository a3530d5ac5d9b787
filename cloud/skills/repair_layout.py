"""Place a machine's parts in a real photo from a text cue printed on it, when no reference image registers.

A kit may say where each part sits relative to a printed badge ("RANCILIO"), in widths of one of the badge's
letters: the letter width OCR reads gives the scale, the cue's centre the origin. That places a part by
layout alone, which is an inference and says so (lower confidence); a round part (a knob, a gauge) is then
looked for with a Hough circle search near the placed spot, and is reported as detected only when found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from eyeline.cloud.knowledge.schema import Component, RepairKit
from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception.ocr import TextLine

LAYOUT_CONFIDENCE = 0.4     # a part placed from the badge alone: the machine's proportions, not this photo
DETECTED_CONFIDENCE = 0.75  # a part the circle search found near where the layout put it
_SEARCH_SPAN = 1.6          # the circle search looks this many part-sizes around the placed centre
_MIN_LETTER_PX = 3.0        # a cue read smaller than this gives no usable scale


@dataclass(frozen=True, slots=True)
class Anchor:
    """A printed cue found in the frame: its centre and the width of one printed letter, in pixels."""

    cue: str
    centre: tuple[float, float]
    letter_px: float


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a part is in the frame (normalized), and whether it was detected or only inferred."""

    box: NormBox
    centre: Point
    detected: bool
    confidence: float

    @property
    def how(self) -> str:
        return "found by a circle search near its place" if self.detected else \
            "inferred from the badge layout, not detected"


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def find_anchor(kit: RepairKit, lines: Sequence[TextLine], size: tuple[int, int]) -> Anchor | None:
    """The best-read line holding one of the kit's layout anchors, or None."""
    cues = {component.layout.anchor for component in kit.components if component.layout is not None}
    width, height = size
    best: tuple[float, Anchor] | None = None
    for line in lines:
        text = line.text.lower()
        for cue in cues:
            start = text.find(cue.lower())
            if start < 0 or not text.strip():
                continue
            box = line.box
            letter_px = (box.x1 - box.x0) * width / len(text)
            if letter_px < _MIN_LETTER_PX:
                continue
            # The cue's own centre inside the line ("2R RANCILIO": a logo read as letters before it).
            middle = (start + len(cue) / 2) / len(text)
            centre = ((box.x0 + middle * (box.x1 - box.x0)) * width, (box.y0 + box.y1) / 2 * height)
            if best is None or line.score > best[0]:
                best = (line.score, Anchor(cue, centre, letter_px))
    return best[1] if best is not None else None


def place(component: Component, anchor: Anchor, image: Image) -> Placement | None:
    """The part's place in the frame, or None when its layout is not measured from this anchor or it lies
    outside the frame (CPU work: run in a worker)."""
    layout = component.layout
    if layout is None or layout.anchor != anchor.cue:
        return None
    height, width = image.shape[:2]
    cx = anchor.centre[0] + layout.offset[0] * anchor.letter_px
    cy = anchor.centre[1] + layout.offset[1] * anchor.letter_px
    half_w, half_h = layout.size[0] * anchor.letter_px / 2, layout.size[1] * anchor.letter_px / 2
    if not (0 <= cx < width and 0 <= cy < height):
        return None
    detected = False
    if layout.detect == "circle":
        circle = _circle_near(image, (cx, cy), min(half_w, half_h))
        if circle is not None:
            cx, cy, radius = circle
            half_w = half_h = radius
            detected = True
    box = NormBox(max(0.0, (cx - half_w) / width), max(0.0, (cy - half_h) / height),
                  min(1.0, (cx + half_w) / width), min(1.0, (cy + half_h) / height))
    return Placement(box, (cx / width, cy / height), detected,
                     DETECTED_CONFIDENCE if detected else LAYOUT_CONFIDENCE)


def _circle_near(image: Image, centre: tuple[float, float], radius: float) -> tuple[float, float, float] | None:
    """The circle of about ``radius`` nearest ``centre`` in a window around it, or None."""
    height, width = image.shape[:2]
    reach = _SEARCH_SPAN * 2 * radius
    x0, y0 = int(max(0, centre[0] - reach)), int(max(0, centre[1] - reach))
    x1, y1 = int(min(width, centre[0] + reach)), int(min(height, centre[1] + reach))
    if x1 - x0 < 8 or y1 - y0 < 8 or radius < 4:
        return None
    window = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_BGR2GRAY)
    window = cv2.medianBlur(window, 5)
    found = cv2.HoughCircles(window, cv2.HOUGH_GRADIENT, dp=1.2, minDist=radius, param1=100, param2=30,
                             minRadius=int(radius * 0.6), maxRadius=int(radius * 1.5))
    if found is None:
        return None
    circles = [(float(x) + x0, float(y) + y0, float(r)) for x, y, r in found[0]]
    nearest = min(circles, key=lambda c: (c[0] - centre[0]) ** 2 + (c[1] - centre[1]) ** 2)
    if np.hypot(nearest[0] - centre[0], nearest[1] - centre[1]) > reach:
        return None
    return nearest


def detectable_parts_found(kit: RepairKit, anchor: Anchor, image: Image) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The kit's parts with a detector that lie in view: those found where the layout puts them, and those
    missing (CPU work: run in a worker). A badge alone could be on another machine of the same maker; a knob
    where this model has one is evidence that it is this model."""
    found: list[str] = []
    missing: list[str] = []
    for component in kit.components:
        if component.layout is None or not component.layout.detect:
            continue
        placed = place(component, anchor, image)
        if placed is not None:
            (found if placed.detected else missing).append(component.name)
    return tuple(found), tuple(missing)
