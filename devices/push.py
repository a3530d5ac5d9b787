"""Frames a phone pushes (device spec ``push:phone``): a phone app that already receives the glasses' camera sends
its frames to the edge, which treats them like any other camera's.

``PushedFrameSource`` is latest-wins: a frame the edge has not taken yet is replaced by a newer one (counted in
``dropped``), so a phone that pushes faster than the edge works never builds a queue. Each frame the edge takes
gets the edge's own sequence number (contiguous, like any camera's) and capture time (the edge's clock, taken when
the frame arrived); where it came from (the phone's stream, sequence number and capture time) is remembered for the
last ``remembered`` frames, so what the cloud says about a frame can be told to the phone in the phone's own terms.

The images are checked before they are decoded: the header's size is read first, so a small file claiming to be
enormous is refused without allocating its pixels.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from eyeline.devices.base import CapturedFrame, DeviceError, Image
from eyeline.protos.clock import Clock
from eyeline.protos.images import ImageHeaderError
from eyeline.protos.images import image_size as protos_image_size

PUSH_KIND = "push"


class PushedImageError(DeviceError):
    """A pushed image breaks a limit or does not decode; ``code`` is the wire's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class PushLimits:
    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 3840 * 2160


@dataclass(frozen=True, slots=True)
class PushedFrameRef:
    """Where an edge frame came from: the phone's stream, and its sequence number and capture time there."""

    stream: int
    seq: int
    capture_ns: int


def is_push_spec(spec: str) -> bool:
    return spec.strip().lower().startswith(PUSH_KIND + ":")


def decode_pushed_image(data: bytes, limits: PushLimits) -> Image:
    """CPU work (call it from a worker thread): a JPEG or PNG checked against ``limits`` and decoded to BGR."""
    if not data:
        raise PushedImageError("malformed_message", "the frame carries no image data")
    if len(data) > limits.max_bytes:
        raise PushedImageError("frame_too_large", f"the frame is {len(data)} bytes; the limit is {limits.max_bytes}")
    width, height = image_size(data)
    if width * height > limits.max_pixels:
        raise PushedImageError("frame_too_large",
                               f"the image is {width}x{height}; the limit is {limits.max_pixels} pixels")
    image = cast(Image | None, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    if image is None or (image.shape[1], image.shape[0]) != (width, height):
        raise PushedImageError("undecodable_image", "the image data is corrupt and does not decode")
    return image


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header, without decoding pixels."""
    try:
        return protos_image_size(data)
    except ImageHeaderError as exc:
        raise PushedImageError("undecodable_image", str(exc)) from exc


class PushedFrameSource:
    """A ``FrameSource`` fed by ``push()``; ends when ``aclose()`` is called."""

    def __init__(self, clock: Clock, *, remembered: int = 256) -> None:
        self._clock = clock
        self._remembered = remembered
        self._latest: tuple[Image, PushedFrameRef, int] | None = None   # image, origin, arrival (edge clock)
        self._ready = asyncio.Event()
        self._closed = False
        self._origins: OrderedDict[int, PushedFrameRef] = OrderedDict()
        self._next_seq = 0
        self.pushed = 0
        self.dropped = 0

    def push(self, image: Image, origin: PushedFrameRef) -> None:
        """Offer a decoded frame; it replaces one not taken yet."""
        if self._latest is not None:
            self.dropped += 1
        self._latest = (image, origin, self._clock.now_ns())
        self.pushed += 1
        self._ready.set()

    def _take(self) -> CapturedFrame:
        assert self._latest is not None
        (image, origin, arrived_ns), self._latest = self._latest, None
        seq = self._next_seq
        self._next_seq += 1
        self._origins[seq] = origin
        while len(self._origins) > self._remembered:
            self._origins.popitem(last=False)
        return CapturedFrame(seq=seq, capture_ns=arrived_ns, image=image)

    def renumber(self, seq: int, new_seq: int) -> None:
        """The consumer numbers frames itself (the daemon, across device reopens): remember the frame by that."""
        origin = self._origins.pop(seq, None)
        if origin is not None:
            self._origins[new_seq] = origin

    def origin(self, seq: int) -> PushedFrameRef | None:
        """Where edge frame ``seq`` came from, while it is among the last ``remembered``."""
        return self._origins.get(seq)

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        while True:
            while self._latest is None:
                if self._closed:
                    return
                self._ready.clear()
                await self._ready.wait()
            yield self._take()

    def close(self) -> None:
        """End the frames (the daemon stopping): a consumer waiting for the next push gets none."""
        self._closed = True
        self._ready.set()

    async def aclose(self) -> None:
        self.close()
