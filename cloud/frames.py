"""Checking and decoding the images that arrive in frames.

The image header is read before any pixel is decoded, so a small file that claims to be enormous (a
decompression bomb) is refused without allocating its pixels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import NormBox

Image = npt.NDArray[np.uint8]

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the dimensions; C4, C8 and CC are other segment types.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class FrameRejectedError(CloudError):
    """A frame that breaks a limit or does not decode; ``code`` names the reason for the wire."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class FrameLimits:
    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 3840 * 2160


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    seq: int
    trace_id: str
    image: Image = field(repr=False)
    capture_ns: int
    sent_ns: int
    received_ns: int
    keyframe: bool = True                    # False: a preview, shown to viewers but never reasoned over
    redacted: tuple[NormBox, ...] = ()       # regions the edge blurred (faces) before sending


def image_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header, without decoding pixels."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(_JPEG_SOI):
        # libjpeg decodes a truncated file into a half-grey picture without complaint; refuse it here.
        if not data.rstrip(b"\x00").endswith(_JPEG_EOI):
            raise FrameRejectedError("undecodable_image", "JPEG is truncated: it has no end-of-image marker")
        return _jpeg_dimensions(data)
    raise FrameRejectedError("undecodable_image", "frame data is neither a JPEG nor a PNG image")


def _jpeg_dimensions(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in _JPEG_SOF_MARKERS and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return int(width), int(height)
        pos += 2 + length
    raise FrameRejectedError("undecodable_image", "JPEG has no readable start-of-frame header")


def check_frame(data: bytes, limits: FrameLimits) -> tuple[int, int]:
    """Refuse frames over the byte or pixel limit; return the image's (width, height)."""
    if not data:
        raise FrameRejectedError("malformed_message", "frame carries no image data")
    if len(data) > limits.max_bytes:
        raise FrameRejectedError(
            "frame_too_large", f"frame is {len(data)} bytes; the limit is {limits.max_bytes}")
    width, height = image_dimensions(data)
    if width <= 0 or height <= 0:
        raise FrameRejectedError("undecodable_image", f"image header says {width}x{height}")
    if width * height > limits.max_pixels:
        raise FrameRejectedError(
            "frame_too_large", f"image is {width}x{height}; the limit is {limits.max_pixels} pixels")
    return width, height


def decode_image(data: bytes, expected: tuple[int, int]) -> Image:
    """Decode to BGR. CPU work: call it from a worker thread, never the event loop."""
    image = cast(Image | None, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    if image is None:
        raise FrameRejectedError("undecodable_image", "image data is corrupt and does not decode")
    if (image.shape[1], image.shape[0]) != expected:
        raise FrameRejectedError("undecodable_image", "decoded size differs from the image header")
    return image
