"""Which captured frames go up to the cloud as keyframes.

A sampler is a policy object the capture loop consults; it never sees the network. ``RateSampler`` sends
at most ``max_per_s`` keyframes a second, at once when the wearer or the cloud asks for one, and obeys
the cloud's ``FlowControl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from eyeline.devices.base import CapturedFrame
from eyeline.edge.messages import FlowControl


class Sampler(Protocol):
    def should_send(self, frame: CapturedFrame) -> bool: ...

    def request_keyframe(self) -> None:
        """The next frame offered is sent, whatever the rate."""
        ...

    def apply(self, flow: FlowControl) -> None: ...


@dataclass(slots=True)
class SamplerStats:
    offered: int = 0
    sent: int = 0
    skipped: int = 0
    requested: int = 0


class RateSampler:
    def __init__(self, max_per_s: float = 2.0) -> None:
        self.max_per_s = max_per_s
        self.stats = SamplerStats()
        self._last_sent_ns: int | None = None
        self._wanted = True  # the cloud has nothing yet

    def should_send(self, frame: CapturedFrame) -> bool:
        self.stats.offered += 1
        if self._wanted or self._interval_passed(frame.capture_ns):
            self._wanted = False
            self._last_sent_ns = frame.capture_ns
            self.stats.sent += 1
            return True
        self.stats.skipped += 1
        return False

    def request_keyframe(self) -> None:
        self.stats.requested += 1
        self._wanted = True

    def apply(self, flow: FlowControl) -> None:
        if flow.max_keyframes_per_s > 0:
            self.max_per_s = flow.max_keyframes_per_s
        if flow.keyframe_wanted:
            self.request_keyframe()

    def _interval_passed(self, capture_ns: int) -> bool:
        if self.max_per_s <= 0 or self._last_sent_ns is None:
            return True
        return capture_ns - self._last_sent_ns >= 1e9 / self.max_per_s
