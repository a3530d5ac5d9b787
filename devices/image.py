"""One still image, repeated as a paced stream of frames (for demos and tests that need a fixed view)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from eyeline.devices.base import CapturedFrame, DeviceError, DeviceNotFoundError, FrameTimeline, Image
from eyeline.protos.clock import Clock, MonotonicClock


class ImageDecodeError(DeviceError):
    """The file exists but is not an image OpenCV can decode (corrupt, truncated, or another format)."""


def load_image(path: str | os.PathLike[str]) -> Image:
    """Read and decode an image file to BGR. Blocking: call it from a worker thread in async code."""
    source = Path(path)
    try:
        data = np.fromfile(source, dtype=np.uint8)
    except FileNotFoundError as error:
        raise DeviceNotFoundError(f"image file not found: {source}") from error
    except OSError as error:
        raise DeviceNotFoundError(f"image file cannot be read: {source} ({error.strerror})") from error
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if decoded is None:
        raise ImageDecodeError(f"not a decodable image: {source} (corrupt, truncated, or not an image format OpenCV "
                               "reads); check that it opens in an image viewer, or re-save it as JPEG or PNG")
    image: Image = np.asarray(decoded, dtype=np.uint8)
    return image


class ImageSource:
    """A :class:`~eyeline.devices.base.FrameSource` showing one still, ``fps`` times a second.

    Frame ``i`` is captured at ``start + i * 1e9 / fps`` on ``clock`` (start: the first pull), so on a
    :class:`~eyeline.protos.clock.VirtualClock` it runs as fast as it is pulled. ``frames=None`` is endless.
    The file is read on the first pull (or :meth:`open`), off the event loop; each frame gets its own copy of
    the pixels, so a consumer may draw on it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float = 2.0,
        frames: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._timeline = FrameTimeline(fps, self._clock, frames)
        self._path = Path(path)
        if not self._path.is_file():
            raise DeviceNotFoundError(f"image file not found: {self._path}")
        self._image: Image | None = None
        self._closed = False

    async def open(self) -> None:
        """Decode the image now, so a bad file fails here rather than at the first frame."""
        await self._loaded()

    async def _loaded(self) -> Image:
        if self._image is None:
            self._image = await asyncio.to_thread(load_image, self._path)
        return self._image

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CapturedFrame:
        if self._closed or self._timeline.finished:
            raise StopAsyncIteration
        image = await self._loaded()
        seq, capture_ns = self._timeline.take()
        await self._clock.sleep_until(capture_ns)
        if self._closed:
            raise StopAsyncIteration
        return CapturedFrame(seq=seq, capture_ns=capture_ns, image=image.copy())

    async def aclose(self) -> None:
        self._closed = True
        self._image = None
