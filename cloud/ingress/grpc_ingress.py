"""The cloud's gRPC ingress: a ``grpc.aio`` server with health checking, reflection, session tokens,
explicit message-size limits and graceful shutdown, serving the sessions of one ``Cloud``.

The ``Session/Connect`` handler is registered by hand rather than through the generated servicer so that
requests are parsed by ``wire.parse_edge_message``, which never raises: a malformed message then earns a
typed ``Error`` instead of killing the whole stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import AuthError, TokenClaims, bearer_token, session_id_problem
from eyeline.cloud.session.recorder import CloudSessionRecorder, recording_of
from eyeline.cloud.session.sessions import Session, SessionLimitError
from eyeline.protos.v1 import session_pb2 as pb

if TYPE_CHECKING:
    from eyeline.cloud.app import Cloud

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Session"].full_name
_HALF_CLOSE_SETTLE_S = 0.5
# HTTP/2 pings find a peer that vanished without a word (a cut network) within seconds, so its session is
# detached (and its slot can be reused) instead of waiting for TCP to give up.
_KEEPALIVE_OPTIONS = [("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000),
                      ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0),
                      ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
                      ("grpc.http2.max_ping_strikes", 0)]


class GrpcIngress:
    """Owns the gRPC server; sessions, pools and skills are the ``Cloud``'s."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud
        self.config = cloud.config
        self._health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._recorders: dict[str, CloudSessionRecorder] = {}   # session id -> its recording
        self.port = 0

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    @property
    def serving(self) -> bool:
        return self._server is not None

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
        log.info("cloud listening on %s", self.address)

    async def _bind(self, server: grpc.aio.Server) -> int:
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls_cert is None and self.config.tls_key is None:
            return int(server.add_insecure_port(address))
        credentials = await asyncio.to_thread(_server_credentials, self.config.tls_cert, self.config.tls_key)
        return int(server.add_secure_port(address, credentials))

    async def drain(self) -> None:
        """Report NOT_SERVING to health checks: load balancers stop sending new sessions."""
        await self._health.enter_graceful_shutdown()

    async def stop(self, grace_s: float = 2.0) -> None:
        """Let streams finish within ``grace_s`` (their sessions were told the cloud is going), then stop."""
        if self._server is None:
            return
        await self._server.stop(grace_s)
        self._server = None

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    # ------------------------------------------------------------------ the session stream

    async def _connect(self, requests: AsyncIterator[pb.EdgeMessage | wire.MalformedIn],
                       context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CloudMessage]:
        hello, claims = await self._authenticate(requests, context)
        session, greeting = await self._attach(hello, claims, context)
        attachment = session.attachments
        stream = asyncio.current_task()
        session.end_stream = stream.cancel if stream is not None else None
        recorder = await self._session_recorder(session)
        reader = asyncio.create_task(self._read(requests, session, recorder))
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
            await self._release(session, attachment, broke=broke and not session.finished)

    async def _release(self, session: Session, attachment: int, *, broke: bool) -> None:
        """A stream ended: a clean end closes the session (cancelling its work); a broken one detaches it, for
        the edge to resume; a stream another one took over leaves the session to it."""
        if session.attachments != attachment:
            return
        if broke and self._server is not None:
            self._cloud.sessions.detach(session, self._cloud.clock.now_ns())
            log.info("session %s detached: its stream broke", session.session_id)
            return
        await self._cloud.sessions.close(session)

    async def _attach(self, hello: wire.HelloIn, claims: TokenClaims,
                      context: grpc.aio.ServicerContext) -> tuple[Session, pb.CloudMessage | None]:
        """The session for this stream: the one Hello resumes, if held, with the Welcome to send first (its
        queued messages follow); else a new one, its Welcome already queued."""
        held = self._cloud.resume(hello, claims)
        if held is not None:
            return held, self._cloud.welcome(held, resumed=True)
        try:
            return await self._cloud.open_session(hello, claims), None
        except SessionLimitError as exc:
            await _refuse(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))

    async def _session_recorder(self, session: Session) -> CloudSessionRecorder | None:
        """A gRPC session's one recording: started with its first stream, carried on by the streams that resume
        it, closed with the session."""
        if session.attachments > 1:
            return self._recorders.get(session.session_id)
        recorder = await self._cloud.start_recording(session)
        if recorder is not None:
            self._recorders[session.session_id] = recorder

            async def close() -> None:
                self._recorders.pop(session.session_id, None)
                await asyncio.to_thread(recorder.close)

            session.on_close(close)
        return recorder

    async def _authenticate(self, requests: AsyncIterator[pb.EdgeMessage | wire.MalformedIn],
                            context: grpc.aio.ServicerContext) -> tuple[wire.HelloIn, TokenClaims]:
        metadata_token = bearer_token(context.invocation_metadata())
        try:
            if metadata_token is not None:
                self._cloud.signer.verify(metadata_token)
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
            claims = self._cloud.signer.verify(token)
        except AuthError as exc:
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, str(exc) if token else "no session token")
        if not claims.may_publish:
            await _refuse(context, grpc.StatusCode.PERMISSION_DENIED,
                          f"a {claims.role.value} token may view sessions but not open one")
        if (problem := session_id_problem(hello.resume_session_id)) is not None:
            await _refuse(context, grpc.StatusCode.INVALID_ARGUMENT, f"Hello.resume_session_id: {problem}")
        return hello, claims

    async def _read(self, requests: AsyncIterator[pb.EdgeMessage | wire.MalformedIn], session: Session,
                    recorder: CloudSessionRecorder | None) -> None:
        try:
            async for message in requests:
                session.stats.bytes_in += wire.message_size(message)
                await self._cloud.dispatcher.handle(session, wire.edge_event(message),
                                                    record=recording_of(message, recorder))
                if session.finished:
                    return   # the edge said Goodbye: the dispatcher ended the session, and with it this stream
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
