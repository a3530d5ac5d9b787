"""The images a ``Frame`` may carry (JPEG or PNG): their size, read from the header without decoding a pixel.

Whoever takes frames off the wire (the cloud, the edge's push-ingest service) checks its limits with this
before decoding, so a small file that claims to be enormous (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import struct

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the dimensions; C4, C8 and CC are other segment types.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


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
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_SOF_MARKERS and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return int(width), int(height)
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    raise ImageHeaderError("the JPEG has no readable start-of-frame header")


def _positive(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise ImageHeaderError(f"the image header says {width}x{height}")
    return width, height
