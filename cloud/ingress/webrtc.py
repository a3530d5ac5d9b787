"""The cloud's WebRTC ingress: WHIP-style peers whose data channel carries the session contract.

``WebRtcIngress.accept`` turns an SDP offer, sent with a bearer token, into a peer and its SDP answer. The
peer's data channel carries ``EdgeMessage`` / ``CloudMessage`` protobufs exactly as the gRPC stream does and
feeds the same ``Dispatcher``: the first message is ``Hello``, the cloud answers ``Welcome``.

Received tracks are always drained, since a track nobody reads fills aiortc's buffers. Video track frames are
the live view: a ``MediaRelay`` hands the latest of them to each viewer that subscribed (``watch``: a
WHEP-style offer answered with a send-only video track), and to the drain, which keeps the latest frame,
undecoded, as the session's preview. When the offer asked for ``track_keyframes``, the browser-as-glasses
page, which sends no JPEGs, gets sampled track frames decoded straight into the dispatcher, without a JPEG
round trip. Such a track is the browser's raw camera, so its faces are destroyed on arrival
(``redacted_track``), before the relay, the preview or the dispatcher sees a frame. Speech in an audio track is
found and transcribed for the session (``CloudMessage.utterance``).

Offers are bounded before any session opens: a subject holds at most ``peers_per_subject`` peers, pending or
live (429 past it), and the cloud at most ``max_peers`` (503). A Hello that resumes a session its subject holds
takes the session over: the peer (or gRPC stream) that carried it is ended, never a second session opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import AuthError, TokenClaims
from eyeline.cloud.ingress.redacted_track import RedactedVideoTrack, SharedRedactor
from eyeline.cloud.ingress.webrtc_peer import (
    CHANNEL_LABEL,
    Peer,
    Viewer,
    WebRtcConfig,
    WhipError,
    channel_event,
    check_offer,
    check_watch_offer,
    hello_problem,
    rtc_configuration,
    track_image,
)
from eyeline.cloud.perception.speech import HeardAudio
from eyeline.cloud.perception.track_speech import TrackAudioFeed, TrackSpeechError, TrackSpeechSegmenter
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.recorder import recording_of
from eyeline.cloud.session.sessions import Session, SessionLimitError
from eyeline.protos.tasks import TaskSet

if TYPE_CHECKING:
    from eyeline.cloud.app import Cloud

log = logging.getLogger(__name__)

# Outbound messages wait while this much is still buffered in the SCTP association (a slow peer pushes back).
_BUFFER_HIGH_BYTES = 1 << 20
# Frame sequence numbers for decoded track frames: far above what an edge numbers its keyframes (recordings keep
# all 64 bits: protos/recording_io.py).
_TRACK_SEQ_BASE = 1 << 40
# How long ``close_all`` lets closes already under way (a peer or viewer that hung up) finish.
_CLOSING_WAIT_S = 5.0
_RETRY_AFTER_S = 5              # a refused offer's Retry-After: peers come and go within seconds

T = TypeVar("T")


class WebRtcIngress:
    """Accepts WHIP offers and runs their peers against the cloud's sessions and dispatcher."""

    def __init__(self, cloud: Cloud, config: WebRtcConfig | None = None) -> None:
        self._cloud = cloud
        self.config = config or WebRtcConfig()
        self.peers: dict[str, Peer] = {}
        self.viewers: dict[str, Viewer] = {}
        self._counter = itertools.count()
        self._last_track_frame: dict[str, int] = {}   # peer id -> when its last track frame was kept (ns)
        self._pending: Counter[str] = Counter()        # subject -> offers being answered, not yet peers
        self._redactor = SharedRedactor()   # for browsers' camera tracks, loaded at the first one
        # Viewer watchdogs and closes begun from callbacks; a peer's own work is the peer's (``Peer.tasks``).
        self._tasks = TaskSet("webrtc ingress", logger=log)

    # ------------------------------------------------------------------ signaling

    async def accept(self, offer_sdp: str, token: str, *, track_keyframes: bool = False) -> tuple[str, str]:
        """(peer id, SDP answer) for an offer sent with ``token``; raises ``WhipError`` with a status."""
        try:
            claims = self._cloud.signer.verify(token)
        except AuthError as exc:
            raise WhipError(401, str(exc) if token else "no session token") from exc
        if not claims.may_publish:
            raise WhipError(403, f"a {claims.role.value} token may view sessions but not publish one")
        check_offer(offer_sdp)
        with self._offer_slot(claims.subject):
            pc = RTCPeerConnection(rtc_configuration(self.config.ice_servers))
            peer = Peer(f"p{next(self._counter)}-{os.urandom(6).hex()}", pc, claims,
                        track_keyframes=track_keyframes, inbox_size=self.config.inbox_size)
            self._wire(peer)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:  # aiortc raises ValueError, KeyError, ... for offers it cannot answer
                await pc.close()
                raise WhipError(400, f"the SDP offer cannot be answered: {type(exc).__name__}: {exc}") from exc
            self.peers[peer.peer_id] = peer
        peer.spawn(self._expire_without_session(peer), "peer-watchdog")
        log.info("webrtc peer %s accepted for %s", peer.peer_id, claims.subject)
        return peer.peer_id, pc.localDescription.sdp

    @contextlib.contextmanager
    def _offer_slot(self, subject: str) -> Iterator[None]:
        """Hold a place for one offer of ``subject`` while it is answered, or refuse it: the subject's peers
        (pending or live) and the cloud's are bounded before any session exists to count them."""
        mine = self._pending[subject] + sum(1 for p in self.peers.values() if p.claims.subject == subject)
        if mine >= self.config.peers_per_subject:
            raise WhipError(429, f"{subject} already has {mine} WebRTC peers (pending or live), its limit of "
                                 f"{self.config.peers_per_subject}; close one (DELETE its Location) and retry",
                           retry_after_s=_RETRY_AFTER_S)
        total = len(self.peers) + self._pending.total()
        if total >= self.config.max_peers:
            raise WhipError(503, f"the cloud holds its limit of {self.config.max_peers} WebRTC peers; retry later",
                           retry_after_s=_RETRY_AFTER_S)
        self._pending[subject] += 1
        try:
            yield
        finally:
            self._pending[subject] -= 1
            if self._pending[subject] <= 0:
                del self._pending[subject]

    def owner(self, peer_id: str) -> str | None:
        peer = self.peers.get(peer_id)
        return None if peer is None else peer.claims.subject

    async def close(self, peer_id: str) -> bool:
        """End the peer, its session and every task it owns; False when no such peer is live."""
        peer = self.peers.pop(peer_id, None)
        if peer is None:
            return False
        peer.closing = True
        await peer.tasks.aclose()   # all but the calling task, when that is one of the peer's
        for viewer_id in list(peer.viewers):
            await self.unwatch(viewer_id)
        if peer.session is not None:
            await self._cloud.sessions.close(peer.session)
        if peer.recorder is not None:
            await asyncio.to_thread(peer.recorder.close)
        await peer.pc.close()
        self._last_track_frame.pop(peer_id, None)
        log.info("webrtc peer %s closed", peer_id)
        return True

    async def close_all(self) -> None:
        for viewer_id in list(self.viewers):
            await self.unwatch(viewer_id)
        for peer_id in list(self.peers):
            await self.close(peer_id)
        await self._tasks.wait(_CLOSING_WAIT_S)
        await self._tasks.aclose()

    def peer_of(self, session_id: str) -> Peer | None:
        return next((p for p in self.peers.values() if p.session and p.session.session_id == session_id), None)

    # ------------------------------------------------------------------ live-video viewers

    async def watch(self, session_id: str, offer_sdp: str, claims: TokenClaims) -> tuple[str, str]:
        """(viewer id, SDP answer) relaying the live video of ``session_id``; raises ``WhipError`` with a status:
        404 for a session ``claims`` may not see, as for one that does not exist."""
        session = self._cloud.sessions.get(session_id)
        if session is None or not claims.may_view(session.info.subject):
            raise WhipError(404, f"no live session {session_id}")
        peer = self.peer_of(session_id)
        if peer is None or peer.video is None:
            raise WhipError(409, f"session {session_id} sends no live video (only a WebRTC edge with a video track "
                                 "does); its keyframes come on the events stream")
        if len(peer.viewers) >= self.config.viewers_per_session:
            raise WhipError(429, f"session {session_id} already has {len(peer.viewers)} live-video viewers, "
                                 "its limit; close one and retry", retry_after_s=_RETRY_AFTER_S)
        check_watch_offer(offer_sdp)
        pc = RTCPeerConnection(rtc_configuration(self.config.ice_servers))
        viewer = Viewer(f"v{next(self._counter)}-{os.urandom(6).hex()}", pc, claims.subject, peer.peer_id)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            pc.addTrack(peer.relay.subscribe(peer.video, buffered=False))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises ValueError, KeyError, ... for offers it cannot answer
            await pc.close()
            raise WhipError(400, f"the SDP offer cannot be answered: {type(exc).__name__}: {exc}") from exc
        self.viewers[viewer.viewer_id] = viewer
        peer.viewers.add(viewer.viewer_id)
        pc.on("connectionstatechange", lambda: self._unwatch_soon(viewer) if pc.connectionState in (
            "failed", "closed") else None)
        viewer.watchdog = self._spawn(self._expire_unconnected(viewer), f"viewer-{viewer.viewer_id}")
        log.info("viewer %s watches session %s", viewer.viewer_id, session_id)
        return viewer.viewer_id, pc.localDescription.sdp

    def viewer_owner(self, viewer_id: str) -> str | None:
        viewer = self.viewers.get(viewer_id)
        return None if viewer is None else viewer.subject

    async def unwatch(self, viewer_id: str) -> bool:
        """Stop relaying to the viewer and close its peer connection; False when no such viewer is live."""
        viewer = self.viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        if viewer.watchdog is not None and viewer.watchdog is not asyncio.current_task():
            viewer.watchdog.cancel()
            await asyncio.gather(viewer.watchdog, return_exceptions=True)
        if (peer := self.peers.get(viewer.peer_id)) is not None:
            peer.viewers.discard(viewer_id)
        await viewer.pc.close()    # stops the sender, which unsubscribes its relay track
        log.info("viewer %s closed", viewer_id)
        return True

    def _unwatch_soon(self, viewer: Viewer) -> None:
        if viewer.viewer_id in self.viewers:
            self._spawn(self.unwatch(viewer.viewer_id), f"viewer-close-{viewer.viewer_id}")

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T] | None:
        """Run ``coro`` as the ingress's own task; None (nothing started) once ``close_all`` has run."""
        if self._tasks.closed:
            coro.close()
            return None
        return self._tasks.spawn(coro, name=name)

    async def _expire_unconnected(self, viewer: Viewer) -> None:
        await asyncio.sleep(self.config.hello_timeout_s)
        if viewer.pc.connectionState != "connected":
            log.info("viewer %s did not connect in %g s", viewer.viewer_id, self.config.hello_timeout_s)
            await self.unwatch(viewer.viewer_id)

    # ------------------------------------------------------------------ one peer

    def _wire(self, peer: Peer) -> None:
        pc = peer.pc

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            if channel.label != CHANNEL_LABEL or peer.channel is not None:
                channel.close()
                return
            peer.channel = channel
            channel.on("message", peer.receive)
            channel.on("close", lambda: self._close_soon(peer))
            peer.spawn(self._serve(peer), "peer-session")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and peer.video is None:
                peer.video = self._camera(peer, track)
                peer.spawn(self._drain(peer, peer.relay.subscribe(peer.video, buffered=False), camera=True),
                           "peer-video")
                return
            peer.spawn(self._drain(peer, track), f"peer-{track.kind}")

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._close_soon(peer)

    def _close_soon(self, peer: Peer) -> None:
        if not peer.closing and peer.peer_id in self.peers:
            peer.closing = True
            self._spawn(self.close(peer.peer_id), f"peer-close-{peer.peer_id}")

    async def _expire_without_session(self, peer: Peer) -> None:
        await asyncio.sleep(self.config.hello_timeout_s)
        if peer.session is None:
            log.info("webrtc peer %s opened no session in %g s", peer.peer_id, self.config.hello_timeout_s)
            self._close_soon(peer)

    async def _serve(self, peer: Peer) -> None:
        session = await self._open(peer)
        if session is None:
            self._close_soon(peer)
            return
        if peer.recorder is None:   # a session taken over from another peer keeps that peer's recording
            peer.recorder = await self._cloud.start_recording(session)
        peer.spawn(self._write(peer, session), "peer-writer")
        dispatcher = self._cloud.dispatcher
        reported = 0
        while True:
            raw = await peer.inbox.get()
            session.stats.bytes_in += len(raw)
            if peer.inbox_dropped > reported:
                reported = peer.inbox_dropped
                await session.send(wire.error("overloaded", f"{reported} data channel messages were dropped "
                                              "because the session could not keep up", retryable=True))
            event, record = self._received(peer, raw)
            await dispatcher.handle(session, event, record=record)
            if session.finished:   # the edge said Goodbye: the dispatcher ended the session; hang up
                self._close_soon(peer)
                return

    @staticmethod
    def _received(peer: Peer, raw: bytes | str) -> tuple[wire.EdgeEvent, Callable[[], None] | None]:
        """The event a data channel message holds, and how to record it when the session is recorded."""
        if peer.recorder is not None and isinstance(raw, bytes):
            message = wire.parse_edge_message(raw)
            return wire.edge_event(message), recording_of(message, peer.recorder)
        return channel_event(raw), None

    async def _open(self, peer: Peer) -> Session | None:
        try:
            raw = await asyncio.wait_for(peer.inbox.get(), self.config.hello_timeout_s)
        except TimeoutError:
            return None
        hello = channel_event(raw)
        problem = hello_problem(hello, peer, self._cloud.signer)
        if problem is not None or not isinstance(hello, wire.HelloIn):
            self._send_now(peer, wire.error(*problem) if problem else wire.error("protocol", "no Hello"))
            return None
        previous = self.peer_of(hello.resume_session_id) if hello.resume_session_id else None
        held = self._cloud.resume(hello, peer.claims)   # ends the previous peer's hold on it (``_let_go``)
        if held is not None:
            if previous is not None:
                peer.recorder, previous.recorder = previous.recorder, None
            self._send_now(peer, self._cloud.welcome(held, resumed=True))   # before what the session queued
            peer.session = held
        else:
            try:
                peer.session = await self._cloud.open_session(hello, peer.claims)
            except SessionLimitError as exc:
                self._send_now(peer, wire.error("overloaded", str(exc), retryable=True))
                return None
        peer.session.end_stream = lambda: self._let_go(peer)
        return peer.session

    def _let_go(self, peer: Peer) -> None:
        """Another stream took over the peer's session: the peer hangs up, leaving the session to it."""
        peer.session = None
        peer.tasks.cancel_all()   # its reader and writer stop at once; the new stream owns the session's queue
        self._close_soon(peer)

    def _send_now(self, peer: Peer, message: Any) -> None:
        with contextlib.suppress(Exception):
            peer.channel.send(message.SerializeToString())

    async def _write(self, peer: Peer, session: Session) -> None:
        channel = peer.channel
        low = asyncio.Event()
        channel.bufferedAmountLowThreshold = _BUFFER_HIGH_BYTES // 2
        channel.on("bufferedamountlow", low.set)
        while (message := await session.outbound.get()) is not None:
            if channel.readyState != "open":
                break
            if peer.recorder is not None:
                peer.recorder.record_out(message)
            channel.send(message.SerializeToString())
            if channel.bufferedAmount > _BUFFER_HIGH_BYTES:
                low.clear()
                await low.wait()
        # The session ended (the cloud is stopping): let the last message leave, then hang up.
        await asyncio.sleep(0.2)
        self._close_soon(peer)

    # ------------------------------------------------------------------ tracks

    def _camera(self, peer: Peer, track: MediaStreamTrack) -> MediaStreamTrack:
        """The peer's live video as everything past the ingress sees it. A browser used as glasses (``track_keyframes``)
        sends its raw camera: its faces are destroyed here, before the relay, the preview or the dispatcher. An
        edge's track was redacted on the device, like its keyframes."""
        if not peer.track_keyframes:
            return track
        redacted = RedactedVideoTrack(track, self._redactor)
        peer.spawn(redacted.pump(), "peer-redact")
        return redacted

    async def _drain(self, peer: Peer, track: MediaStreamTrack, *, camera: bool = False) -> None:
        """Read every frame of ``track`` until it ends; the camera's video frames are kept as preview or keyframes
        (any other video track is read and dropped), audio frames go to the session's speech recognition."""
        feeding: asyncio.Task[None] | None = None
        audio = self._audio_feed(peer) if track.kind == "audio" else None
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if audio is not None:
                    audio.offer(frame, self._cloud.clock.now_ns())
                if not camera:
                    continue
                peer.preview = frame
                if self._wants_track_frame(peer) and (feeding is None or feeding.done()):
                    feeding = peer.spawn(self._feed(peer, frame), "peer-feed")
        if audio is not None:
            await audio.aclose()
        if feeding is not None:
            feeding.cancel()
            await asyncio.gather(feeding, return_exceptions=True)

    def _audio_feed(self, peer: Peer) -> TrackAudioFeed | None:
        """A feed of the track's audio and the task that hears it, when this cloud transcribes."""
        if self._cloud.dispatcher.speech is None:
            return None
        feed = TrackAudioFeed()
        peer.spawn(self._hear(peer, feed), "peer-hear")
        return feed

    async def _hear(self, peer: Peer, feed: TrackAudioFeed) -> None:
        """Find the utterances in the track (VAD in a worker) and send each one's transcript to the session."""
        try:
            segmenter = await asyncio.to_thread(TrackSpeechSegmenter, f"track-{peer.peer_id}")
        except TrackSpeechError as exc:
            log.warning("the audio track of peer %s is not transcribed: %s", peer.peer_id, exc)
            async for _ in feed:
                pass
            return
        async for chunk in feed:
            for heard in await asyncio.to_thread(segmenter.push, chunk):
                await self._transcribe(peer, heard)
        for heard in await asyncio.to_thread(segmenter.flush):
            await self._transcribe(peer, heard)

    async def _transcribe(self, peer: Peer, heard: HeardAudio) -> None:
        if peer.session is not None:
            await self._cloud.dispatcher.transcribe(peer.session, heard)

    def _wants_track_frame(self, peer: Peer) -> bool:
        if not peer.track_keyframes or peer.session is None or self.config.track_keyframes_per_s <= 0:
            return False
        now = self._cloud.clock.now_ns()
        last = self._last_track_frame.get(peer.peer_id)
        if last is not None and now - last < 1e9 / self.config.track_keyframes_per_s:
            return False
        self._last_track_frame[peer.peer_id] = now
        return True

    async def _feed(self, peer: Peer, frame: Any) -> None:
        session = peer.session
        if session is None:
            return
        received_ns = self._cloud.clock.now_ns()
        image = await asyncio.to_thread(track_image, frame)
        seq = _TRACK_SEQ_BASE + session.stats.frames_received
        decoded = DecodedFrame(seq=seq, trace_id=f"track-{seq}", image=image, capture_ns=received_ns,
                               sent_ns=received_ns, received_ns=received_ns)
        await peer.record_track_frame(decoded)
        await self._cloud.dispatcher.handle_decoded(session, decoded)

