"""Sessions: one per authenticated stream, each with its own frames, queries and outbound queue.

Nothing of one session reaches another: frames, caches and tasks live on the ``Session`` object and die
with it.

A session ends when its edge says Goodbye (``Session.finish``, whatever the transport) or its stream ends cleanly
(the edge finished sending, or the cloud ended it): its in-flight work is cancelled and its slot freed at once.
A stream that BROKE (the network, a killed edge) leaves the session *detached* for ``detach_grace_s``: its work
goes on, and what it sends waits in its bounded outbound queue for an edge that resumes it (``reattach``) under
the same id. Detached sessions never keep a new one out: at the limit
the oldest detached session is evicted first. Session ids are signed (``TokenSigner.session_id``), so a cloud
restarted with the same secret recognises an id it issued, though it has lost the session's state.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.ocr import AsyncTextReader
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.history import SessionHistory
from eyeline.cloud.session.latency import LatencyRecord
from eyeline.protos.tasks import TaskSet
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger(__name__)
# How long a closing session waits for its cancelled tasks; one that ignores cancellation is logged and left.
_CANCEL_WAIT_S = 1.0

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
    keyframes_kept: int = 0     # decoded and kept to reason over
    queries: int = 0
    errors_sent: int = 0
    bytes_in: int = 0           # EdgeMessages after Hello, as they took on the wire, whatever the transport
    latency_records: int = 0    # ever recorded; ``Session.latency`` keeps the latest
    proactive_offers: int = 0   # answers offered unasked (sessions with the "proactive" capability)


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
        self._tasks = TaskSet(f"session {info.session_id}", logger=log)   # its queries and transcriptions
        self._closed = False
        # Copies of what the session sends, for observers such as the viewer; a slow watcher misses
        # messages (counted) rather than slowing the session.
        self._watchers: dict[asyncio.Queue[Watched], bool] = {}   # watcher -> wants kept frames
        self.watch_dropped = 0
        # Per-hop latency of the overlays the edge reported drawn, oldest first.
        self.latency: deque[LatencyRecord] = deque(maxlen=latency_kept)
        self.history = SessionHistory()   # what a viewer that joins late is shown first
        # What the edge said it can take (Hello.capabilities), e.g. "proactive" for unasked offers.
        self.capabilities: frozenset[str] = frozenset()
        # The session's text reader, set by the dispatcher: OCR carried across this session's keyframes.
        self.reader: AsyncTextReader | None = None
        self.offered_proactively = False
        self.detached_ns: int | None = None   # when its stream broke; None while an edge is attached
        self.attachments = 0                  # streams that have carried this session (1 + resumes)
        # Ends the stream (gRPC call, WebRTC peer) that carries the session, without closing the session: called
        # when another stream of its subject resumes it, so one session never has two streams (``reattach``).
        self.end_stream: Callable[[], object] | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._closing = TaskSet(f"session {info.session_id} closing", logger=log)   # closers run by ``cancel``
        self.finished = False   # the edge said Goodbye: the session is over, with nothing to resume
        # Set by the manager that holds the session: frees its slot when the edge says Goodbye.
        self._release: Callable[[Session], None] | None = None

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` when the session closes, after its work is cancelled: for what lives as long as the
        session rather than one of its streams (a recording)."""
        self._closers.append(closer)

    @property
    def busy(self) -> int:
        """Tasks (queries, transcriptions) in flight."""
        return len(self._tasks)

    @property
    def session_id(self) -> str:
        return self.info.session_id

    def keep_frame(self, frame: DecodedFrame) -> None:
        """Keep a keyframe to reason over (and show it to viewers that watch frames)."""
        self._frames[frame.seq] = frame
        self.stats.keyframes_kept += 1
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
        if self._closed:
            return  # a result finished as its session closed: nobody is left to take it
        if message.WhichOneof("kind") == "error":
            self.stats.errors_sent += 1
        self.history.record(message, self._frames.get)
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
        self._tasks.spawn(coro, name=f"{getattr(coro, '__name__', 'work')}-{self.session_id}")
        return True

    async def wait_idle(self) -> None:
        """Return once every task this session owns has finished."""
        # A waiter cancelled (its stream broke) does not cancel the work itself.
        await self._tasks.wait()

    def end(self, final: pb.CloudMessage | None = None) -> None:
        """Finish the stream after ``final``; never blocks: on a full queue the oldest message gives way."""
        for message in (final, None) if final is not None else (None,):
            if self.outbound.full():
                self.outbound.get_nowait()
            self.outbound.put_nowait(message)

    async def finish(self) -> None:
        """The edge said Goodbye, after everything it sent before: the session ends at once, whatever the
        transport. Its slot is freed, its in-flight work cancelled, what it holds (a recording) closed, and then
        its stream finished: the ingress hangs up only once the session is over."""
        if self.finished:
            return
        self.finished = True
        if self._release is not None:
            self._release(self)
        await self.close()
        self.end()

    def cancel(self) -> None:
        """Close at once, without waiting: in-flight work is cancelled and anything it would send is dropped."""
        self._closed = True
        self._tasks.cancel_all()
        self._frames.clear()
        self.skill_state.clear()
        if self._closers:   # nobody awaits a cancel: the session owns the task that closes what it holds
            self._closing.spawn(self._run_closers(), name=f"close-{self.session_id}")
        for watcher in self._watchers:
            self._offer(watcher, None)
        self._watchers.clear()

    async def _run_closers(self) -> None:
        closers, self._closers = self._closers, []
        for closer in closers:
            try:
                await closer()
            except Exception:
                log.exception("session %s: a closer failed", self.session_id)

    async def close(self) -> None:
        self._closed = True
        stuck = await self._tasks.aclose(_CANCEL_WAIT_S)
        if stuck:
            log.warning("session %s closed with %d tasks still ending", self.session_id, len(stuck))
        self._frames.clear()
        self.skill_state.clear()
        await self._run_closers()
        await self._closing.wait()   # closers a ``cancel`` already began finish too
        for watcher in self._watchers:
            self._offer(watcher, None)
        self._watchers.clear()


SessionIds = Callable[[str], str]   # subject -> a new session id


def _random_ids(subject: str) -> str:
    return os.urandom(9).hex()


@dataclass
class SessionManager:
    """Opens, lists, detaches, re-attaches and closes sessions; enforces the session limit."""

    max_sessions: int = 32
    frames_kept: int = 8
    outbound_size: int = 64
    detach_grace_s: float = 30.0          # how long a session whose stream broke waits to be resumed
    new_id: SessionIds = _random_ids
    _sessions: dict[str, Session] = field(default_factory=dict)
    _detached: OrderedDict[str, Session] = field(default_factory=OrderedDict)   # oldest first

    def open(self, subject: str, profile_name: str, mode: Mode, now_ns: int, *, session_id: str = "") -> Session:
        """A new session; ``session_id`` continues an id this cloud issued before it lost the session."""
        if session_id in self._sessions:
            # Never two sessions under one id: a held session is resumed (``reattach``), not opened again.
            raise CloudError(f"session {session_id} is already held; resume it instead")
        self._make_room()
        if len(self._sessions) >= self.max_sessions:
            raise SessionLimitError(f"the cloud holds its limit of {self.max_sessions} sessions; retry later")
        session_id = session_id or self.new_id(subject)
        info = SessionInfo(session_id, subject, profile_name, now_ns)
        session = Session(info, mode, frames_kept=self.frames_kept, outbound_size=self.outbound_size)
        session.attachments = 1
        session._release = self._forget
        self._sessions[session_id] = session
        return session

    def _forget(self, session: Session) -> None:
        """No longer hold ``session`` (its edge said Goodbye): its slot is free at once."""
        if self._sessions.get(session.session_id) is session:
            self._sessions.pop(session.session_id, None)
            self._detached.pop(session.session_id, None)

    def _make_room(self) -> None:
        while len(self._sessions) >= self.max_sessions and self._detached:
            _, oldest = self._detached.popitem(last=False)
            self._sessions.pop(oldest.session_id, None)
            oldest.cancel()
            log.info("session %s evicted while detached, to make room", oldest.session_id)

    def detach(self, session: Session, now_ns: int) -> None:
        """The session's stream broke: keep it for ``detach_grace_s`` for its edge to resume."""
        if self.detach_grace_s <= 0 or session.session_id not in self._sessions:
            session.cancel()
            self._sessions.pop(session.session_id, None)
            return
        session.detached_ns = now_ns
        session.end_stream = None
        self._detached[session.session_id] = session

    def reattach(self, session_id: str, subject: str) -> Session | None:
        """The held session ``session_id`` of ``subject`` (detached, or attached to a live stream), now for a new
        stream, which takes it over: the stream that carried it is ended (``Session.end_stream``), the session
        and its slot stay as they are. None when it is not held."""
        session = self._sessions.get(session_id)
        if session is None or session.info.subject != subject:
            return None
        self._detached.pop(session_id, None)
        session.detached_ns = None
        session.attachments += 1
        end_stream, session.end_stream = session.end_stream, None
        if end_stream is not None:
            end_stream()
        return session

    def expire(self, now_ns: int) -> list[Session]:
        """Detached sessions whose grace has run out, no longer held (the caller closes them)."""
        limit_ns = int(self.detach_grace_s * 1e9)
        expired = [s for s in self._detached.values() if s.detached_ns is not None
                   and now_ns - s.detached_ns >= limit_ns]
        for session in expired:
            self._detached.pop(session.session_id, None)
            self._sessions.pop(session.session_id, None)
        return expired

    async def close(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            self._sessions.pop(session.session_id, None)
            self._detached.pop(session.session_id, None)
        await session.close()

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def active(self) -> list[SessionInfo]:
        """Sessions with an edge attached."""
        return [s.info for s in self._sessions.values() if s.detached_ns is None]

    def detached(self) -> list[SessionInfo]:
        return [s.info for s in self._detached.values()]

    def end_all(self, final: pb.CloudMessage) -> None:
        for session in list(self._sessions.values()):
            session.end(final)

    async def close_detached(self) -> None:
        while self._detached:
            _, session = self._detached.popitem(last=False)
            self._sessions.pop(session.session_id, None)
            await session.close()
