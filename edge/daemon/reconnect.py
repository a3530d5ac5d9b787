"""Reconnecting: when to try the cloud again (exponential backoff with jitter, on an injected clock and random
source), and what was in flight when the stream broke (``InFlightLedger``).

The rule across a reconnect. Frame seqs never repeat within one edge run, so a frame seq names one frame. The
edge remembers the trace id of each frame it sent (the last ``frames_kept``) and drops, counted, any overlay
whose frame seq and trace id do not name a frame it sent: an overlay is applied to the frame it was computed on
or to nothing. On reconnect the edge asks to resume its session. When the cloud resumes it with its state
(``Welcome.resumed``), answers computed while the edge was away are delivered and pending questions stay
pending. When the state is gone (``Welcome.state_lost``: the cloud restarted) or a new session opens instead,
each pending question is asked again once, about the latest keyframe; a question lost a second time is
reported lost (counted and logged), never answered from another frame.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Protocol

from eyeline.edge.messages import Answer, CloudErrorReport, CloudEvent, OverlayArrival, Welcome
from eyeline.edge.transport.wire import QueryOut
from eyeline.protos.clock import Clock


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


@dataclass(frozen=True, slots=True)
class Recovery:
    """What reconnecting means for the work in flight: questions to ask again, and those given up as lost."""

    reask: tuple[QueryOut, ...] = ()
    lost: tuple[QueryOut, ...] = ()


class InFlightLedger:
    """Frames sent and questions not yet answered, across the connections of one edge run (bounded)."""

    def __init__(self, frames_kept: int = 512, queries_kept: int = 16) -> None:
        self._frames: OrderedDict[int, str] = OrderedDict()   # seq -> trace id
        self._pending: OrderedDict[str, tuple[QueryOut, int]] = OrderedDict()   # query id -> (query, tries)
        self._frames_kept = frames_kept
        self._queries_kept = queries_kept
        self.last_seq = 0

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(self._pending)

    def sent(self, seq: int, trace_id: str) -> None:
        self._frames[seq] = trace_id
        self.last_seq = max(self.last_seq, seq)
        while len(self._frames) > self._frames_kept:
            self._frames.popitem(last=False)

    def asked(self, query: QueryOut) -> None:
        tries = self._pending.pop(query.query_id, (query, 0))[1]
        self._pending[query.query_id] = (query, tries)
        while len(self._pending) > self._queries_kept:
            self._pending.popitem(last=False)

    def accepts(self, event: CloudEvent) -> bool:
        """Whether ``event`` may be applied; an answered question stops being pending."""
        match event:
            case OverlayArrival(overlay=overlay):
                return self._frames.get(overlay.frame_seq) == overlay.trace_id
            case Answer(final=True, query_id=query_id) | CloudErrorReport(query_id=query_id):
                self._pending.pop(query_id, None)
        return True

    def reconnected(self, welcome: Welcome) -> Recovery:
        """Sort the pending questions after a new stream's ``welcome``."""
        if welcome.resumed and not welcome.state_lost:
            return Recovery()
        reask = [replace(query, frame_seq=None) for query, tries in self._pending.values() if tries == 0]
        lost = [query for query, tries in self._pending.values() if tries > 0]
        self._pending = OrderedDict((q.query_id, (q, 1)) for q in reask)
        return Recovery(tuple(reask), tuple(lost))
