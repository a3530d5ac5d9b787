"""Sessions: one per authenticated stream, each with its own frames, queries and outbound queue.

Nothing of one session reaches another: frames, caches and tasks live on the ``Session`` object and die
with it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from eyeline.cloud.errors import CloudError
from eyeline.cloud.frames import DecodedFrame
from eyeline.cloud.latency import LatencyRecord
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.ocr import AsyncTextReader
from eyeline.protos.v1 import session_pb2 as pb


class SessionLimitError(CloudError):
    """The cloud already holds as many sessions as it is configured for."""

    retryable = True


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    subject: str
    profile_name: str
    opened_ns: int


@dataclass(slots=True)
class SessionStats:
    frames_received: int = 0
    frames_rejected: int = 0
    queries: int = 0
    errors_sent: int = 0
    bytes_in: int = 0           # EdgeMessages after Hello, as they took on the wire, whatever the transport
    latency_records: int = 0    # ever recorded; ``Session.latency`` keeps the latest


# What a watcher receives: a copy of each message the session sends, each kept frame if it asked for them,
# and None when the session closes.
Watched = pb.CloudMessage | DecodedFrame | None


class Session:
    """The cloud-side state of one edge connection."""

    def __init__(self, info: SessionInfo, mode: Mode, *, frames_kept: int, outbound_size: int,
                 latency_kept: int = 256) -> None:
        self.info = info
        self.mode = mode
        self.stats = SessionStats()
        self.skill_state: dict[str, object] = {}   # what skills remember between questions (SkillContext.state)
        self._frames: OrderedDict[int, DecodedFrame] = OrderedDict()
        self._frames_kept = frames_kept
        # None is the end-of-stream sentinel; the bound makes a slow edge slow the session down, not
        # grow the cloud's memory.
        self.outbound: asyncio.Queue[pb.CloudMessage | None] = asyncio.Queue(maxsize=outbound_size)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Copies of what the session sends, for observers such as the viewer; a slow watcher misses
        # messages (counted) rather than slowing the session.
        self._watchers: dict[asyncio.Queue[Watched], bool] = {}   # watcher -> wants kept frames
        self.watch_dropped = 0
        # Per-hop latency of the overlays the edge reported drawn, oldest first.
        self.latency: deque[LatencyRecord] = deque(maxlen=latency_kept)
        # What the edge said it can take (Hello.capabilities), e.g. "proactive" for unasked offers.
        self.capabilities: frozenset[str] = frozenset()
        # The session's text reader, set by the dispatcher: OCR carried across this session's keyframes.
        self.reader: AsyncTextReader | None = None
        self.offered_proactively = False

    @property
    def session_id(self) -> str:
        return self.info.session_id

    def keep_frame(self, frame: DecodedFrame) -> None:
        """Keep a keyframe to reason over (and show it to viewers that watch frames)."""
        self._frames[frame.seq] = frame
        self.show_preview(frame)
        while len(self._frames) > self._frames_kept:
            self._frames.popitem(last=False)

    def show_preview(self, frame: DecodedFrame) -> None:
        """Show a frame to viewers that watch frames, without keeping it to reason over."""
        for watcher, wants_frames in self._watchers.items():
            if wants_frames:
                self._offer(watcher, frame)

    def recent_frames(self, before: int, count: int) -> tuple[DecodedFrame, ...]:
        """Up to ``count`` kept frames older than ``before``, newest first."""
        older = [frame for frame in reversed(self._frames.values()) if frame.seq < before]
        return tuple(older[:count])

    def frame(self, seq: int | None) -> DecodedFrame | None:
        """The frame with ``seq``, or the latest one for ``None``."""
        if seq is None:
            return next(reversed(self._frames.values()), None)
        return self._frames.get(seq)

    async def send(self, message: pb.CloudMessage) -> None:
        if message.WhichOneof("kind") == "error":
            self.stats.errors_sent += 1
        for watcher in self._watchers:
            self._offer(watcher, message)
        await self.outbound.put(message)

    def watch(self, size: int = 64, *, frames: bool = False) -> asyncio.Queue[Watched]:
        """A bounded queue that receives a copy of every later message (and kept frame, with ``frames``);
        None when the session closes."""
        watcher: asyncio.Queue[Watched] = asyncio.Queue(maxsize=size)
        self._watchers[watcher] = frames
        return watcher

    def unwatch(self, watcher: asyncio.Queue[Watched]) -> None:
        self._watchers.pop(watcher, None)

    def record_latency(self, records: tuple[LatencyRecord, ...]) -> None:
        self.latency.extend(records)
        self.stats.latency_records += len(records)

    def _offer(self, watcher: asyncio.Queue[Watched], message: Watched) -> None:
        if watcher.full():
            watcher.get_nowait()
            self.watch_dropped += 1
        watcher.put_nowait(message)

    def spawn(self, coro: Coroutine[Any, Any, None], limit: int) -> bool:
        """Run ``coro`` as a task owned by this session; False (and nothing started) at ``limit``."""
        if self._closed or len(self._tasks) >= limit:
            coro.close()
            return False
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def wait_idle(self) -> None:
        """Return once every task this session owns has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def end(self, final: pb.CloudMessage | None = None) -> None:
        """Finish the stream after ``final``; never blocks: on a full queue the oldest message gives way."""
        for message in (final, None) if final is not None else (None,):
            if self.outbound.full():
                self.outbound.get_nowait()
            self.outbound.put_nowait(message)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._frames.clear()
        self.skill_state.clear()
        for watcher in self._watchers:
            self._offer(watcher, None)
        self._watchers.clear()


@dataclass
class SessionManager:
    """Opens, lists and closes sessions; enforces the session limit."""

    max_sessions: int = 32
    frames_kept: int = 8
    outbound_size: int = 64
    _sessions: dict[str, Session] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def open(self, subject: str, profile_name: str, mode: Mode, now_ns: int) -> Session:
        if len(self._sessions) >= self.max_sessions:
            raise SessionLimitError(f"the cloud holds its limit of {self.max_sessions} sessions; retry later")
        session_id = f"s{next(self._counter)}-{os.urandom(6).hex()}"
        info = SessionInfo(session_id, subject, profile_name, now_ns)
        session = Session(info, mode, frames_kept=self.frames_kept, outbound_size=self.outbound_size)
        self._sessions[session_id] = session
        return session

    async def close(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)
        await session.close()

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def active(self) -> list[SessionInfo]:
        return [s.info for s in self._sessions.values()]

    def end_all(self, final: pb.CloudMessage) -> None:
        for session in list(self._sessions.values()):
            session.end(final)
