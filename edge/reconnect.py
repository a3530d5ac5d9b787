"""When to try the cloud again: exponential backoff with jitter, on an injected clock and random source."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from eyeline.devices.clock import Clock


class RandomSource(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class BackoffSettings:
    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2


class ReconnectPolicy:
    """The n-th consecutive failure waits ``initial * multiplier**n`` (capped at ``max``), scaled by a random factor
    in ``[1 - jitter, 1 + jitter]`` so that many edges cut off together do not all come back in the same instant.
    A success resets the count."""

    def __init__(self, settings: BackoffSettings, *, clock: Clock, rng: RandomSource | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self.failures = 0

    def next_delay_s(self) -> float:
        s = self.settings
        base = min(s.max_delay_s, s.initial_delay_s * s.multiplier ** self.failures)
        self.failures += 1
        return base * (1.0 + s.jitter * (2.0 * self._rng.random() - 1.0))

    def succeeded(self) -> None:
        self.failures = 0

    async def wait(self) -> float:
        """Sleep the next delay on the injected clock; returns it."""
        delay = self.next_delay_s()
        await self._clock.sleep_until(self._clock.now_ns() + int(delay * 1e9))
        return delay
