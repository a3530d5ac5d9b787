"""The cloud's gRPC ingress: a ``grpc.aio`` server with health checking, reflection, session tokens,
explicit message-size limits and graceful shutdown.

The ``Session/Connect`` handler is registered by hand rather than through the generated servicer so that
requests are parsed by ``wire.parse_edge_message``, which never raises: a malformed message then earns a
typed ``Error`` instead of killing the whole stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import AuthError, TokenClaims, TokenSigner, bearer_token
from eyeline.cloud.knowledge import demo_pack
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.ocr import OcrPool
from eyeline.cloud.perception.speech import SpeechRecognizer
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.reasoning.proactive import ProactiveConfig, ProactiveOfferer
from eyeline.cloud.session.dispatch import Dispatcher
from eyeline.cloud.session.frames import FrameLimits
from eyeline.cloud.session.recorder import CloudRecordingError, CloudSessionRecorder
from eyeline.cloud.session.sessions import Session, SessionLimitError, SessionManager
from eyeline.cloud.skills.base import Skill, SkillRouter
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.noop import NoopSkill
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.cloud.skills.repair import RepairSkill
from eyeline.cloud.skills.shelf.agents import AgentPool
from eyeline.cloud.skills.shelf.passes import ShelfPasses
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Session"].full_name
SERVER_VERSION = "eyeline-cloud/0.1"
# Room for the largest frame plus the rest of its message.
_MESSAGE_OVERHEAD_BYTES = 64 * 1024
_HALF_CLOSE_SETTLE_S = 0.5
# HTTP/2 pings find a peer that vanished without a word (a cut network) within seconds, so its session is
# detached (and its slot can be reused) instead of waiting for TCP to give up.
_KEEPALIVE_OPTIONS = [("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000),
                      ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0),
                      ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
                      ("grpc.http2.max_ping_strikes", 0)]


@dataclass(frozen=True, slots=True)
class CloudConfig:
    host: str = "127.0.0.1"
    port: int = 0                          # 0 = any free port
    max_sessions: int = 32
    frame_limits: FrameLimits = field(default_factory=FrameLimits)
    default_mode: Mode = Mode.INSTANT
    frames_kept: int = 8
    ocr_workers: int = 1
    agent_workers: int = 2                 # processes for Contemplating's sub-agents (0: none, it thinks instead)
    decode_workers: int = 2
    hello_timeout_s: float = 10.0
    frame_skill: str = ""                  # "noop": answer every frame with an empty overlay (benchmarks)
    warm_up: bool = True                   # load the OCR models at start, not at the first question
    tls_cert: Path | None = None           # PEM certificate chain; with tls_key, the port speaks TLS only
    tls_key: Path | None = None
    asr_model: str = ""                    # for edges that send audio: "" = the packaged Whisper base
    proactive: ProactiveConfig = field(default_factory=ProactiveConfig)   # unasked offers, for edges that opt in
    record_dir: Path | None = None         # one MCAP recording per session (gRPC or WebRTC), named after it
    detach_grace_s: float = 30.0           # a session whose gRPC stream broke waits this long to be resumed

    @property
    def max_message_bytes(self) -> int:
        return self.frame_limits.max_bytes * 2 + _MESSAGE_OVERHEAD_BYTES


class CloudServer:
    """Owns the gRPC server, the session manager and the worker pools."""

    def __init__(self, config: CloudConfig, signer: TokenSigner, *,
                 now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.config = config
        self._signer = signer
        self._now_ns = now_ns
        self.sessions = SessionManager(config.max_sessions, config.frames_kept, detach_grace_s=config.detach_grace_s,
                                       new_id=lambda subject: signer.session_id(subject, os.urandom(9).hex()))
        self._reaper: asyncio.Task[None] | None = None
        self._recorders: dict[str, CloudSessionRecorder] = {}   # session id -> its recording (gRPC sessions)
        self._ocr = OcrPool(workers=config.ocr_workers)
        self._decode_pool = ThreadPoolExecutor(config.decode_workers, thread_name_prefix="decode")
        pack = demo_pack()
        self._router = SkillRouter([GuardrailSkill(), ProteinRankingSkill(pack.products), ReadTextSkill(),
                                    RepairSkill(pack.kits)])
        # Worker processes start at the first Contemplating question, each loading its own OCR engine once.
        self._agents = AgentPool(config.agent_workers) if config.agent_workers > 0 else None
        planner = Planner(ShelfPasses(pack.products, self._ocr, self._agents))
        self._dispatcher = Dispatcher(self._router, self._ocr, self._decode_pool, limits=config.frame_limits,
                                      now_ns=now_ns, frame_skill=_frame_skill(config.frame_skill), planner=planner,
                                      speech=SpeechRecognizer(config.asr_model),
                                      proactive=ProactiveOfferer(self._router, config.proactive, now_ns=now_ns))
        self._health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._warming: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def start(self) -> None:
        limit = self.config.max_message_bytes
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                          ("grpc.max_send_message_length", limit), *_KEEPALIVE_OPTIONS])
        handler = grpc.stream_stream_rpc_method_handler(
            self._connect, request_deserializer=wire.parse_edge_message,
            response_serializer=pb.CloudMessage.SerializeToString)
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE_NAME, {"Connect": handler})])
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection([SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
        self.port = await self._bind(server)
        await server.start()
        self._server = server
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.config.warm_up:
            self._warming = asyncio.create_task(self._ocr.warm_up(), name="ocr-warm-up")
        self._reaper = asyncio.create_task(self._reap_detached(), name="session-reaper")
        log.info("cloud listening on %s", self.address)

    async def _reap_detached(self) -> None:
        """Close detached sessions whose grace ran out."""
        while True:
            await asyncio.sleep(min(1.0, max(0.05, self.config.detach_grace_s / 4)))
            for session in self.sessions.expire(self._now_ns()):
                log.info("session %s was not resumed in time; closed", session.session_id)
                await session.close()

    async def _bind(self, server: grpc.aio.Server) -> int:
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls_cert is None and self.config.tls_key is None:
            return int(server.add_insecure_port(address))
        credentials = await asyncio.to_thread(_server_credentials, self.config.tls_cert, self.config.tls_key)
        return int(server.add_secure_port(address, credentials))

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop taking sessions, tell live ones the cloud is going, let them finish within ``grace_s``."""
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        self.sessions.end_all(wire.error("shutting_down", "the cloud is shutting down; reconnect later",
                                         retryable=True))
        await self._server.stop(grace_s)
        self._server = None
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        await self.sessions.close_detached()
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
        self._ocr.close()
        if self._dispatcher.speech is not None:
            self._dispatcher.speech.close()
        if self._agents is not None:
            self._agents.close()
        self._decode_pool.shutdown(wait=False, cancel_futures=True)

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    # ------------------------------------------------------------------ the session stream

    async def _connect(self, requests: AsyncIterator[pb.EdgeMessage | wire.MalformedIn],
                       context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CloudMessage]:
        hello, claims = await self._authenticate(requests, context)
        session, greeting = await self._attach(hello, claims, context)
        attachment = session.attachments
        session.stream_task = asyncio.current_task()
        recorder = await self._session_recorder(session)
        finished = asyncio.Event()   # set when the edge said Goodbye
        reader = asyncio.create_task(self._read(requests, session, recorder, finished))
        broke = True
        try:
            if greeting is not None:
                yield greeting
            while (message := await session.outbound.get()) is not None:
                if recorder is not None:
                    recorder.record_out(message)
                yield message
            broke = False
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await self._release(session, attachment, broke=broke and not finished.is_set())

    async def _release(self, session: Session, attachment: int, *, broke: bool) -> None:
        """A stream ended: a clean end closes the session (cancelling its work); a broken one detaches it, for
        the edge to resume; a stream another one took over leaves the session to it."""
        if session.attachments != attachment:
            return
        if broke and self._server is not None:
            self.sessions.detach(session, self._now_ns())
            log.info("session %s detached: its stream broke", session.session_id)
            return
        await self.sessions.close(session)

    async def _attach(self, hello: wire.HelloIn, claims: TokenClaims,
                      context: grpc.aio.ServicerContext) -> tuple[Session, pb.CloudMessage | None]:
        """The session for this stream: the one Hello resumes, if held, with the Welcome to send first (its
        queued messages follow); else a new one, its Welcome already queued."""
        if hello.resume_session_id:
            held = self.sessions.reattach(hello.resume_session_id, claims.subject)
            if held is not None:
                if held.stream_task is not None and held.stream_task is not asyncio.current_task():
                    held.stream_task.cancel()   # the old stream is dead but not yet noticed: this one takes over
                log.info("session %s resumed (stream %d)", held.session_id, held.attachments)
                return held, self._welcome(held, resumed=True)
        try:
            return await self.open_session(hello, claims), None
        except SessionLimitError as exc:
            await _refuse(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))

    def _welcome(self, session: Session, *, resumed: bool = False, state_lost: bool = False) -> pb.CloudMessage:
        limits = self.config.frame_limits
        return wire.welcome(session.session_id, SERVER_VERSION, limits.max_bytes, limits.max_pixels, session.mode,
                            self._router.names(), resumed=resumed, state_lost=state_lost)

    async def _session_recorder(self, session: Session) -> CloudSessionRecorder | None:
        """A gRPC session's one recording: started with its first stream, carried on by the streams that resume
        it, closed with the session."""
        if session.attachments > 1:
            return self._recorders.get(session.session_id)
        recorder = await self.start_recording(session)
        if recorder is not None:
            self._recorders[session.session_id] = recorder

            async def close() -> None:
                self._recorders.pop(session.session_id, None)
                await asyncio.to_thread(recorder.close)

            session.on_close(close)
        return recorder

    async def start_recording(self, session: Session) -> CloudSessionRecorder | None:
        """The session's recorder when recording is on, whatever the transport; a recording that cannot start
        never costs the session."""
        if self.config.record_dir is None:
            return None
        info = {"session_id": session.session_id, "profile": session.info.profile_name}
        path = await asyncio.to_thread(_unused_path, self.config.record_dir, session.session_id)
        recorder = CloudSessionRecorder(path, info, self._now_ns)
        try:
            await asyncio.to_thread(recorder.open)
        except CloudRecordingError as exc:
            log.error("session %s is not recorded: %s", session.session_id, exc)
            return None
        return recorder

    async def _authenticate(self, requests: AsyncIterator[pb.EdgeMessage | wire.MalformedIn],
                            context: grpc.aio.ServicerContext) -> tuple[wire.HelloIn, TokenClaims]:
        metadata_token = bearer_token(context.invocation_metadata())
        try:
            if metadata_token is not None:
                self._signer.verify(metadata_token)
            first = await asyncio.wait_for(anext(requests), self.config.hello_timeout_s)
        except AuthError as exc:
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except (TimeoutError, StopAsyncIteration):
            await _refuse(context, grpc.StatusCode.DEADLINE_EXCEEDED, "no Hello arrived to open the session")
        hello = wire.edge_event(first)
        if not isinstance(hello, wire.HelloIn):
            await _refuse(context, grpc.StatusCode.FAILED_PRECONDITION, "the first message must be Hello")
        token = hello.token or metadata_token or ""
        if metadata_token is not None and hello.token and hello.token != metadata_token:
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, "Hello and metadata carry different tokens")
        try:
            return hello, self._signer.verify(token)
        except AuthError as exc:
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, str(exc) if token else "no session token")

    async def open_session(self, hello: wire.HelloIn, claims: TokenClaims) -> Session:
        """Open a session for an authenticated Hello and queue its Welcome, whatever the transport."""
        mode = hello.mode or self.config.default_mode
        # An id this cloud issued but no longer holds (it restarted): the session continues under it, its
        # state lost, and the Welcome says so.
        continued = bool(hello.resume_session_id) and self._signer.issued_session_id(hello.resume_session_id,
                                                                                      claims.subject)
        session = self.sessions.open(claims.subject, hello.profile_name, mode, self._now_ns(),
                                     session_id=hello.resume_session_id if continued else "")
        session.capabilities = hello.capabilities
        await session.send(self._welcome(session, resumed=continued, state_lost=continued))
        log.info("session %s opened for %s (%s)", session.session_id, claims.subject, hello.profile_name)
        return session

    @property
    def dispatcher(self) -> Dispatcher:
        return self._dispatcher

    @property
    def signer(self) -> TokenSigner:
        return self._signer

    async def _read(self, requests: AsyncIterator[pb.EdgeMessage | wire.MalformedIn], session: Session,
                    recorder: CloudSessionRecorder | None, finished: asyncio.Event) -> None:
        try:
            async for message in requests:
                session.stats.bytes_in += wire.message_size(message)
                if recorder is not None and isinstance(message, pb.EdgeMessage):
                    recorder.record_in(message)
                event = wire.edge_event(message)
                if isinstance(event, wire.OtherIn) and event.kind == "goodbye":
                    finished.set()   # leaving on purpose: nothing to resume, in-flight work is cancelled
                    session.end()
                    return
                await self._dispatcher.handle(session, event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session %s reader failed", session.session_id)
        # The edge's side ended without Goodbye: a half-close (answers to queries already asked still go out,
        # then the stream ends) or a broken stream, which the transport reports by cancelling this task shortly;
        # the pause keeps a broken stream from being taken for a clean end.
        await session.wait_idle()
        await asyncio.sleep(_HALF_CLOSE_SETTLE_S)
        session.end()


def _unused_path(folder: Path, session_id: str) -> Path:
    """``folder/<session id>.mcap``, or ``-2``, ``-3``... after it: a session continued by a restarted cloud
    (its state lost) starts a second recording and never overwrites the first."""
    path, copy = folder / f"{session_id}.mcap", 1
    while path.exists():
        copy += 1
        path = folder / f"{session_id}-{copy}.mcap"
    return path


def _server_credentials(cert: Path | None, key: Path | None) -> grpc.ServerCredentials:
    if cert is None or key is None:
        raise CloudError("TLS needs both a certificate and its private key")
    try:
        return grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    except OSError as exc:
        raise CloudError(f"cannot read TLS file {exc.filename}: {exc.strerror}") from exc


async def _refuse(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    """End the stream with ``code``; the peer sees ``details`` as the reason."""
    await context.abort(code, details)
    raise AssertionError("ServicerContext.abort returns only by raising")


def _frame_skill(name: str) -> Skill | None:
    if not name:
        return None
    if name == "noop":
        return NoopSkill()
    raise CloudError(f"unknown frame skill {name!r}; known: noop")
