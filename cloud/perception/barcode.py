"""Barcodes in view: EAN-13, EAN-8 and UPC-A read with OpenCV's detector, kept only when the check digit holds.

Decoding is CPU work on the whole frame; callers on the event loop run :func:`read_barcodes` in a thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.cloud.model import Image, NormBox

# OpenCV's localizer scores gradient coherence and misses crisp bars as often as blurred ones; each view of the
# frame below finds codes the others miss, so they are tried in turn until one reads (cheapest first).
_SMALL_SIDE_PX = 900
_RETAIL_KINDS = ("EAN_13", "EAN_8", "UPC_A", "UPC_E")


@dataclass(frozen=True, slots=True)
class Barcode:
    """A retail barcode read in a frame: its digits as printed, the symbology, and where it is."""

    digits: str
    kind: str
    box: NormBox

    @property
    def gtin(self) -> str:
        """The digits as a 14-digit GTIN, the form every retail code compares equal in (UPC-A 012... = EAN 0012...)."""
        return gtin14(self.digits)


def gtin14(digits: str) -> str:
    return digits.strip().zfill(14)


def check_digit_ok(digits: str) -> bool:
    """The GS1 check: digits weighted 3, 1, 3, ... from the right (the check digit excluded) sum to a multiple of 10."""
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def read_barcodes(image: Image) -> tuple[Barcode, ...]:
    """Every retail barcode readable in ``image`` (BGR or grey), each code once, with a valid check digit."""
    found: list[Barcode] = []
    for view in _views(image):
        found = _decode(view)
        if found:
            break
    unique: dict[str, Barcode] = {}
    for code in found:
        unique.setdefault(code.gtin, code)
    return tuple(unique.values())


def _views(image: Image) -> Iterator[npt.NDArray[Any]]:
    yield image
    yield cv2.GaussianBlur(image, (3, 3), 0)
    yield cv2.GaussianBlur(image, (5, 5), 0)
    yield cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    if max(image.shape[:2]) < _SMALL_SIDE_PX:
        enlarged = cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        yield cv2.GaussianBlur(enlarged, (5, 5), 0)


def _decode(image: npt.NDArray[Any]) -> list[Barcode]:
    # Boxes are normalized, so they are the same whatever scale the frame was read at.
    detector = cv2.barcode.BarcodeDetector()
    ok, texts, kinds, points = detector.detectAndDecodeWithType(image)
    if not ok or points is None:
        return []
    height, width = image.shape[:2]
    codes = []
    for text, kind, corners in zip(texts, kinds, points, strict=False):
        if kind not in _RETAIL_KINDS or not check_digit_ok(text):
            continue
        xs, ys = np.asarray(corners)[:, 0], np.asarray(corners)[:, 1]
        box = NormBox(float(np.clip(xs.min() / width, 0, 1)), float(np.clip(ys.min() / height, 0, 1)),
                      float(np.clip(xs.max() / width, 0, 1)), float(np.clip(ys.max() / height, 0, 1)))
        codes.append(Barcode(text, kind, box))
    return codes
