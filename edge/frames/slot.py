"""A latest-value slot: the backpressure for video.

A producer never waits: a new frame replaces one the consumer has not taken yet, and the replaced
frame is counted as dropped. The consumer always gets the freshest frame.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class SlotClosedError(Exception):
    """The slot was closed while a consumer waited on it."""


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._value: T | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self.put_count = 0
        self.dropped = 0

    def put(self, value: T) -> None:
        if self._closed:
            return
        if self._value is not None:
            self.dropped += 1
        self._value = value
        self.put_count += 1
        self._ready.set()

    async def get(self) -> T:
        """The newest value not yet taken; waits for one. Raises ``SlotClosedError`` once closed."""
        while self._value is None:
            if self._closed:
                raise SlotClosedError("slot closed")
            self._ready.clear()
            await self._ready.wait()
        value, self._value = self._value, None
        return value

    def close(self) -> None:
        self._closed = True
        self._ready.set()
