"""A session written to the session store as it goes, and picked up again by whichever ingress it resumes on.

``SessionMirror`` is the dispatcher's ``SessionObserver``: each kept keyframe goes into the object store once
(the same reference the deployments read it by) and on to the store; a question is written down when it
starts and crossed off when it is answered, with what the skills and the OCR tracker hold after it. Writes are
fire-and-forget actor calls, which Ray runs in the order this process made them; a store that cannot be
reached never costs the session (Ray lost: ``Failover`` says so once).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from eyeline.cloud.ingress import wire
from eyeline.cloud.model import Image
from eyeline.cloud.perception.ocr import AsyncTextReader
from eyeline.cloud.perception.tracking import TrackedTextReader
from eyeline.cloud.scale.backend import RayLink
from eyeline.cloud.scale.session_store import FrameRecord, PendingQuestion, SessionSnapshot
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.sessions import Session

log = logging.getLogger(__name__)

# How long an ingress waits for the store to hand over a session before serving it with its state lost.
_TAKE_TIMEOUT_S = 10.0


class SessionMirror:
    """Writes this ingress's sessions to the store; restores a session another ingress held."""

    def __init__(self, link: RayLink, *, frames_kept: int) -> None:
        self._link = link
        self._frames_kept = frames_kept
        self.holder = os.urandom(8).hex()   # this ingress process, as the store knows it

    def _submit(self, call: Callable[[Any], Any]) -> None:
        """One store call, not awaited: nothing a session does waits for the store."""
        if self._link.store is None or self._link.failover.lost:
            return
        try:
            call(self._link.store)
        except Exception as exc:
            self._link.failover.mark_lost(f"the session store: {type(exc).__name__}: {exc}")

    async def opened(self, session: Session) -> None:
        """A new session (or one continued without state): written down, and forgotten when it ends on purpose."""
        info = session.info
        snapshot = SessionSnapshot(info.session_id, info.subject, info.profile_name, session.mode,
                                   session.capabilities, holder=self.holder)
        self._submit(lambda store: store.open.remote(snapshot))
        session.on_close(self._closer(session))

    def _closer(self, session: Session) -> Callable[[], Awaitable[None]]:
        async def close() -> None:
            # Only a session that ended on purpose (Goodbye) or ran out of grace is forgotten: one whose
            # ingress stops stays for the edge to resume elsewhere.
            if session.finished or session.detached_ns is not None:
                self.forget(session.session_id)

        return close

    def forget(self, session_id: str) -> None:
        self._submit(lambda store: store.drop.remote(session_id, self.holder))

    async def frame_kept(self, session: Session, frame: DecodedFrame) -> None:
        if self._link.store is None or self._link.failover.lost:
            return
        ref = await self._put(frame.image)
        if ref is None:
            return
        record = FrameRecord(frame.seq, frame.trace_id, frame.capture_ns, frame.sent_ns, frame.received_ns,
                             frame.redacted, frame.decoded_ns)
        self._submit(lambda store: store.keep_frame.remote(session.session_id, record, ref, self._frames_kept))

    async def _put(self, image: Image) -> Any:
        """The image's object-store reference; None (and Ray marked lost) when the store cannot take it."""
        try:
            return await self._link.put(image)
        except Exception as exc:
            self._link.failover.mark_lost(f"the object store: {type(exc).__name__}: {exc}")
            return None

    async def query_started(self, session: Session, query: wire.QueryIn) -> None:
        pending = PendingQuestion(query.query_id, query.text, query.mode, query.frame_seq)
        self._submit(lambda store: store.asked.remote(session.session_id, pending))

    async def query_finished(self, session: Session, query: wire.QueryIn) -> None:
        if self._link.store is None or self._link.failover.lost:
            return
        latest = session.reader.latest() if isinstance(session.reader, TrackedTextReader) else None
        image_ref = await self._put(latest[0]) if latest is not None else None
        lines = latest[1] if latest is not None else ()
        state = dict(session.skill_state)
        self._submit(lambda store: store.answered.remote(session.session_id, query.query_id))
        self._submit(lambda store: store.remember.remote(session.session_id, state, session.mode, image_ref, lines))

    async def take(self, session_id: str, subject: str) -> SessionSnapshot | None:
        """The session another ingress held, now this one's; None when the store does not hold it (or is gone)."""
        if self._link.store is None or self._link.failover.lost:
            return None
        try:
            snapshot: SessionSnapshot | None = await asyncio.wait_for(
                self._link.store.take.remote(session_id, subject, self.holder), _TAKE_TIMEOUT_S)
        except Exception as exc:
            self._link.failover.mark_lost(f"the session store: {type(exc).__name__}: {exc}")
            return None
        return snapshot

    async def restore(self, session: Session, snapshot: SessionSnapshot,
                      ocr: AsyncTextReader) -> tuple[PendingQuestion, ...] | None:
        """Give ``session`` what ``snapshot`` held; the questions still to answer. None, and the session left
        as it was, when the snapshot's frames can no longer be fetched (its state is lost)."""
        try:
            images = [await asyncio.to_thread(np.array, image)   # writable copies of the store's read-only ones
                      for image in await asyncio.gather(*(ref for _, ref in snapshot.frames))]
            tracked = (await asyncio.to_thread(np.array, await snapshot.tracked[0])
                       if snapshot.tracked is not None else None)
        except Exception as exc:
            log.warning("session %s: its frames could not be fetched from the store (%s: %s); its state is lost",
                        session.session_id, type(exc).__name__, exc)
            return None
        for (record, _), pixels in zip(snapshot.frames, images, strict=True):
            session.keep_frame(DecodedFrame(record.seq, record.trace_id, pixels, record.capture_ns, record.sent_ns,
                                            record.received_ns, True, record.redacted, record.decoded_ns))
        session.skill_state.update(snapshot.skill_state)
        session.mode = snapshot.mode
        if snapshot.tracked is not None and tracked is not None:
            reader = TrackedTextReader(ocr)
            reader.restore(tracked, snapshot.tracked[1])
            session.reader = reader
        session.on_close(self._closer(session))
        log.info("session %s picked up from the session store: %d keyframes, %d questions to answer",
                 session.session_id, len(images), len(snapshot.pending))
        return snapshot.pending
