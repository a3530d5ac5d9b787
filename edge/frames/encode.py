"""JPEG encoding of frames, in a worker thread: the event loop never touches pixels.

Every frame that leaves the device as a keyframe or preview goes through ``JpegEncoder.encode``. Faces were
destroyed before, in the privacy stage (``edge.frames.redact``) every frame passes once; the encoder refuses a
frame that did not, and reports the regions that stage destroyed with the encoded frame.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Executor
from typing import cast

import cv2

from eyeline.devices.base import CapturedFrame, Image
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.redact import require_redacted
from eyeline.edge.overlays import Box
from eyeline.edge.transport.wire import EncodedFrame


class EncodeError(EdgeError):
    """OpenCV could not encode a frame."""


def new_trace_id() -> str:
    return os.urandom(8).hex()


def encode_jpeg(image: Image, quality: int, max_width: int = 0) -> tuple[bytes, int, int]:
    """CPU work: JPEG bytes and the encoded (width, height), downscaled to ``max_width`` if set."""
    height, width = image.shape[:2]
    if max_width and width > max_width:
        height = round(height * max_width / width)
        width = max_width
        image = cast(Image, cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise EncodeError(f"JPEG encoding failed for a {width}x{height} frame")
    return buffer.tobytes(), width, height


class JpegEncoder:
    def __init__(self, executor: Executor, quality: int = 80, max_width: int = 0) -> None:
        _check_quality(quality)
        self._executor = executor
        self.quality = quality
        self.max_width = max_width

    async def encode(self, frame: CapturedFrame, trace_id: str, keyframe: bool = True, *,
                     quality: int | None = None, max_width: int | None = None) -> EncodedFrame:
        require_redacted(frame, "the keyframe encoder")
        quality = self.quality if quality is None else quality
        _check_quality(quality)
        width_cap = self.max_width if max_width is None else max_width
        loop = asyncio.get_running_loop()
        data, width, height = await loop.run_in_executor(self._executor, encode_jpeg, frame.image, quality,
                                                         width_cap)
        regions = tuple(Box(r.x0, r.y0, r.x1, r.y1) for r in frame.redacted or ())
        return EncodedFrame(seq=frame.seq, trace_id=trace_id, capture_ns=frame.capture_ns, data=data,
                            width=width, height=height, keyframe=keyframe, redacted=regions)


def _check_quality(quality: int) -> None:
    if not 1 <= quality <= 100:
        raise EncodeError(f"JPEG quality must be 1..100, got {quality}")
