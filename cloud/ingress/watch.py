"""What the viewer's event stream carries for one watched session, and how it is framed.

Each record is a kind byte, a 4-byte big-endian length and the payload:

| kind | payload |
|---|---|
| 0 ``MESSAGE`` | a ``CloudMessage`` the session sent, as protobuf |
| 1 ``KEYFRAME`` | 8-byte big-endian frame seq, then the keyframe as JPEG (sessions without live video only) |
| 2 ``STATS`` | JSON, once a second: ``bytes_in`` (EdgeMessages received), ``transport_bytes_in`` (a WebRTC peer's |
|   | transport, media included; null for gRPC), ``frames``, ``latency``: the records new since the last, |
|   | ``questions``: the questions asked since the last (``query_id``, ``text``, ``mode``, ``asked_ns``), |
|   | ``connection``: what is known of the connection (``eyeline.cloud.ingress.connection``), ``now_ns`` |

A viewer that joins late is first sent the session's history (``eyeline.cloud.session.history``): the keyframes its
remembered overlays were computed on (as ``KEYFRAME`` records, whatever the transport) and, for a session
without live video, its latest keyframe, then its remembered
messages in order, and in the first ``STATS`` every latency record and question still kept.

Everything is pushed as it happens through the session's bounded watcher queue: a viewer that cannot keep up
misses records (the session counts them) and never slows the session.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import cv2

from eyeline.cloud.model import Image
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.latency import LatencyRecord
from eyeline.cloud.session.sessions import Session
from eyeline.protos.clock import Clock

MESSAGE, KEYFRAME, STATS = 0, 1, 2
STATS_INTERVAL_NS = 1_000_000_000
_JPEG_QUALITY = 80

Write = Callable[[bytes], Awaitable[None]]
TransportBytes = Callable[[], Awaitable[int | None]]
Connection = Callable[[], Awaitable[dict[str, Any]]]


def framed(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BI", kind, len(payload)) + payload


def encode_jpeg(image: Image) -> bytes:
    """CPU work: call it in a worker."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(data.tobytes())


def latency_json(record: LatencyRecord) -> dict[str, Any]:
    return {**asdict(record), "hops_ms": record.hops_ms()}


class EventStream:
    """Feeds one viewer of ``session`` until the session closes or the viewer goes."""

    def __init__(self, session: Session, *, keyframes: bool, transport_bytes: TransportBytes, clock: Clock,
                 connection: Connection | None = None) -> None:
        self._session = session
        self._clock = clock
        self._keyframes = keyframes
        self._transport_bytes = transport_bytes
        self._connection = connection
        # Every latency record and question still kept goes in the first STATS: a late viewer sees the past too.
        self._latency_seen = session.stats.latency_records - len(session.latency)
        self._questions_seen = session.history.questions_asked - len(session.history.questions())

    async def run(self, write: Write) -> None:
        watcher = self._session.watch(frames=self._keyframes)
        next_stats_ns = self._clock.now_ns()
        try:
            await self._replay_history(write)
            while True:
                if self._clock.now_ns() >= next_stats_ns:
                    await write(framed(STATS, await self._stats()))
                    next_stats_ns = self._clock.now_ns() + STATS_INTERVAL_NS
                try:
                    wait_s = max(0, next_stats_ns - self._clock.now_ns()) / 1e9
                    item = await asyncio.wait_for(watcher.get(), wait_s)
                except TimeoutError:
                    continue
                if item is None:
                    return
                await write(await self._record(item))
        finally:
            self._session.unwatch(watcher)

    async def _replay_history(self, write: Write) -> None:
        history = self._session.history
        messages = history.messages()   # taken before any await, so nothing is sent twice or missed
        frames = list(history.frames())
        latest = self._session.frame(None)
        if self._keyframes and latest is not None and latest.seq not in {f.seq for f in frames}:
            frames.append(latest)   # the picture as it is now, after the keyframes overlays were computed on
        for frame in frames:
            await write(await self._record(frame))
        for message in messages:
            await write(framed(MESSAGE, message.SerializeToString()))

    async def _record(self, item: Any) -> bytes:
        if isinstance(item, DecodedFrame):
            jpeg = await asyncio.to_thread(encode_jpeg, item.image)
            return framed(KEYFRAME, struct.pack(">Q", item.seq) + jpeg)
        return framed(MESSAGE, item.SerializeToString())

    async def _stats(self) -> bytes:
        stats = self._session.stats
        new = min(stats.latency_records - self._latency_seen, len(self._session.latency))
        self._latency_seen = stats.latency_records
        records = list(self._session.latency)[len(self._session.latency) - new:]
        history = self._session.history
        new_questions = min(history.questions_asked - self._questions_seen, len(history.questions()))
        self._questions_seen = history.questions_asked
        questions = history.questions()[len(history.questions()) - new_questions:]
        body = {"bytes_in": stats.bytes_in, "transport_bytes_in": await self._transport_bytes(),
                "frames": stats.frames_received, "latency": [latency_json(r) for r in records],
                "questions": [asdict(q) for q in questions], "now_ns": self._clock.now_ns(),
                "connection": await self._connection() if self._connection is not None else None}
        return json.dumps(body).encode()
