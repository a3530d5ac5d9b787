"""Checking and decoding the images that arrive in frames.

The image header is read before any pixel is decoded, so a small file that claims to be enormous (a
decompression bomb) is refused without allocating its pixels. Both are CPU work on bytes a sender chose, so
both run in a worker thread (:func:`check_and_decode`), never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Image, NormBox
from eyeline.protos.images import ImageHeaderError, image_size


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
    decoded_ns: int = 0                      # when its pixels were decoded (0: it arrived decoded)


def image_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header, without decoding pixels."""
    try:
        return image_size(data)
    except ImageHeaderError as exc:
        raise FrameRejectedError("undecodable_image", str(exc)) from exc


def check_frame(data: bytes, limits: FrameLimits) -> tuple[int, int]:
    """Refuse frames over the byte or pixel limit; return the image's (width, height)."""
    if not data:
        raise FrameRejectedError("malformed_message", "frame carries no image data")
    if len(data) > limits.max_bytes:
        raise FrameRejectedError(
            "frame_too_large", f"frame is {len(data)} bytes; the limit is {limits.max_bytes}")
    width, height = image_dimensions(data)
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


def check_and_decode(data: bytes, limits: FrameLimits) -> Image:
    """The frame's limits checked, then its image decoded. CPU work: call it from a worker thread."""
    return decode_image(data, check_frame(data, limits))
