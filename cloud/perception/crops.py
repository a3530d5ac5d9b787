"""Crops for a second look: a package's region at a higher resolution, and text read there mapped back."""

from __future__ import annotations

import cv2
import numpy as np

from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception.ocr import TextLine


def package_crop(image: Image, region: NormBox) -> tuple[Image, NormBox]:
    """The package around ``region`` (its name or its text), reaching down to where a panel would be, at 2x."""
    height = region.y1 - region.y0
    window = NormBox(max(0.0, region.x0 - 0.3 * (region.x1 - region.x0)), max(0.0, region.y0 - height),
                     min(1.0, region.x1 + 0.3 * (region.x1 - region.x0)), min(1.0, region.y1 + 5 * height))
    rows, cols = image.shape[:2]
    y0, y1, x0, x1 = (int(window.y0 * rows), int(window.y1 * rows), int(window.x0 * cols), int(window.x1 * cols))
    crop = cv2.resize(image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)], None, fx=2.0, fy=2.0,
                      interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop), window


def from_crop(line: TextLine, window: NormBox) -> TextLine:
    """A line read in a crop, placed back in the coordinates of the whole frame."""
    w, h = window.x1 - window.x0, window.y1 - window.y0

    def point(p: Point) -> Point:
        return (window.x0 + p[0] * w, window.y0 + p[1] * h)

    quad = (point(line.quad[0]), point(line.quad[1]), point(line.quad[2]), point(line.quad[3]))
    box = NormBox(*point((line.box.x0, line.box.y0)), *point((line.box.x1, line.box.y1)))
    return TextLine(text=line.text, score=line.score, box=box, quad=quad)
