"""The images a ``Frame`` may carry (JPEG or PNG): their size, read from the header without decoding a pixel.

Whoever takes frames off the wire (the cloud, the edge's push-ingest service) checks its limits with this
before decoding, so a small file that claims to be enormous (a decompression bomb) costs nothing.

The scan is bounded whatever the bytes are: runs of fill bytes are skipped at C speed, and it gives up after
:data:`MAX_JPEG_SEGMENTS` segments before the start-of-frame (real cameras write a dozen or so), so its cost
does not grow with what a sender chooses to put in front of the header.
"""

from __future__ import annotations

import re
import struct

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the dimensions; C4, C8 and CC are other segment types.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NOT_FILL = re.compile(rb"[^\xff]")
MAX_JPEG_SEGMENTS = 256
"""Segments a JPEG may have before its start-of-frame; EXIF, ICC profiles in pieces and tables stay far below."""


class ImageHeaderError(ValueError):
    """Frame data that is not a whole JPEG or PNG image."""


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header; raises ``ImageHeaderError`` for anything else."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return _positive(int(width), int(height))
    if not data.startswith(_JPEG_SOI):
        raise ImageHeaderError("the frame data is neither a JPEG nor a PNG image")
    # libjpeg decodes a truncated file into a half-grey picture without complaint; refuse it here.
    if not data.rstrip(b"\x00").endswith(_JPEG_EOI):
        raise ImageHeaderError("the JPEG is truncated: it has no end-of-image marker")
    return _positive(*_jpeg_size(data))


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    for _ in range(MAX_JPEG_SEGMENTS):
        if pos >= len(data) or data[pos] != 0xFF:
            break
        pos = _after_fill(data, pos + 1)   # a marker is 0xFF, any number of 0xFF fill bytes, then its code
        if pos + 3 > len(data):
            break
        marker = data[pos]
        if marker in _JPEG_SOF_MARKERS:
            if pos + 8 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 4:pos + 8])
            return int(width), int(height)
        pos += 1 + struct.unpack(">H", data[pos + 1:pos + 3])[0]
    else:
        raise ImageHeaderError(f"the JPEG has more than {MAX_JPEG_SEGMENTS} segments before its start-of-frame")
    raise ImageHeaderError("the JPEG has no readable start-of-frame header")


def _after_fill(data: bytes, pos: int) -> int:
    """The position of the first byte at or after ``pos`` that is not 0xFF (``len(data)`` when none is)."""
    found = _NOT_FILL.search(data, pos)   # C speed, and no copy of the rest of the data
    return len(data) if found is None else found.start()


def _positive(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise ImageHeaderError(f"the image header says {width}x{height}")
    return width, height
