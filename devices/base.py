"""What every frame source produces and the protocol it follows."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from eyeline.protos.clock import Clock
from eyeline.protos.privacy import Region

Image = npt.NDArray[np.uint8]
"""A BGR image, height x width x 3, as OpenCV uses."""


class DeviceError(Exception):
    """Root of every error raised by ``eyeline.devices``."""

    retryable: bool = False


class DeviceNotFoundError(DeviceError):
    """The camera, file or image named does not exist or cannot be opened."""

    retryable = True


class DeviceSpecError(DeviceError):
    """A device string such as ``webcam:0`` could not be understood."""


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """One frame as the camera delivered it.

    ``capture_ns`` is taken once, when the frame was captured, on the source's clock, and travels with
    the frame through every later stage. ``truth`` carries exact ground truth for synthetic sources
    (and ``None`` for real cameras). ``redacted`` is ``None`` as captured; the edge's privacy stage sets it to the
    regions whose faces it destroyed (``()`` when it found none, or privacy was explicitly turned off), and the
    stages that send or keep pixels refuse a frame whose ``redacted`` is still ``None``.
    """

    seq: int
    capture_ns: int
    image: Image = field(repr=False)
    truth: Any = field(default=None, repr=False)
    redacted: tuple[Region, ...] | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@runtime_checkable
class FrameSource(Protocol):
    """An async iterator of frames, paced by the source itself; ``aclose()`` releases the device."""

    def __aiter__(self) -> AsyncIterator[CapturedFrame]: ...

    async def aclose(self) -> None: ...


class FrameTimeline:
    """When each frame of a paced source is captured: frame ``i`` at ``start + i * 1e9 / fps`` on ``clock``
    (start: the first frame taken), so on a :class:`~eyeline.protos.clock.VirtualClock` a source runs as fast as
    it is pulled. ``frames=None`` is endless."""

    def __init__(self, fps: float, clock: Clock, frames: int | None = None) -> None:
        if not (math.isfinite(fps) and fps > 0.0):
            raise DeviceSpecError(f"fps must be a positive number, got {fps}")
        if frames is not None and frames < 0:
            raise DeviceSpecError(f"frames must be >= 0 or None for endless, got {frames}")
        self.fps = fps
        self.frames = frames
        self._clock = clock
        self._next_seq = 0
        self._start_ns: int | None = None

    @property
    def finished(self) -> bool:
        return self.frames is not None and self._next_seq >= self.frames

    def take(self) -> tuple[int, int]:
        """The next frame's sequence number and capture time."""
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        if self._start_ns is None:
            self._start_ns = self._clock.now_ns()
        return seq, self._start_ns + round(seq * 1e9 / self.fps)
