"""``RenderedSource``: a frame source over any drawn scene (the synthetic shelf, the espresso machine).

Frame ``i`` is the scene at ``t = i / fps`` and is captured at ``start + i * 1e9 / fps`` on ``clock`` (start: the
first pull); the source waits for that moment before delivering it, so on a
:class:`~eyeline.protos.clock.VirtualClock` it runs as fast as it is pulled. ``frames=None`` is endless. Meant for
one consumer at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, Self, TypeVar

from eyeline.devices.base import CapturedFrame, FrameTimeline, Image
from eyeline.devices.scene import check_render_args
from eyeline.protos.clock import Clock, MonotonicClock

Truth = TypeVar("Truth")


class RenderedSource(Generic[Truth]):
    """A :class:`~eyeline.devices.base.FrameSource` of rendered frames; each frame's ``truth`` is the scene's.

    ``render(t_s, width, height, motion_scale, previous_truth)`` draws the scene's frame and its exact truth.
    """

    def __init__(
        self,
        render: Callable[[float, int, int, float, Truth | None], tuple[Image, Truth]],
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        frames: int | None = None,
        clock: Clock | None = None,
        motion_scale: float = 1.0,
    ) -> None:
        check_render_args(0.0, width, height, motion_scale)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._timeline = FrameTimeline(fps, self._clock, frames)
        self._render = render
        self._size = (width, height)
        self._motion_scale = motion_scale
        self._previous: Truth | None = None
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CapturedFrame:
        if self._closed or self._timeline.finished:
            raise StopAsyncIteration
        seq, capture_ns = self._timeline.take()
        image, truth = await asyncio.to_thread(
            self._render, seq / self._timeline.fps, *self._size, self._motion_scale, self._previous)
        await self._clock.sleep_until(capture_ns)
        if self._closed:
            raise StopAsyncIteration
        self._previous = truth  # only once delivered, so ``motion`` is always from the frame the consumer saw
        return CapturedFrame(seq=seq, capture_ns=capture_ns, image=image, truth=truth)

    async def aclose(self) -> None:
        self._closed = True

