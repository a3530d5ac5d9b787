"""The typeface overlays are drawn in: a FreeType font with wide Unicode coverage when one is on the device, so
"1 °C", "Café" or "Ω" are drawn as written; OpenCV's Hershey font (ASCII only) when none is.

Looked up once, in this order, never downloaded: ``$EYELINE_FONT`` (a .ttf/.otf path), Debian's DejaVu Sans
(``fonts-dejavu-core``: Latin, Greek, Cyrillic, symbols), the DejaVu Sans that matplotlib's wheel carries, when
installed; then Pillow's own font (Latin-1). Scripts a font lacks (e.g. CJK in DejaVu) show as its missing-glyph box.

Pillow's font objects are not safe to share between threads, and frames are drawn in a worker pool: each
thread loads its own.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from eyeline.devices.base import Image

_DEBIAN: Final = Path("/usr/share/fonts/truetype/dejavu")
_REGULAR, _BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
# Pixels of font size per unit of Hershey scale: the same cap height as the Hershey text it replaces.
PIXELS_PER_SCALE: Final = 24.0
_local = threading.local()


@functools.cache
def font_files() -> tuple[Path, Path] | None:
    """The regular and bold faces to draw with, or None when no FreeType font is found (Pillow's own is used)."""
    named = os.environ.get("EYELINE_FONT", "")
    if named and Path(named).is_file():
        return Path(named), Path(named)
    folders = [_DEBIAN]
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        folders.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for folder in folders:
        if (folder / _REGULAR).is_file():
            bold = folder / _BOLD
            return folder / _REGULAR, bold if bold.is_file() else folder / _REGULAR
    return None


@functools.cache
def freetype_available() -> bool:
    """Whether Pillow with FreeType is installed (it is with the ``eyeline`` package's dependencies)."""
    try:
        from PIL import features
    except ImportError:
        return False
    return bool(features.check("freetype2"))


def _face(pixels: int, bold: bool) -> Any:
    """A FreeType font of ``pixels`` size for this thread (cached per thread)."""
    cache: dict[tuple[int, bool], Any] = _local.__dict__.setdefault("faces", {})
    key = (pixels, bold)
    if key not in cache:
        from PIL import ImageFont

        files = font_files()
        cache[key] = (ImageFont.truetype(str(files[1] if bold else files[0]), pixels) if files is not None
                      else ImageFont.load_default(pixels))
    return cache[key]


class FreeTypeText:
    """One size and weight of the FreeType face: measuring and drawing a line of text on a BGR image."""

    def __init__(self, scale: float, thickness: int) -> None:
        self.pixels = max(8, round(PIXELS_PER_SCALE * scale))
        self.bold = thickness >= 3

    def size(self, text: str) -> tuple[int, int, int]:
        """Width, height above the baseline, depth below it: the face's ascent and descent, so lines line up."""
        return _size(text, self.pixels, self.bold)

    def put(self, image: Image, text: str, left: int, baseline_y: int, ink: tuple[int, int, int]) -> None:
        """Draw ``text`` with its baseline at ``baseline_y``; only the pixels under the text are touched."""
        if not text:
            return
        coverage, ascent = _coverage(text, self.pixels, self.bold)
        top, left = baseline_y - ascent - _MARGIN, left - _MARGIN
        height, width = image.shape[:2]
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + coverage.shape[0], height), min(left + coverage.shape[1], width)
        if y0 >= y1 or x0 >= x1:
            return
        alpha = coverage[y0 - top:y1 - top, x0 - left:x1 - left, None]
        region = image[y0:y1, x0:x1].astype(np.float32)
        image[y0:y1, x0:x1] = (region + alpha * (np.asarray(ink, np.float32) - region) + 0.5).astype(np.uint8)


_MARGIN: Final = 2


@functools.lru_cache(maxsize=4096)
def _size(text: str, pixels: int, bold: bool) -> tuple[int, int, int]:
    font = _face(pixels, bold)
    ascent, descent = font.getmetrics()
    return round(font.getlength(text)), int(ascent), int(descent)


@functools.lru_cache(maxsize=1024)
def _coverage(text: str, pixels: int, bold: bool) -> tuple[npt.NDArray[np.float32], int]:
    """How much of each pixel the text covers (0..1), with a margin, and its ascent: drawn once per text and size,
    so a frame re-uses what the last one drew (the same answer is shown for many frames)."""
    from PIL import Image as PilImage
    from PIL import ImageDraw

    font = _face(pixels, bold)
    ascent, descent = font.getmetrics()
    mask = PilImage.new("L", (round(font.getlength(text)) + 2 * _MARGIN + 2, ascent + descent + 2 * _MARGIN), 0)
    ImageDraw.Draw(mask).text((_MARGIN, _MARGIN + ascent), text, font=font, fill=255, anchor="ls")
    return np.asarray(mask, np.float32) / 255.0, int(ascent)
