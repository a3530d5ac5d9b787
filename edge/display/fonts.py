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

    def _font(self) -> Any:
        return _face(self.pixels, self.bold)

    def size(self, text: str) -> tuple[int, int, int]:
        """Width, height above the baseline, depth below it: the face's ascent and descent, so lines line up."""
        font = self._font()
        ascent, descent = font.getmetrics()
        return round(font.getlength(text)), int(ascent), int(descent)

    def put(self, image: Image, text: str, left: int, baseline_y: int, ink: tuple[int, int, int]) -> None:
        """Draw ``text`` with its baseline at ``baseline_y``; only the pixels under the text are touched."""
        from PIL import Image as PilImage
        from PIL import ImageDraw

        width, ascent, descent = self.size(text)
        height, image_width = image.shape[:2]
        x0, y0 = max(left - 2, 0), max(baseline_y - ascent - 2, 0)
        x1, y1 = min(left + width + 4, image_width), min(baseline_y + descent + 2, height)
        if x0 >= x1 or y0 >= y1 or not text:
            return
        # Pillow sees the BGR bytes as RGB: the ink is given in the same byte order, so it lands as meant.
        region = PilImage.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1]))
        ImageDraw.Draw(region).text((left - x0, baseline_y - y0), text, font=self._font(), fill=ink, anchor="ls")
        image[y0:y1, x0:x1] = np.asarray(region)
