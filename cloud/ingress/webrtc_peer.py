"""One WebRTC peer of the cloud's ingress and what its signaling checks: the offer, the ICE servers, the
peer's data-channel inbox and owned tasks, and the live-video viewers that subscribe to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import AuthError, TokenClaims, TokenSigner, session_id_problem
from eyeline.cloud.ingress.watch import encode_jpeg
from eyeline.cloud.model import Image
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.recorder import CloudSessionRecorder
from eyeline.cloud.session.sessions import Session
from eyeline.protos.tasks import TaskSet

log = logging.getLogger("eyeline.cloud.ingress.webrtc")

CHANNEL_LABEL = "eyeline"


class WhipError(CloudError):
    """A signaling request that cannot be served; ``status`` is the HTTP status to answer with and
    ``retry_after_s``, for a limit that frees itself, when a client may try again (the Retry-After header)."""

    def __init__(self, status: int, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class IceServer:
    urls: str                     # "stun:host:port" or "turn:host:port"
    username: str = ""
    credential: str = ""


@dataclass(frozen=True, slots=True)
class WebRtcConfig:
    ice_servers: tuple[IceServer, ...] = ()
    track_keyframes_per_s: float = 2.0   # decoded track frames handed to the dispatcher, at most
    hello_timeout_s: float = 15.0        # from the offer to the Hello on the data channel
    inbox_size: int = 64                 # data channel messages waiting for the dispatcher
    viewers_per_session: int = 4         # live-video subscribers of one session, at most
    peers_per_subject: int = 4           # WHIP peers of one subject, pending or live, at most
    max_peers: int = 64                  # WHIP peers of every subject together, at most


def rtc_configuration(servers: tuple[IceServer, ...]) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[RTCIceServer(urls=s.urls, username=s.username or None,
                                                     credential=s.credential or None) for s in servers])


def check_offer(sdp: str) -> None:
    """Refuse, with the reason, a body that is not an SDP offer aiortc could answer."""
    lines = sdp.strip().splitlines()
    if not lines or lines[0].strip() != "v=0":
        raise WhipError(400, "the body is not an SDP offer: it must start with 'v=0'")
    if not any(line.startswith("m=") for line in lines):
        raise WhipError(400, "the SDP offer has no media section ('m=' line)")
    if not any(line.startswith("m=application") for line in lines):
        raise WhipError(400, f"the SDP offer has no data channel ('m=application'); it must open '{CHANNEL_LABEL}'")


async def transport_bytes_in(pc: RTCPeerConnection) -> int:
    """Bytes received on the peer's transports (media and data channel together), from its statistics."""
    report = await pc.getStats()
    return sum(int(getattr(s, "bytesReceived", 0)) for s in report.values() if s.type == "transport")


def track_image(frame: Any) -> Image:
    """A decoded video frame as a BGR image (CPU work: call it in a worker)."""
    return np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)


class Peer:
    """One WebRTC connection: its peer connection, data channel, track drains, and the session it opened."""

    def __init__(self, peer_id: str, pc: RTCPeerConnection, claims: TokenClaims, *, track_keyframes: bool,
                 inbox_size: int) -> None:
        self.peer_id = peer_id
        self.pc = pc
        self.claims = claims
        self.track_keyframes = track_keyframes
        self.session: Session | None = None
        self.recorder: CloudSessionRecorder | None = None   # with `--record-dir`: what the session saw
        self.inbox: asyncio.Queue[bytes | str] = asyncio.Queue(maxsize=inbox_size)
        self.inbox_dropped = 0
        self.preview: Any = None          # the latest received video frame, not decoded
        self.bytes_in = 0
        self.tasks = TaskSet(f"webrtc peer {peer_id}", logger=log)   # ended when the peer closes
        self.channel: Any = None
        self.closing = False
        # Each subscriber gets the latest frame only (unbuffered), so a slow viewer skips frames, never queues.
        self.relay = MediaRelay()
        self.video: MediaStreamTrack | None = None
        self.viewers: set[str] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None:
        """Run ``coro`` as a task of this peer, cancelled when it closes; None (nothing started) once closed."""
        if self.tasks.closed:
            coro.close()
            return None
        return self.tasks.spawn(coro, name=f"{name}-{self.peer_id}")

    async def record_track_frame(self, frame: DecodedFrame) -> None:
        """Record a decoded track frame handed to the dispatcher, when the session is recorded."""
        if self.recorder is None:
            return
        jpeg = await asyncio.to_thread(encode_jpeg, frame.image)
        height, width = frame.image.shape[:2]
        self.recorder.record_track_frame(frame.seq, jpeg, (int(width), int(height)), frame.received_ns)

    def receive(self, message: bytes | str) -> None:
        """Data channel callback: queue without blocking; a full inbox drops the message, counted."""
        self.bytes_in += len(message)
        try:
            self.inbox.put_nowait(message)
        except asyncio.QueueFull:
            self.inbox_dropped += 1


@dataclass(slots=True)
class Viewer:
    """One live-video subscriber: a peer connection that only sends a relay of a session's video track."""

    viewer_id: str
    pc: RTCPeerConnection
    subject: str
    peer_id: str                       # the peer whose video it relays
    watchdog: asyncio.Task[None] | None = None


def check_watch_offer(sdp: str) -> None:
    """Refuse, with the reason, a body that is not an SDP offer to receive video."""
    lines = sdp.strip().splitlines()
    if not lines or lines[0].strip() != "v=0":
        raise WhipError(400, "the body is not an SDP offer: it must start with 'v=0'")
    if not any(line.startswith("m=video") for line in lines):
        raise WhipError(400, "the SDP offer has no video section ('m=video' line) to receive the session's video")


def channel_event(raw: bytes | str) -> wire.EdgeEvent:
    if isinstance(raw, str):
        return wire.MalformedIn(f"a text message of {len(raw)} characters; the channel carries binary EdgeMessages")
    return wire.edge_event(wire.parse_edge_message(raw))


def hello_problem(event: wire.EdgeEvent, peer: Peer, signer: TokenSigner) -> tuple[str, str] | None:
    """(error code, message) when the first message cannot open the session."""
    if not isinstance(event, wire.HelloIn):
        return "protocol", "the first message on the data channel must be Hello"
    if (problem := session_id_problem(event.resume_session_id)) is not None:
        return "malformed_message", f"Hello.resume_session_id: {problem}"
    if not event.token:
        return None  # the signaling request carried the token
    try:
        claims = signer.verify(event.token)
    except AuthError as exc:
        return "unauthenticated", str(exc)
    if claims.subject != peer.claims.subject:
        return "unauthenticated", "Hello and the signaling request carry tokens of different subjects"
    if not claims.may_publish:
        return "unauthenticated", f"a {claims.role.value} token may view sessions but not open one"
    return None
