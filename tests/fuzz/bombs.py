"""Hostile images built in a few lines: a real decompression bomb and a JPEG of fill bytes."""

from __future__ import annotations

import struct
import zlib


def png_bomb(width: int, height: int) -> bytes:
    """A valid, tiny 1-bit grayscale PNG that decodes to ``width`` x ``height`` pixels (3 bytes each in BGR)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)   # filter byte + packed black pixels
    pixels = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def fill_byte_jpeg(size: int = 4 * 1024 * 1024) -> bytes:
    """A JPEG of ``size`` bytes that is all fill bytes between its start and end markers."""
    return b"\xff\xd8" + b"\xff" * (size - 4) + b"\xff\xd9"


def tiny_segment_jpeg(size: int = 4 * 1024 * 1024) -> bytes:
    """A JPEG of ``size`` bytes that is empty comment segments, one after another, and no image."""
    return b"\xff\xd8" + b"\xff\xfe\x00\x02" * ((size - 4) // 4) + b"\xff\xd9"
