"""Push-ingest: phone apps that already receive the glasses' camera and microphone push them to the edge daemon.

The phone speaks the very contract the edge speaks to the cloud (``eyeline.v1.Session/Connect``): ``Hello`` with
the ingest token (a wrong one is refused with ``UNAUTHENTICATED``), then ``Frame``s (JPEG or PNG), ``AudioChunk``s,
``Query``s and ``DeviceStatus`` reports; it gets back ``Welcome``, and the cloud's overlays, answers, trace steps,
errors and transcripts for what it pushed, in its own terms: frame sequence numbers and query ids are the phone's.

Pushed frames are decoded in a worker thread and handed to a ``PushedFrameSource`` (device spec ``push:phone``),
so the daemon's privacy redaction, sampler, recorder and uplink treat them like any camera's. A frame that is
corrupt or over the limits earns a typed ``Error`` naming its sequence number, and nothing else is lost. A
``Query`` is asked about what is in view now (the daemon has a fresh keyframe sent); its ``frame_seq`` is not used.
Audio goes up the cloud session as it came, and the cloud's transcript of it comes back as an ``Utterance``; a
transcript of the phone's own audio then goes through the edge's intents (``edge.voice.intents``), as speech heard by
the glasses would: a question or a spoken command is asked like a phone ``Query`` whose query id is the phone's
utterance id, so the answer names the utterance it answers. One phone is served at a time: a phone that
connects again (after its network dropped, say) replaces the old stream.

This module is the phone side's boundary with protobuf, as ``edge.transport.wire`` is the cloud side's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NoReturn, Protocol

import grpc

from eyeline.devices.push import PushedFrameRef, PushedFrameSource, PushedImageError, PushLimits, decode_pushed_image
from eyeline.edge.daemon.ingest_stream import (
    Malformed,
    PhoneStream,
    parse_phone_message,
    phone_error,
    power_state,
    settles,
)
from eyeline.edge.daemon.power import PowerLimits, PowerState
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Answer, CloudErrorReport, CloudEvent, HeardInCloud, OverlayArrival, TraceStep
from eyeline.edge.transport.wire import answer_to_wire, error_to_wire, overlay_to_wire, trace_to_wire
from eyeline.edge.voice.intents import parse_intent
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger("eyeline.ingest")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Session"].full_name
INGEST_VERSION = "eyeline-edge-ingest/0.1"
_MODE_NAMES = {pb.MODE_INSTANT: "instant", pb.MODE_THINKING: "thinking", pb.MODE_CONTEMPLATING: "contemplating"}
_MESSAGE_OVERHEAD_BYTES = 64 * 1024
# Query ids of the phone's remembered, to name the answers that come back in the phone's terms.
_REMEMBERED_QUERIES = 256


class IngestError(EdgeError):
    """The push-ingest service could not start (a bad listen address, a port in use)."""


class IngestHost(Protocol):
    """What the daemon does for the phone: ask the cloud, pass audio on, take power reports."""

    @property
    def paused(self) -> bool: ...

    async def ask(self, text: str, mode: str) -> str | None:
        """Ask about what is in view now; the edge's query id, or None when no cloud session is up."""
        ...

    async def forward(self, message: pb.EdgeMessage) -> bool:
        """Send ``message`` (audio) up the cloud session as it is; False when no cloud session is up."""
        ...

    def report_power(self, state: PowerState) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestOptions:
    listen: str                              # host:port; port 0 = any free port
    token: str                               # what phones must present
    limits: PushLimits = field(default_factory=PushLimits)
    outbound_queue: int = 64                 # messages waiting for a slow phone before the oldest go
    queries_in_flight: int = 4
    hello_timeout_s: float = 10.0
    answer_wait_s: float = 60.0              # after the phone stops sending, answers still due are waited for
    tls_cert: Path | None = None             # PEM certificate chain: serve TLS (with tls_key)
    tls_key: Path | None = None


@dataclass(slots=True)
class IngestStats:
    streams: int = 0
    frames_pushed: int = 0
    frames_rejected: int = 0
    frames_paused: int = 0                   # pushed while the wearer paused capture: never looked at
    queries: int = 0
    spoken_queries: int = 0                  # questions and commands heard in the phone's audio, then asked
    audio_forwarded: int = 0
    audio_dropped: int = 0                   # no cloud session to pass it to
    status_reports: int = 0
    relayed: int = 0
    relay_dropped: int = 0                   # the phone read too slowly; the oldest waiting messages gave way


class PhoneIngest:
    """The push-ingest gRPC service; ``relay()`` takes every event of the daemon's cloud session."""

    def __init__(self, options: IngestOptions, source: PushedFrameSource, host: IngestHost) -> None:
        self.options = options
        self.source = source
        self.stats = IngestStats()
        self._host = host
        self._server: grpc.aio.Server | None = None
        self._stream: PhoneStream | None = None
        self._queries: OrderedDict[str, tuple[int, str]] = OrderedDict()  # edge query id -> (stream, phone's id)
        self._advice: pb.FlowControl | None = None
        self.port = 0

    # ------------------------------------------------------------------ serving

    async def start(self) -> None:
        limit = self.options.limits.max_bytes + _MESSAGE_OVERHEAD_BYTES
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                          ("grpc.max_send_message_length", limit)])
        handler = grpc.stream_stream_rpc_method_handler(self._connect, request_deserializer=parse_phone_message,
                                                        response_serializer=pb.CloudMessage.SerializeToString)
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE_NAME, {"Connect": handler})])
        credentials = await asyncio.to_thread(self._credentials)
        try:
            if credentials is None:
                self.port = int(server.add_insecure_port(self.options.listen))
            else:
                self.port = int(server.add_secure_port(self.options.listen, credentials))
        except RuntimeError as exc:
            raise IngestError(f"ingest.listen {self.options.listen!r}: cannot listen there ({exc})") from exc
        await server.start()
        self._server = server

    def _credentials(self) -> grpc.ServerCredentials | None:
        """TLS for the phone's link when a certificate is configured (a phone on a shared network)."""
        cert, key = self.options.tls_cert, self.options.tls_key
        if cert is None or key is None:
            return None
        try:
            return grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
        except OSError as exc:
            raise IngestError(f"ingest TLS: cannot read {exc.filename}: {exc.strerror}") from exc

    async def aclose(self) -> None:
        if self._stream is not None:
            self._stream.send(None)
        if self._server is not None:
            await self._server.stop(0.5)
            self._server = None

    async def _connect(self, requests: AsyncIterator[pb.EdgeMessage | Malformed],
                       context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CloudMessage]:
        hello = await self._authenticate(requests, context)
        stream = self._open_stream(hello)
        yield pb.CloudMessage(welcome=pb.Welcome(
            session_id=f"phone-{stream.number}", server_version=INGEST_VERSION, mode=hello.mode,
            max_frame_bytes=self.options.limits.max_bytes, max_frame_pixels=self.options.limits.max_pixels))
        if self._advice is not None:
            yield pb.CloudMessage(flow=self._advice)
        reader = asyncio.create_task(self._read(requests, stream), name=f"ingest-read-{stream.number}")
        try:
            while (message := await stream.outbound.get()) is not None:
                yield message
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await stream.tasks.aclose()
            self.stats.relay_dropped += stream.dropped
            if self._stream is stream:
                self._stream = None
            log.info("phone stream %d ended", stream.number)

    async def _authenticate(self, requests: AsyncIterator[pb.EdgeMessage | Malformed],
                            context: grpc.aio.ServicerContext) -> pb.Hello:
        metadata = dict(context.invocation_metadata() or ())
        bearer = str(metadata.get("authorization", "")).removeprefix("Bearer ").strip()
        if bearer and not self._token_ok(bearer):
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, "wrong ingest token")
        try:
            first = await asyncio.wait_for(anext(requests), self.options.hello_timeout_s)
        except (TimeoutError, StopAsyncIteration):
            await _refuse(context, grpc.StatusCode.DEADLINE_EXCEEDED, "no Hello arrived to open the stream")
        if isinstance(first, Malformed) or first.WhichOneof("kind") != "hello":
            await _refuse(context, grpc.StatusCode.FAILED_PRECONDITION, "the first message must be Hello")
        if not self._token_ok(first.hello.token or bearer):
            reason = "wrong ingest token" if first.hello.token or bearer else "no ingest token"
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, reason)
        return first.hello

    def _token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.options.token.encode())

    def _open_stream(self, hello: pb.Hello) -> PhoneStream:
        self.stats.streams += 1
        if self._stream is not None:
            self._stream.send(pb.CloudMessage(error=pb.Error(
                code=pb.ERROR_CODE_PROTOCOL, message="another phone stream replaced this one", retryable=False)))
            self._stream.send(None)
        self._stream = PhoneStream(self.stats.streams, _MODE_NAMES.get(hello.mode, ""),
                                    self.options.outbound_queue)
        log.info("phone stream %d opened", self._stream.number)
        return self._stream

    async def _read(self, requests: AsyncIterator[pb.EdgeMessage | Malformed], stream: PhoneStream) -> None:
        async for message in requests:
            if isinstance(message, Malformed):
                stream.send(phone_error(pb.ERROR_CODE_MALFORMED_MESSAGE, message.reason))
            else:
                await self._handle(stream, message)
        # The phone stopped sending: answers to what it asked still go out before the stream ends.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stream.idle.wait(), self.options.answer_wait_s)
        stream.send(None)

    async def _handle(self, stream: PhoneStream, message: pb.EdgeMessage) -> None:
        match message.WhichOneof("kind"):
            case "frame":
                await self._on_frame(stream, message.frame)
            case "query":
                self._on_query(stream, message.query)
            case "audio":
                await self._on_audio(stream, message)
            case "device_status":
                self.stats.status_reports += 1
                self._host.report_power(power_state(message.device_status))
            case "hello":
                stream.send(phone_error(pb.ERROR_CODE_PROTOCOL, "Hello may only open a stream, once"))
            case "ack" | "utterance":
                pass  # what the phone drew or heard itself: the edge's own reports go to the cloud
            case None:
                stream.send(phone_error(pb.ERROR_CODE_MALFORMED_MESSAGE, "EdgeMessage with no message inside"))

    # ------------------------------------------------------------------ what the phone sends

    async def _on_frame(self, stream: PhoneStream, frame: pb.Frame) -> None:
        if self._host.paused:
            self.stats.frames_paused += 1
            return
        try:
            image = await asyncio.to_thread(decode_pushed_image, frame.data, self.options.limits)
        except PushedImageError as exc:
            self.stats.frames_rejected += 1
            code = pb.ErrorCode.Value(f"ERROR_CODE_{exc.code.upper()}")
            stream.send(phone_error(code, f"frame {frame.seq}: {exc}", frame_seq=frame.seq))
            return
        self.source.push(image, PushedFrameRef(stream.number, frame.seq, frame.hops.capture_ns))
        self.stats.frames_pushed += 1

    def _on_query(self, stream: PhoneStream, query: pb.Query) -> None:
        self.stats.queries += 1
        if not query.text.strip():
            stream.send(phone_error(pb.ERROR_CODE_MALFORMED_MESSAGE, "Query with no text", query_id=query.query_id))
            return
        self._start_asking(stream, query.query_id, query.text, _MODE_NAMES.get(query.mode, stream.mode))

    def _on_transcript(self, stream: PhoneStream, heard: HeardInCloud) -> None:
        """The cloud heard the phone's utterance: a question or command in it is asked (see the module docstring)."""
        intent = parse_intent(heard.text)
        text = stream.question_for(intent)
        if text:
            self.stats.spoken_queries += 1
            self._start_asking(stream, heard.utterance_id, text, intent.mode or stream.mode)

    def _start_asking(self, stream: PhoneStream, phone_query_id: str, text: str, mode: str) -> None:
        if stream.tasks.closed:
            return   # the stream has ended: nobody is left to answer
        if len(stream.tasks) >= self.options.queries_in_flight:
            stream.send(phone_error(pb.ERROR_CODE_OVERLOADED, f"{len(stream.tasks)} questions are already being asked; "
                               "ask again shortly", retryable=True, query_id=phone_query_id))
            return
        stream.tasks.spawn(self._ask(stream, phone_query_id, text, mode), name=f"ingest-ask-{phone_query_id}")

    async def _ask(self, stream: PhoneStream, phone_query_id: str, text: str, mode: str) -> None:
        stream.asked(phone_query_id)
        edge_query_id = await self._host.ask(text, mode)
        if edge_query_id is None:
            stream.send(phone_error(pb.ERROR_CODE_UNAVAILABLE, "the edge has no cloud session now; ask again shortly",
                               retryable=True, query_id=phone_query_id))
            stream.settled(phone_query_id)
            return
        self._queries[edge_query_id] = (stream.number, phone_query_id)
        while len(self._queries) > _REMEMBERED_QUERIES:
            self._queries.popitem(last=False)

    async def _on_audio(self, stream: PhoneStream, message: pb.EdgeMessage) -> None:
        stream.spoke(message.audio.utterance_id)
        if await self._host.forward(message):
            self.stats.audio_forwarded += 1
        else:
            self.stats.audio_dropped += 1

    # ------------------------------------------------------------------ what goes back

    def advise(self, limits: PowerLimits) -> None:
        """Tell the phone the frame rate worth pushing (0 = no limit), now and on every later stream."""
        self._advice = pb.FlowControl(max_keyframes_per_s=limits.max_fps)
        if self._stream is not None:
            self._stream.send(pb.CloudMessage(flow=self._advice))

    def relay(self, event: CloudEvent) -> None:
        """Pass an event of the cloud session to the phone, if it concerns the phone's frames or questions."""
        stream = self._stream
        if stream is None:
            return
        message = self._for_phone(event, stream.number)
        if message is None:
            return
        stream.send(message)
        self.stats.relayed += 1
        settled = settles(message)
        if settled:
            stream.settled(settled)
        if isinstance(event, HeardInCloud) and event.utterance_id in stream.utterances:
            self._on_transcript(stream, event)

    def _for_phone(self, event: CloudEvent, stream: int) -> pb.CloudMessage | None:
        match event:
            case OverlayArrival(overlay=overlay, hops=hops):
                origin, query_id = self._frame(overlay.frame_seq, stream), self._query(overlay.query_id, stream)
                if origin is None or query_id is None:
                    return None
                record = overlay_to_wire(replace(overlay, frame_seq=origin.seq, query_id=query_id),
                                        replace(hops, capture_ns=origin.capture_ns))
                return pb.CloudMessage(overlay=record)
            case Answer() | TraceStep():
                query_id = self._query(event.query_id, stream)
                if not query_id:
                    return None
                origin = self._frame(event.frame_seq, stream)
                mapped = replace(event, query_id=query_id, frame_seq=0 if origin is None else origin.seq)
                if isinstance(mapped, Answer):
                    return pb.CloudMessage(answer=answer_to_wire(mapped))
                return pb.CloudMessage(trace=trace_to_wire(mapped))
            case CloudErrorReport():
                return self._error_for_phone(event, stream)
            case HeardInCloud():
                return pb.CloudMessage(utterance=pb.Utterance(
                    text=event.text, start_ns=event.start_ns, end_ns=event.end_ns, confidence=event.confidence,
                    language=event.language, utterance_id=event.utterance_id))
        return None  # Welcome and FlowControl are the edge's own business

    def _error_for_phone(self, report: CloudErrorReport, stream: int) -> pb.CloudMessage | None:
        query_id = self._query(report.query_id, stream)
        origin = self._frame(report.frame_seq, stream) if report.frame_seq else None
        if query_id is None and report.query_id:
            return None   # another asker's question
        if report.frame_seq and origin is None and not report.query_id:
            return None   # a frame the phone did not push
        frame_seq = 0 if origin is None else origin.seq
        return pb.CloudMessage(error=error_to_wire(replace(report, query_id=query_id or "", frame_seq=frame_seq)))

    def _frame(self, edge_seq: int, stream: int) -> PushedFrameRef | None:
        origin = self.source.origin(edge_seq)
        return origin if origin is not None and origin.stream == stream else None

    def _query(self, edge_query_id: str, stream: int) -> str | None:
        """The phone's id for an edge query id ("" stays ""), or None when the question was not this phone's."""
        if not edge_query_id:
            return ""
        asked = self._queries.get(edge_query_id)
        return asked[1] if asked is not None and asked[0] == stream else None


def read_ingest_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise IngestError(f"ingest.token_file {path}: cannot read: {exc.strerror}") from exc
    if not token:
        raise IngestError(f"ingest.token_file {path}: the file is empty")
    return token


async def _refuse(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("ServicerContext.abort returns only by raising")
