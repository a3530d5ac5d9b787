"""The gRPC uplink: one session stream to the cloud, as a stream object.

``open()`` says Hello and waits for Welcome; ``push_frame()`` and ``ask()`` queue messages for a single
writer task (bounded, so a slow cloud pushes back instead of growing memory); ``async for`` yields what
the cloud sends; ``aclose()`` ends the stream and the channel.

Leaving on purpose closes the cloud's session at once, and loses nothing sent before: ``aclose()`` writes what
is still queued, then ``Goodbye``, half-closes and waits (``UplinkOptions.close_timeout_s`` at most) for the
cloud to end the stream before cancelling anything. A reader cancelled mid-read would cancel
the whole call in grpc aio, Goodbye unsent, so each read runs as a task of the uplink's own that a cancelled
``async for`` leaves running, and the cloud leaves the session detached, for a resume, only when the stream broke.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc

from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import CloudEvent, Welcome
from eyeline.edge.transport import wire
from eyeline.edge.transport.uplink import UplinkError
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.v1 import session_pb2 as pb
from eyeline.protos.v1 import session_pb2_grpc

_RETRYABLE_STATUS = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                     grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}


def _uplink_error(exc: grpc.aio.AioRpcError, doing: str) -> UplinkError:
    code = exc.code()
    return UplinkError(f"{doing}: {code.name}: {exc.details()}", retryable=code in _RETRYABLE_STATUS,
                       status=code.name)


def _read_roots(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UplinkError(f"cannot read TLS roots {path}: {exc.strerror}", retryable=False) from exc


@dataclass(frozen=True, slots=True)
class UplinkOptions:
    target: str                                 # host:port
    max_message_bytes: int = 16 * 1024 * 1024
    send_queue: int = 8
    connect_timeout_s: float = 10.0
    tls_ca: Path | None = None                  # PEM roots to trust; set = connect over TLS
    # Leaving: how long what is still queued, then Goodbye, may take to reach a cloud that ends the session for
    # it. A cloud that does not (dead, or cut off) is not waited for longer: it then holds the session a while,
    # as it would after a broken stream.
    close_timeout_s: float = 3.0

_Incoming = object   # a pb.CloudMessage, or grpc.aio.EOF


class GrpcUplink:
    def __init__(self, options: UplinkOptions, *, clock: Clock | None = None) -> None:
        self.options = options
        self._clock = clock or MonotonicClock()
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamStreamCall | None = None
        self._queue: asyncio.Queue[wire.Outgoing] = asyncio.Queue(maxsize=options.send_queue)
        self._writer: asyncio.Task[None] | None = None
        self._reading: asyncio.Task[_Incoming] | None = None   # the pending read (see the module docstring)
        self._broken = False
        self._leaving = False
        self.frames_sent = 0
        self.bytes_sent = 0

    async def open(self, hello: wire.HelloOut) -> Welcome:
        limit = self.options.max_message_bytes
        # Pings notice a cut network within seconds, rather than when TCP gives up minutes later.
        channel_options = [("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
                           ("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000)]
        if self.options.tls_ca is None:
            self._channel = grpc.aio.insecure_channel(self.options.target, options=channel_options)
        else:
            roots = await asyncio.to_thread(_read_roots, self.options.tls_ca)
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.aio.secure_channel(self.options.target, credentials, options=channel_options)
        try:
            await asyncio.wait_for(self._channel.channel_ready(), self.options.connect_timeout_s)
        except TimeoutError as exc:
            await self.aclose()
            raise UplinkError(f"cannot reach the cloud at {self.options.target} within "
                              f"{self.options.connect_timeout_s:g} s; is `eyeline cloud` running there? check "
                              "--cloud HOST:PORT (and --tls-ca if it serves TLS), or raise --connect-timeout",
                              retryable=True) from exc
        stub = session_pb2_grpc.SessionStub(self._channel)  # type: ignore[no-untyped-call]
        self._call = stub.Connect(metadata=(("authorization", f"Bearer {hello.token}"),))
        return await self._greet(self._call, hello)

    async def _greet(self, call: grpc.aio.StreamStreamCall, hello: wire.HelloOut) -> Welcome:
        try:
            await call.write(wire.hello_message(hello))
            first = await call.read()
        except grpc.aio.AioRpcError as exc:
            await self.aclose()
            raise _uplink_error(exc, "the cloud refused the session") from exc
        if first is grpc.aio.EOF:
            status = await call.code()
            details = await call.details()
            await self.aclose()
            raise UplinkError(f"the cloud refused the session: {status.name}: {details}",
                              retryable=status in _RETRYABLE_STATUS, status=status.name)
        event = wire.cloud_event(first)
        if not isinstance(event, Welcome):
            await self.aclose()
            raise wire.ProtocolError(f"the cloud answered Hello with {type(event).__name__}, not Welcome")
        self._writer = asyncio.create_task(self._write_loop(call), name="uplink-writer")
        return event

    @property
    def queued(self) -> int:
        """Messages waiting for the stream (the queue is bounded by ``UplinkOptions.send_queue``)."""
        return self._queue.qsize()

    async def push_frame(self, frame: wire.EncodedFrame) -> None:
        await self._put(frame)

    async def ask(self, query: wire.QueryOut) -> None:
        await self._put(query)

    async def send_message(self, message: pb.EdgeMessage) -> None:
        """Send a ready-made message (tools and tests that speak the contract directly)."""
        await self._put(message)

    async def _write_loop(self, call: grpc.aio.StreamStreamCall) -> None:
        try:
            while True:
                item = await self._queue.get()
                await call.write(wire.outgoing_message(item, self._clock.now_ns()))
                if self._leaving and _is_goodbye(item):
                    await call.done_writing()
                    return
                if isinstance(item, wire.EncodedFrame):
                    self.frames_sent += 1
                    self.bytes_sent += len(item.data)
        except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
            # The stream ended; the reader reports why. Free any producer waiting on the queue.
            self._broken = True
            while not self._queue.empty():
                self._queue.get_nowait()

    async def _put(self, item: wire.Outgoing) -> None:
        if self._broken or self._leaving:
            raise UplinkError("the session stream has ended", retryable=True)
        await self._queue.put(item)

    async def __aiter__(self) -> AsyncIterator[CloudEvent]:
        if self._call is None:
            raise EdgeError("the uplink is not open")
        try:
            while (message := await self._read()) is not grpc.aio.EOF:
                yield wire.cloud_event(cast(pb.CloudMessage, message))
        except grpc.aio.AioRpcError as exc:
            self._broken = True
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise _uplink_error(exc, "the session stream broke") from exc

    async def _read(self) -> _Incoming:
        """The next message; a caller cancelled while waiting leaves the read pending, and the call alive."""
        assert self._call is not None
        reading = self._reading
        if reading is None:
            reading = self._reading = asyncio.ensure_future(self._call.read())
        try:
            return await asyncio.shield(reading)
        finally:
            if reading.done() and self._reading is reading:
                self._reading = None

    async def aclose(self) -> None:
        if self._call is not None and self._writer is not None and not self._broken:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._say_goodbye(), self.options.close_timeout_s)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self._writer
            self._writer = None
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, grpc.aio.UsageError):
                await self._reading
            self._reading = None
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def _say_goodbye(self) -> None:
        """Leaving on purpose: everything queued goes out first, then Goodbye and the half-close; the cloud, having
        dispatched (and recorded) all of it, closes the session and ends the stream, which says it all arrived."""
        self._leaving = True
        await self._queue.put(wire.goodbye_message())   # behind what is queued: no frame is lost at the end
        assert self._writer is not None
        with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
            await self._writer
            while await self._read() is not grpc.aio.EOF:
                pass   # what the cloud still sends before it ends the stream is not wanted any more


def _is_goodbye(item: wire.Outgoing) -> bool:
    return isinstance(item, pb.EdgeMessage) and item.WhichOneof("kind") == "goodbye"
