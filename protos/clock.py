"""Clocks. Every component that needs time takes a clock, so replay and tests can run on virtual time.

Here in ``protos`` because edge, devices and cloud all take one, and ``protos`` is the one package they all
may import.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Monotonic time in integer nanoseconds."""
        ...

    async def sleep_until(self, deadline_ns: int) -> None:
        """Return once ``now_ns()`` has reached ``deadline_ns``."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic_ns`` and ``asyncio.sleep``."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep_until(self, deadline_ns: int) -> None:
        delay_ns = deadline_ns - time.monotonic_ns()
        if delay_ns > 0:
            await asyncio.sleep(delay_ns / 1e9)


class VirtualClock:
    """A clock that only moves when slept on: sleeping jumps straight to the deadline.

    Sources paced by a virtual clock run as fast as the consumer pulls, with timestamps as if in real time.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        return self._now_ns

    async def sleep_until(self, deadline_ns: int) -> None:
        self._now_ns = max(self._now_ns, deadline_ns)
        await asyncio.sleep(0)


def elapsed_us(clock: Clock, started_ns: int) -> int:
    """Whole microseconds since ``started_ns`` on ``clock``: what a trace step reports as its cost."""
    return (clock.now_ns() - started_ns) // 1000
