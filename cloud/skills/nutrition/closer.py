"""A closer look at a nutrition table: its region read again at the scale the text detector reads best.

The detector finds text best when a row is a few tens of pixels tall: a panel photographed from afar is read
larger, one filling a big photo is read smaller. The window is each table read so far (or, with none, the lines
that name nutrients), with a margin for rows the first read missed; text read there replaces the frame's
lines inside the window.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import cv2
import numpy as np

from eyeline.cloud.model import Image, NormBox
from eyeline.cloud.perception.crops import from_crop
from eyeline.cloud.perception.ocr import AsyncTextReader, TextLine
from eyeline.cloud.skills.nutrition.facts import NutritionTable
from eyeline.cloud.skills.nutrition.lexicon import nutrients_named

# Row heights (pixels) to read at: Thinking reads at the first, Contemplating at both.
ROW_PX_TARGETS = (28.0, 44.0)
_MIN_SCALE, _MAX_SCALE = 0.35, 3.0
_MARGIN = 0.3               # of the window's size, on each side
_MAX_WINDOWS = 2
_MAX_CROP_PX = 4000         # the longest side read, whatever the scale asks


def windows(lines: Sequence[TextLine], tables: Sequence[NutritionTable]) -> list[NormBox]:
    """Where to look closer: the largest tables read, else the span of the lines that name nutrients."""
    regions = [t.region for t in sorted(tables, key=lambda t: len(t.facts), reverse=True)[:_MAX_WINDOWS]]
    if not regions:
        named = [line.box for line in lines if nutrients_named(line.text)]
        if not named:
            return []
        regions = [_union(named)]
    return [_grown(region) for region in regions]


async def read_closer(image: Image, lines: Sequence[TextLine], window: NormBox, row_px: float,
                      reader: AsyncTextReader) -> tuple[TextLine, ...]:
    """The frame's lines with those inside ``window`` replaced by a read of the window scaled to ``row_px``."""
    rows, cols = image.shape[:2]
    inside = [line for line in lines if _contains(window, line.box)]
    current = statistics.median([line.height * rows for line in inside]) if inside else row_px
    x0, y0 = int(window.x0 * cols), int(window.y0 * rows)
    x1, y1 = max(int(window.x1 * cols), x0 + 1), max(int(window.y1 * rows), y0 + 1)
    scale = min(_MAX_SCALE, max(_MIN_SCALE, row_px / max(current, 1.0)), _MAX_CROP_PX / max(x1 - x0, y1 - y0))
    resized = cv2.resize(image[y0:y1, x0:x1], None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    crop: Image = np.ascontiguousarray(resized, dtype=np.uint8)
    read = [from_crop(line, window) for line in await reader.read(crop)]
    return (*(line for line in lines if not _contains(window, line.box)), *read)


def _grown(box: NormBox) -> NormBox:
    w, h = box.x1 - box.x0, box.y1 - box.y0
    return NormBox(max(0.0, box.x0 - _MARGIN * w), max(0.0, box.y0 - _MARGIN * h), min(1.0, box.x1 + _MARGIN * w),
                   min(1.0, box.y1 + _MARGIN * h))


def _contains(window: NormBox, box: NormBox) -> bool:
    cx, cy = box.center
    return window.x0 <= cx <= window.x1 and window.y0 <= cy <= window.y1


def _union(boxes: Sequence[NormBox]) -> NormBox:
    total = boxes[0]
    for box in boxes[1:]:
        total = total.union(box)
    return total
