"""Labels photographed on their side: read them turned upright, with every box placed back on the photo.

The OCR reads text that runs across the image; a sticker turned a quarter round comes back as tall, garbled
columns. When most lines read are taller than wide, the image is read again turned each way, and the reading
with the more confident text wins.
"""

from __future__ import annotations

import asyncio

import cv2
import numpy as np

from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception.ocr import AsyncTextReader, TextLine

_MIN_LETTERS = 4


def on_its_side(lines: tuple[TextLine, ...]) -> bool:
    """Whether most lines of words run up or down the image rather than across it."""
    worded = [line for line in lines if sum(char.isalpha() for char in line.text) >= _MIN_LETTERS]
    return bool(worded) and sum(line.height > line.width for line in worded) * 2 > len(worded)


async def read_upright(image: Image, ocr: AsyncTextReader) -> tuple[tuple[TextLine, ...], int]:
    """The image read turned a quarter each way: the more confident reading, in the turned image's
    coordinates (rows run across, as the reader expects), and the turn that made it (a ``cv2.ROTATE_*``)."""
    turns = (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)
    readings = await asyncio.gather(*(_read_turned(image, ocr, turn) for turn in turns))
    best = max(range(len(turns)), key=lambda index: sum(line.score for line in readings[index]))
    return readings[best], turns[best]


async def _read_turned(image: Image, ocr: AsyncTextReader, turn: int) -> tuple[TextLine, ...]:
    turned = await asyncio.to_thread(_turn, image, turn)
    return await ocr.read(turned)


def _turn(image: Image, turn: int) -> Image:
    return np.asarray(cv2.rotate(image, turn), dtype=np.uint8)


def box_back(box: NormBox, turn: int) -> NormBox:
    """``box`` on the turned image, in the coordinates of the photo as taken (normalised)."""
    def back(point: Point) -> Point:
        u, v = point
        # Turned clockwise, the photo's (x, y) is at (1 - y, x); counter-clockwise at (y, 1 - x).
        return (v, 1.0 - u) if turn == cv2.ROTATE_90_CLOCKWISE else (1.0 - v, u)

    corners = [back((box.x0, box.y0)), back((box.x1, box.y1))]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return NormBox(min(xs), min(ys), max(xs), max(ys))
