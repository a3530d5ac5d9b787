"""The WebRTC uplink: one peer connection to the cloud's WHIP endpoint, as a stream object like ``GrpcUplink``.

The data channel ``eyeline`` carries the same protobuf messages as the gRPC stream: Hello, the sampler's
keyframes as JPEG, queries up; Welcome, overlays, answers, trace and errors down. The video track streams
the live view at a steady preview rate (for the viewer), independent of the keyframes.

A data channel message has a size limit (256 KiB with aiortc's SCTP): a keyframe over it is re-encoded
smaller, first at lower JPEG quality, then scaled down, and only one that cannot fit even so is refused with
``FrameTooLargeError``. Its overlays' coordinates are normalized, so a scaled frame changes nothing for them.

Leaving on purpose (``aclose()``) loses nothing queued: it goes out, then ``Goodbye``, and the peer connection
closes only once the cloud, having taken them all, has hung up (or ``close_timeout_s`` has passed).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin

import aiohttp
import av
import cv2
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from google.protobuf.message import DecodeError

from eyeline.devices.base import CapturedFrame, Image
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.redact import require_redacted
from eyeline.edge.messages import CloudErrorReport, CloudEvent, Welcome
from eyeline.edge.transport import wire
from eyeline.edge.transport.uplink import IceServer, UplinkError
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger(__name__)

CHANNEL_LABEL = "eyeline"
MAX_MESSAGE_BYTES = 256 * 1024
# Room in a message for everything of a Frame but its JPEG (ids, hops, redacted boxes).
_FRAME_OVERHEAD_BYTES = 4096
# Re-encoding steps for a keyframe over the limit, in order: (scale, JPEG quality).
_SHRINK_STEPS = tuple((scale, quality) for scale in (1.0, 0.75, 0.5, 0.35, 0.25) for quality in (70, 50, 30))


class FrameTooLargeError(EdgeError):
    """A keyframe that does not fit a data channel message even re-encoded at the smallest size tried."""
_BUFFER_HIGH_BYTES = 1 << 20
_VIDEO_CLOCK_HZ = 90_000


@dataclass(frozen=True, slots=True)
class WebRtcOptions:
    whip_url: str                               # http://host:port/whip
    ice_servers: tuple[IceServer, ...] = ()
    ice_timeout_s: float = 5.0
    connect_timeout_s: float = 10.0
    send_queue: int = 8
    receive_queue: int = 256
    preview_fps: float = 10.0                   # 0 = no video track
    preview_width: int = 640
    max_message_bytes: int = MAX_MESSAGE_BYTES   # the data channel's limit; larger keyframes are re-encoded
    # Leaving: how long what is still queued, then Goodbye, may take to reach a cloud that hangs up for it; a cloud
    # that does not is not waited for longer (the WHIP resource is deleted instead).
    close_timeout_s: float = 3.0


class PreviewTrack(VideoStreamTrack):
    """The live view at a steady rate: the latest offered frame, scaled down, or black before the first."""

    kind = "video"

    def __init__(self, fps: float, width: int) -> None:
        super().__init__()
        self._period = 1.0 / fps
        self._width = width
        self._latest: Image | None = None
        self._pts = 0
        self._next_at: float | None = None

    def offer(self, image: Image) -> None:
        self._latest = image

    async def recv(self) -> av.VideoFrame:
        # Paced on the event loop's own time, like asyncio.sleep, not the edge's clock: the track is media for a
        # real peer, so it runs in real time even when the edge replays on virtual time.
        loop = asyncio.get_running_loop()
        self._next_at = loop.time() if self._next_at is None else self._next_at + self._period
        await asyncio.sleep(max(0.0, self._next_at - loop.time()))
        image = self._latest
        frame = await asyncio.to_thread(_video_frame, image, self._width)
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, _VIDEO_CLOCK_HZ)
        self._pts += int(self._period * _VIDEO_CLOCK_HZ)
        return frame


def _video_frame(image: Image | None, width: int) -> av.VideoFrame:
    if image is None:
        image = np.zeros((width * 9 // 16, width, 3), np.uint8)
    elif image.shape[1] > width:
        height = round(image.shape[0] * width / image.shape[1]) // 2 * 2
        image = np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")


def fit_keyframe(frame: wire.EncodedFrame, max_bytes: int) -> wire.EncodedFrame:
    """``frame``, re-encoded smaller when its JPEG is over ``max_bytes`` (CPU work: call it in a worker)."""
    if len(frame.data) <= max_bytes:
        return frame
    image = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameTooLargeError(f"keyframe {frame.seq} ({len(frame.data)} bytes) is over the data channel's "
                                 f"{max_bytes} bytes and is not a JPEG that could be re-encoded")
    for scale, quality in _SHRINK_STEPS:
        scaled = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(data) <= max_bytes:
            height, width = scaled.shape[:2]
            return replace(frame, data=bytes(data.tobytes()), width=width, height=height)
    raise FrameTooLargeError(f"keyframe {frame.seq} ({len(frame.data)} bytes) does not fit the data channel's "
                             f"{max_bytes} bytes even at a quarter of its size and JPEG quality 30")




class WebRtcUplink:
    def __init__(self, options: WebRtcOptions, *, clock: Clock | None = None) -> None:
        self.options = options
        self._clock = clock or MonotonicClock()
        self._pc: RTCPeerConnection | None = None
        self._channel: Any = None
        self._track: PreviewTrack | None = None
        self._resource: str | None = None
        self._token = ""
        self._send: asyncio.Queue[wire.Outgoing] = asyncio.Queue(maxsize=options.send_queue)
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=options.receive_queue)
        self._writer: asyncio.Task[None] | None = None
        self._broken = False
        self._leaving = False
        self._hung_up = asyncio.Event()   # the cloud closed the data channel (after Goodbye: all of it arrived)
        self.received_dropped = 0
        self.frames_sent = 0
        self.bytes_sent = 0

    # ------------------------------------------------------------------ opening

    async def open(self, hello: wire.HelloOut) -> Welcome:
        self._token = hello.token
        try:
            await self._connect()
            self._channel.send(wire.hello_message(hello).SerializeToString())
            first = await self._first_message()
        except BaseException:
            await self.aclose()
            raise
        event = wire.cloud_event(pb.CloudMessage.FromString(first))
        if isinstance(event, CloudErrorReport):
            await self.aclose()
            raise UplinkError(f"the cloud refused the session: {event.code}: {event.message}",
                              retryable=event.retryable, status=event.code)
        if not isinstance(event, Welcome):
            await self.aclose()
            raise wire.ProtocolError(f"the cloud answered Hello with {type(event).__name__}, not Welcome")
        self._writer = asyncio.create_task(self._write_loop(), name="webrtc-writer")
        return event

    async def _connect(self) -> None:
        servers = [RTCIceServer(urls=s.urls, username=s.username or None, credential=s.credential or None)
                   for s in self.options.ice_servers]
        pc = self._pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        channel = self._channel = pc.createDataChannel(CHANNEL_LABEL, ordered=True)
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._receive)
        channel.on("close", self._channel_closed)
        if self.options.preview_fps > 0:
            self._track = PreviewTrack(self.options.preview_fps, self.options.preview_width)
            pc.addTransceiver(self._track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await self._signal(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        try:
            await asyncio.wait_for(opened.wait(), self.options.ice_timeout_s)
        except TimeoutError as exc:
            raise UplinkError(f"WebRTC did not connect within {self.options.ice_timeout_s:g} s "
                              f"(ICE state {pc.iceConnectionState})", retryable=True) from exc

    async def _signal(self, offer: str) -> str:
        """POST the offer to the WHIP endpoint; the answer's SDP, and the resource to DELETE later."""
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/sdp"}
        timeout = aiohttp.ClientTimeout(total=self.options.connect_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, \
                    http.post(self.options.whip_url, data=offer, headers=headers) as response:
                body = await response.text()
                if response.status != 201:
                    raise UplinkError(f"the cloud refused the WebRTC offer: HTTP {response.status}: {body.strip()}",
                                      retryable=response.status >= 500 or response.status == 429,
                                      status=str(response.status))
                self._resource = urljoin(self.options.whip_url, response.headers.get("Location", ""))
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UplinkError(f"cannot reach the WHIP endpoint {self.options.whip_url}: {exc!r}",
                              retryable=True) from exc

    async def _first_message(self) -> bytes:
        try:
            first = await asyncio.wait_for(self._inbox.get(), self.options.connect_timeout_s)
        except TimeoutError as exc:
            raise UplinkError("the cloud sent no Welcome", retryable=True) from exc
        if first is None:
            raise UplinkError("the cloud closed the data channel before Welcome", retryable=True)
        return first

    def _receive(self, message: bytes | str) -> None:
        if isinstance(message, str):
            message = message.encode()
        try:
            self._inbox.put_nowait(message)
        except asyncio.QueueFull:
            self.received_dropped += 1

    def _channel_closed(self) -> None:
        self._broken = True
        self._hung_up.set()
        if self._inbox.full():
            self._inbox.get_nowait()
        self._inbox.put_nowait(None)

    # ------------------------------------------------------------------ sending

    def offer_preview(self, frame: CapturedFrame) -> None:
        require_redacted(frame, "the WebRTC preview track")
        if self._track is not None:
            self._track.offer(frame.image)

    async def push_frame(self, frame: wire.EncodedFrame) -> None:
        """Queue ``frame``; raises ``FrameTooLargeError`` when it cannot be made to fit a message."""
        budget = self.options.max_message_bytes - _FRAME_OVERHEAD_BYTES
        if len(frame.data) > budget:
            frame = await asyncio.to_thread(fit_keyframe, frame, budget)
            log.info("keyframe %d re-encoded to %d bytes to fit the data channel", frame.seq, len(frame.data))
        await self._put(frame)

    async def ask(self, query: wire.QueryOut) -> None:
        await self._put(query)

    async def send_message(self, message: pb.EdgeMessage) -> None:
        await self._put(message)

    async def _put(self, item: wire.Outgoing) -> None:
        if self._broken or self._leaving:
            raise UplinkError("the WebRTC session has ended", retryable=True)
        await self._send.put(item)

    async def _write_loop(self) -> None:
        channel = self._channel
        low = asyncio.Event()
        channel.bufferedAmountLowThreshold = _BUFFER_HIGH_BYTES // 2
        channel.on("bufferedamountlow", low.set)
        while True:
            item = await self._send.get()
            if channel.readyState != "open":
                break
            data = wire.outgoing_message(item, self._clock.now_ns()).SerializeToString()
            try:
                channel.send(data)
            except ValueError as exc:  # over the peer's max-message-size
                log.warning("message of %d bytes not sent: %s", len(data), exc)
                continue
            if self._leaving and _is_goodbye(item):
                return
            if isinstance(item, wire.EncodedFrame):
                self.frames_sent += 1
                self.bytes_sent += len(item.data)
            if channel.bufferedAmount > _BUFFER_HIGH_BYTES:
                low.clear()
                await low.wait()
        # The channel closed: free any producer waiting on the queue.
        self._broken = True
        while not self._send.empty():
            self._send.get_nowait()

    # ------------------------------------------------------------------ receiving and closing

    async def __aiter__(self) -> AsyncIterator[CloudEvent]:
        if self._pc is None:
            raise EdgeError("the uplink is not open")
        while (raw := await self._inbox.get()) is not None:
            try:
                message = pb.CloudMessage.FromString(raw)
            except DecodeError as exc:
                raise wire.ProtocolError(f"the cloud sent {len(raw)} bytes that are not a CloudMessage") from exc
            yield wire.cloud_event(message)

    async def aclose(self) -> None:
        """Leave: what is queued goes out, then Goodbye, and the cloud hangs up once it has taken them all (within
        ``close_timeout_s``); only then is the peer connection closed, since closing it aborts the SCTP association
        and loses whatever it had not yet delivered. A cloud that does not hang up in time has its WHIP resource
        deleted instead."""
        if self._writer is not None and not self._broken:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._say_goodbye(), self.options.close_timeout_s)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        if self._resource is not None:
            if not self._hung_up.is_set():   # the cloud took no Goodbye (or there was none): end its session now
                await self._delete(self._resource)
            self._resource = None
        if self._pc is not None:
            await self._pc.close()
            self._pc = None

    async def _say_goodbye(self) -> None:
        self._leaving = True
        await self._send.put(wire.goodbye_message())   # behind what is queued: no frame is lost at the end
        assert self._writer is not None
        await asyncio.wait({self._writer})   # everything, then Goodbye, handed to the data channel
        await self._hung_up.wait()           # the cloud dispatched all of it, ended the session and hung up

    async def _delete(self, resource: str) -> None:
        """End the session on the cloud at once instead of waiting for it to notice the closed peer."""
        headers = {"Authorization": f"Bearer {self._token}"}
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as http, \
                    http.delete(resource, headers=headers):
                pass


def _is_goodbye(item: wire.Outgoing) -> bool:
    return isinstance(item, pb.EdgeMessage) and item.WhichOneof("kind") == "goodbye"
