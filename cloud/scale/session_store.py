"""What a session needs to be resumed by any ingress, held in one detached Ray actor.

Every ingress writes its sessions here as they go (``mirror.py``): the last keyframes, what skills remember
(a repair's step), the OCR tracker's last read, the questions still being answered, and which ingress holds
the session now. An edge whose ingress died resumes through another one (same token signing key, any ingress
behind the load balancer): that ingress takes the snapshot and carries on. The actor copies each keyframe into
the object store under its own ownership, so a frame outlives the ingress that received it.

The store's clock is its own monotonic clock: it only ages out sessions nobody touched for ``ttl_s`` (an
ingress killed with sessions nobody resumed), and no timestamp of it leaves the actor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import ray

from eyeline.cloud.model import Image, Mode, NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.scale.config import NAMESPACE

STORE_NAME = "eyeline-sessions"


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """A kept keyframe without its pixels (``DecodedFrame``'s other fields)."""

    seq: int
    trace_id: str
    capture_ns: int
    sent_ns: int
    received_ns: int
    redacted: tuple[NormBox, ...] = ()
    decoded_ns: int = 0


@dataclass(frozen=True, slots=True)
class PendingQuestion:
    """A question an ingress was answering: the one that resumes the session answers it again."""

    query_id: str
    text: str
    mode: Mode | None
    frame_seq: int | None


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """A session as the ingress that held it last left it; frames and the tracked image as object refs."""

    session_id: str
    subject: str
    profile_name: str
    mode: Mode
    capabilities: frozenset[str] = frozenset()
    frames: tuple[tuple[FrameRecord, Any], ...] = ()       # oldest first, each with its image's ref
    skill_state: dict[str, object] = field(default_factory=dict)
    tracked: tuple[Any, tuple[TextLine, ...]] | None = None   # the tracker's last read: image ref, lines
    pending: tuple[PendingQuestion, ...] = ()
    holder: str = ""                                         # the ingress serving it now


class SessionStore:
    """The actor: sessions by id. Every method is one step; the actor runs one at a time, in call order."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._held: dict[str, SessionSnapshot] = {}
        self._touched: dict[str, float] = {}

    def open(self, snapshot: SessionSnapshot) -> None:
        self._put(snapshot)

    def keep_frame(self, session_id: str, record: FrameRecord, image: Image, frames_kept: int) -> None:
        """Keep a keyframe (resolved here from the ingress's ref) under the store's ownership."""
        held = self._held.get(session_id)
        if held is None:
            return
        frames = (*(f for f in held.frames if f[0].seq != record.seq), (record, ray.put(image)))
        self._put(replace(held, frames=frames[-frames_kept:]))

    def remember(self, session_id: str, skill_state: dict[str, object], mode: Mode,
                 tracked_image: Image | None, tracked_lines: tuple[TextLine, ...]) -> None:
        """What the session's skills and OCR tracker hold after a question (the image resolved from its ref)."""
        held = self._held.get(session_id)
        if held is None:
            return
        kept = (ray.put(tracked_image), tracked_lines) if tracked_image is not None else held.tracked
        self._put(replace(held, skill_state=dict(skill_state), mode=mode, tracked=kept))

    def asked(self, session_id: str, question: PendingQuestion) -> None:
        held = self._held.get(session_id)
        if held is not None:
            self._put(replace(held, pending=(*held.pending, question)))

    def answered(self, session_id: str, query_id: str) -> None:
        held = self._held.get(session_id)
        if held is not None:
            self._put(replace(held, pending=tuple(q for q in held.pending if q.query_id != query_id)))

    def take(self, session_id: str, subject: str, holder: str) -> SessionSnapshot | None:
        """The session for ``holder`` to serve from now on; None when unknown or another subject's."""
        self._expire()
        held = self._held.get(session_id)
        if held is None or held.subject != subject:
            return None
        self._put(replace(held, holder=holder))
        return self._held[session_id]

    def drop(self, session_id: str, holder: str) -> None:
        """Forget a session that ended, unless another ingress took it over since."""
        held = self._held.get(session_id)
        if held is not None and held.holder == holder:
            del self._held[session_id]
            self._touched.pop(session_id, None)

    def peek(self, session_id: str) -> SessionSnapshot | None:
        """The session as held, changing nothing (for operators and tests)."""
        return self._held.get(session_id)

    def count(self) -> int:
        return len(self._held)

    def _put(self, snapshot: SessionSnapshot) -> None:
        self._held[snapshot.session_id] = snapshot
        self._touched[snapshot.session_id] = time.monotonic()

    def _expire(self) -> None:
        limit = time.monotonic() - self._ttl_s
        for session_id in [s for s, at in self._touched.items() if at < limit]:
            self._held.pop(session_id, None)
            self._touched.pop(session_id, None)


def open_store(ttl_s: float) -> Any:
    """The cluster's one session store, started by the first ingress and found by the others."""
    actor = ray.remote(SessionStore).options(name=STORE_NAME, namespace=NAMESPACE, lifetime="detached",
                                             get_if_exists=True, num_cpus=0, max_restarts=-1)
    return actor.remote(ttl_s)
