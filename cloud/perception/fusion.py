"""Several keyframes read as one: text seen in earlier views, registered into the current one.

Glare, blur or a passing occlusion rarely hit the same package in two views. Each earlier keyframe is
registered onto the current frame; its lines are moved there, and where two reads of one place disagree the
surer one stays. Reads of other images (crops) pass straight through to the base reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception.ocr import AsyncTextReader, TextLine
from eyeline.cloud.perception.registration import Registration, register

_MIN_CONFIDENCE = 0.3
_SAME_PLACE_IOU = 0.4


class FusedTextReader:
    """Reads ``current`` together with ``others`` (earlier views of the same scene) through ``base``."""

    def __init__(self, base: AsyncTextReader, current: Image, others: Sequence[Image],
                 *, others_reader: AsyncTextReader | None = None) -> None:
        self._base = base
        self._others_reader = others_reader or base
        self._current = current
        self._others = tuple(others)
        self.views_fused = 0

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        lines = await self._base.read(image_bgr)
        if image_bgr is not self._current:
            return lines
        current_gray = _gray(image_bgr)
        fused = list(lines)
        for other in self._others:
            found = await asyncio.to_thread(register, _gray(other), current_gray)
            if found is None or found.confidence < _MIN_CONFIDENCE:
                continue
            moved = [m for m in (move_line(line, found, other.shape, image_bgr.shape)
                                 for line in await self._others_reader.read(other)) if m is not None]
            fused = fuse_lines(fused, moved)
            self.views_fused += 1
        return tuple(fused)


def fuse_lines(primary: Sequence[TextLine], extra: Sequence[TextLine]) -> list[TextLine]:
    """``primary`` plus the lines of ``extra`` it lacks; where both read one place, the higher score wins."""
    fused = list(primary)
    for line in extra:
        same = [index for index, kept in enumerate(fused) if _iou(kept.box, line.box) > _SAME_PLACE_IOU]
        if not same:
            fused.append(line)
        elif all(line.score > fused[index].score for index in same):
            fused = [kept for index, kept in enumerate(fused) if index not in same] + [line]
    return fused


def move_line(line: TextLine, found: Registration, from_shape: tuple[int, ...],
              to_shape: tuple[int, ...]) -> TextLine | None:
    """A line of one view placed in another by ``found``; None where it falls outside that view."""
    from_rows, from_cols = from_shape[:2]
    to_rows, to_cols = to_shape[:2]
    pixels = found.project([(x * from_cols, y * from_rows) for x, y in line.quad])
    points: list[Point] = [(float(x) / to_cols, float(y) / to_rows) for x, y in pixels]
    if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in points):
        return None
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return TextLine(line.text, line.score, NormBox(min(xs), min(ys), max(xs), max(ys)),
                    (points[0], points[1], points[2], points[3]))


def _iou(a: NormBox, b: NormBox) -> float:
    inter = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / max(union, 1e-9)


def _gray(image: Image) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
