"""The cloud's HTTP side: WHIP signaling for WebRTC peers, and the developer viewer with its small API.

Every route but the static page needs a session token (``Authorization: Bearer``), and every route that names a
session serves it only to a token that may see it (``TokenClaims.may_view``: its own subject's, or any for an
admin); any other session is a 404, exactly as if it did not exist. Asking needs the session's own subject
(``may_ask``: an admin sees others' sessions but gets a 403 asking into them); WHIP needs a token that may
publish (``may_publish``: 403 for a viewer or admin token). The viewer watches a
session through its event stream (``eyeline.cloud.ingress.watch``: the ``CloudMessage`` protobufs it sends, which the
page decodes with the schema served at ``/api/schema``, its keyframes when it has no live video, bandwidth and
per-hop latency), subscribes to a WebRTC session's live video WHEP-style, and can ask in its name.

| route | what |
|---|---|
| ``POST /whip`` (``application/sdp``; ``?track=keyframes``) | 201, the SDP answer, ``Location`` of the peer |
| ``DELETE /whip/{peer}`` | end the peer and its session |
| ``GET /`` , ``/glasses``, ``/static/...`` | the viewer, the browser-as-glasses page |
| ``GET /api/sessions`` | the live sessions this token may see |
| ``GET /api/sessions/{id}/events`` | what the session sends from now on, framed as ``ingress.watch`` says |
| ``POST /api/sessions/{id}/watch`` (``application/sdp``) | 201, the SDP answer of a send-only live-video track, |
|   | ``Location`` to ``DELETE``; 409 for a session without live video (gRPC) |
| ``DELETE /api/watch/{viewer}`` | stop watching |
| ``GET /api/sessions/{id}/frames/{seq}`` , ``/preview`` | a kept frame, the latest video frame, as JPEG |
| ``POST /api/sessions/{id}/query`` (JSON ``text``, ``mode``) | ask about the session's latest keyframe |
| ``GET /api/schema`` | the wire contract's messages as JSON, for the page's protobuf codec |
| ``GET /v1/models``, ``POST /v1/chat/completions`` | the embedded engine as an OpenAI-compatible vision model |
|   | (``eyeline.cloud.ingress.openai_api``) |
| ``GET /api/recordings...`` | the cloud's recordings, played back in the page (``ingress.viewer_api``) |

A frame an overlay was computed on stays served (``/frames/{seq}``) as long as the session's history remembers the
overlay (``eyeline.cloud.session.history``), after the session itself has let it go.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import ssl
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import AuthError, TokenClaims
from eyeline.cloud.ingress.connection import grpc_connection, webrtc_connection
from eyeline.cloud.ingress.openai_api import openai_app
from eyeline.cloud.ingress.viewer_api import RecordingRoutes
from eyeline.cloud.ingress.watch import EventStream, encode_jpeg
from eyeline.cloud.ingress.webrtc import WebRtcIngress
from eyeline.cloud.ingress.webrtc_peer import WebRtcConfig, WhipError, track_image, transport_bytes_in
from eyeline.cloud.model import Mode
from eyeline.cloud.session.dispatch import MAX_QUESTION_CHARS
from eyeline.cloud.session.names import session_name
from eyeline.cloud.session.sessions import Session
from eyeline.protos.v1 import session_pb2 as pb

if TYPE_CHECKING:
    from eyeline.cloud.app import Cloud

log = logging.getLogger(__name__)

_MAX_SDP_BYTES = 64 * 1024
_MAX_QUESTION_BODY_BYTES = 8 * 1024   # a question at its longest, in any script, with room for the JSON around it
# How long a viewer's question may wait to be handed to its session: the session's replies go through a bounded
# queue its edge reads, and an edge that stopped reading must not hold the HTTP request forever.
QUESTION_HANDOFF_S = 5.0
VIEWER_FILES = resources.files("eyeline.cloud") / "viewer"


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 0                  # 0 = any free port
    webrtc: WebRtcConfig = field(default_factory=WebRtcConfig)
    # PEM certificate chain and key: the port speaks HTTPS only (a browser opens the camera only on a secure
    # origin, so a phone on the LAN needs it for /glasses); the same files as the gRPC port's --tls-cert/--tls-key.
    tls_cert: Path | None = None
    tls_key: Path | None = None


def _tls_context(config: HttpConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None and config.tls_key is None:
        return None
    if config.tls_cert is None or config.tls_key is None:
        raise CloudError("HTTPS needs both a certificate and its key (--tls-cert and --tls-key)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise CloudError(f"cannot load the TLS certificate {config.tls_cert} with key {config.tls_key}: {exc}") \
            from exc
    return context


class HttpServer:
    """Serves WHIP and the viewer beside a started ``Cloud``; owns the WebRTC ingress."""

    def __init__(self, cloud: Cloud, config: HttpConfig | None = None) -> None:
        self.config = config or HttpConfig()
        self._cloud = cloud
        self.webrtc = WebRtcIngress(cloud, self.config.webrtc)
        self._runner: web.AppRunner | None = None
        self._queries = itertools.count(1)
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.config.tls_cert is not None else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=_MAX_SDP_BYTES)
        app.add_routes([
            web.post("/whip", self._whip_offer), web.delete("/whip/{peer}", self._whip_delete),
            web.get("/", self._page("viewer.html")), web.get("/glasses", self._page("glasses.html")),
            web.get("/static/{name}", self._static),
            web.get("/api/schema", self._schema), web.get("/api/sessions", self._sessions),
            web.get("/api/sessions/{id}/events", self._events), web.get("/api/sessions/{id}/preview", self._preview),
            web.get("/api/sessions/{id}/frames/{seq}", self._frame), web.post("/api/sessions/{id}/query", self._ask),
            web.post("/api/sessions/{id}/watch", self._watch), web.delete("/api/watch/{viewer}", self._unwatch),
        ])
        app.add_routes(RecordingRoutes(self._cloud.config.record_dir, self._claims).routes())
        app.add_subapp("/v1", openai_app(self._cloud))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        tls = await asyncio.to_thread(_tls_context, self.config)
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=tls)
        await site.start()
        self.port = _bound_port(site)
        log.info("viewer and WHIP listening on %s", self.url)

    async def stop(self) -> None:
        await self.webrtc.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ WHIP

    async def _whip_offer(self, request: web.Request) -> web.Response:
        token = _bearer(request)
        sdp = await _sdp_offer(request)
        try:
            peer_id, answer = await self.webrtc.accept(sdp, token, track_keyframes=_track_keyframes(request))
        except WhipError as exc:
            raise _problem(exc.status, str(exc), retry_after_s=exc.retry_after_s) from exc
        return _sdp_created(answer, f"/whip/{peer_id}")

    async def _whip_delete(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        peer_id = request.match_info["peer"]
        if not claims.may_publish:
            raise _problem(403, f"a {claims.role.value} token cannot end a publishing peer")
        if self.webrtc.owner(peer_id) != claims.subject:
            raise _problem(404, f"no live peer {peer_id} of {claims.subject}")
        await self.webrtc.close(peer_id)
        return web.Response(status=200, text="closed")

    # ------------------------------------------------------------------ viewer

    def _page(self, name: str) -> Any:
        async def page(request: web.Request) -> web.Response:
            text = await asyncio.to_thread((VIEWER_FILES / name).read_text)
            return web.Response(text=text, content_type="text/html")
        return page

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kinds = {".js": "text/javascript", ".css": "text/css"}
        kind = kinds.get(Path(name).suffix)
        resource = VIEWER_FILES / name
        if kind is None or "/" in name or name.startswith(".") or not resource.is_file():
            raise web.HTTPNotFound(text=f"no viewer file {name!r}")
        return web.Response(text=await asyncio.to_thread(resource.read_text), content_type=kind)

    async def _schema(self, request: web.Request) -> web.Response:
        self._claims(request)
        return web.json_response(contract_schema())

    async def _sessions(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        rows = []
        for info in self._cloud.sessions.active():
            if not claims.may_view(info.subject):
                continue
            peer = self.webrtc.peer_of(info.session_id)
            session = self._cloud.sessions.get(info.session_id)
            rows.append({"session_id": info.session_id, "subject": info.subject, "profile": info.profile_name,
                         "name": session_name(info.subject, info.session_id),
                         "opened_ago_s": (self._cloud.clock.now_ns() - info.opened_ns) / 1e9,
                         "transport": "webrtc" if peer else "grpc", "live_video": bool(peer and peer.video),
                         "frames": session.stats.frames_received if session else 0,
                         "bytes_in": session.stats.bytes_in if session else 0})
        return web.json_response({"sessions": rows})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request, self._claims(request))
        peer = self.webrtc.peer_of(session.session_id)

        async def transport_bytes() -> int | None:
            return None if peer is None or peer.closing else await transport_bytes_in(peer.pc)

        async def connection() -> dict[str, Any]:
            return grpc_connection() if peer is None or peer.closing else await webrtc_connection(peer.pc)

        stream = EventStream(session, keyframes=peer is None or peer.video is None, transport_bytes=transport_bytes,
                             clock=self._cloud.clock, connection=connection)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream",
                                               "Cache-Control": "no-store"})
        await response.prepare(request)
        # The viewer going away ends the handler (a failed write, or aiohttp cancelling it); the watcher goes too.
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            await stream.run(response.write)
        return response

    async def _watch(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        session = self._session(request, claims)
        sdp = await _sdp_offer(request)
        try:
            viewer_id, answer = await self.webrtc.watch(session.session_id, sdp, claims)
        except WhipError as exc:
            raise _problem(exc.status, str(exc), retry_after_s=exc.retry_after_s) from exc
        return _sdp_created(answer, f"/api/watch/{viewer_id}")

    async def _unwatch(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        viewer_id = request.match_info["viewer"]
        if self.webrtc.viewer_owner(viewer_id) != claims.subject:
            raise _problem(404, f"no live viewer {viewer_id} of {claims.subject}")
        await self.webrtc.unwatch(viewer_id)
        return web.Response(status=200, text="closed")

    async def _frame(self, request: web.Request) -> web.Response:
        session = self._session(request, self._claims(request))
        try:
            seq = int(request.match_info["seq"])
            frame = session.frame(seq) or session.history.frame(seq)
        except ValueError as exc:
            raise _problem(400, "the frame number must be an integer") from exc
        if frame is None:
            raise _problem(404, f"session {session.session_id} no longer keeps frame {request.match_info['seq']}")
        return _jpeg(await asyncio.to_thread(encode_jpeg, frame.image))

    async def _preview(self, request: web.Request) -> web.Response:
        session = self._session(request, self._claims(request))
        peer = self.webrtc.peer_of(session.session_id)
        if peer is not None and peer.preview is not None:
            image = await asyncio.to_thread(track_image, peer.preview)
        elif (latest := session.frame(None)) is not None:
            image = latest.image
        else:
            raise _problem(404, f"session {session.session_id} has no frame yet")
        return _jpeg(await asyncio.to_thread(encode_jpeg, image))

    async def _ask(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        session = self._session(request, claims)
        if not claims.may_ask(session.info.subject):
            raise _problem(403, f"a {claims.role.value} token may watch session {session.session_id} but not ask "
                                "into another subject's session")
        body = await _json_body(request, _MAX_QUESTION_BODY_BYTES)
        try:
            text = str(body["text"]).strip()
            mode = Mode[str(body.get("mode") or session.mode.name).upper()]
        except (ValueError, KeyError, TypeError) as exc:
            raise _problem(400, "the body must be JSON with 'text' and an optional 'mode' "
                                "(instant, thinking, contemplating)") from exc
        if not text or len(text) > MAX_QUESTION_CHARS:
            raise _problem(400, f"the question must have 1 to {MAX_QUESTION_CHARS} characters")
        query_id = f"viewer-{next(self._queries)}"
        try:
            async with asyncio.timeout(QUESTION_HANDOFF_S):
                await self._cloud.dispatcher.handle(session, wire.QueryIn(query_id, text, mode, None))
        except TimeoutError:
            raise _problem(503, f"session {session.session_id} is not taking replies (its edge is not reading "
                                "them); ask again later") from None
        return web.json_response({"query_id": query_id}, status=202)

    # ------------------------------------------------------------------ helpers

    def _claims(self, request: web.Request) -> TokenClaims:
        try:
            return self._cloud.signer.verify(_bearer(request))
        except AuthError as exc:
            raise _problem(401, str(exc)) from exc

    def _session(self, request: web.Request, claims: TokenClaims) -> Session:
        """The session the route names, if ``claims`` may see it; otherwise the same 404 as for no session, so a
        token learns nothing of other subjects' sessions, not even that they exist."""
        session = self._cloud.sessions.get(request.match_info["id"])
        if session is None or not claims.may_view(session.info.subject):
            raise _problem(404, f"no live session {request.match_info['id']}")
        return session


async def _sdp_offer(request: web.Request) -> str:
    """The body of a WHIP/WHEP POST: an SDP offer as text, or a 415/400 that says what is wrong with it."""
    if request.content_type != "application/sdp":
        raise _problem(415, f"the offer must be sent as application/sdp, not {request.content_type}")
    try:
        return await request.text()
    except (UnicodeDecodeError, LookupError) as exc:   # LookupError: a charset Python does not know
        raise _problem(400, f"the SDP offer is not text in its charset ({type(exc).__name__})") from exc


async def _json_body(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """A small JSON object body, or a 413/400 that says what is wrong with it; never a 500, however it nests."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _problem(413, f"the body is {request.content_length} bytes; the limit is {max_bytes}")
    raw = await request.read()   # the application's client_max_size bounds it first
    if len(raw) > max_bytes:
        raise _problem(413, f"the body is over the limit of {max_bytes} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:   # RecursionError: arrays or objects nested past the parser
        raise _problem(400, f"the body is not JSON: {type(exc).__name__}") from exc
    if not isinstance(body, dict):
        raise _problem(400, f"the body must be a JSON object, not {type(body).__name__}")
    return body


def _sdp_created(answer: str, location: str) -> web.Response:
    return web.Response(status=201, text=answer, content_type="application/sdp", headers={"Location": location})


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _problem(401, "no session token: send 'Authorization: Bearer <token>'")
    return token.strip()


def _track_keyframes(request: web.Request) -> bool:
    return request.query.get("track") == "keyframes"


def _problem(status: int, message: str, *, retry_after_s: int | None = None) -> web.HTTPException:
    headers = {"WWW-Authenticate": 'Bearer realm="eyeline"'} if status == 401 else {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    error = web.HTTPException(text=message, headers=headers)
    error.set_status(status)
    return error


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the asyncio server private; it is the only way to learn port 0
    assert isinstance(server, asyncio.base_events.Server)
    return int(server.sockets[0].getsockname()[1])


def _jpeg(data: bytes) -> web.Response:
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ the contract for the page

def contract_schema() -> dict[str, Any]:
    """Every message and enum of ``eyeline.v1`` by field number, enough for a small protobuf codec."""
    messages: dict[str, Any] = {}
    enums: dict[str, dict[str, int]] = {}
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        _collect(message, messages, enums)
    for enum in pb.DESCRIPTOR.enum_types_by_name.values():
        enums[enum.name] = _enum(enum)
    return {"messages": messages, "enums": enums}


def _collect(message: Descriptor, messages: dict[str, Any], enums: dict[str, dict[str, int]]) -> None:
    messages[message.name] = {str(f.number): _field(f) for f in message.fields}
    for nested in message.enum_types:
        enums[nested.name] = _enum(nested)


def _enum(enum: EnumDescriptor) -> dict[str, int]:
    return {value.name: value.number for value in enum.values}


_SCALARS = {FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BYTES: "bytes",
            FieldDescriptor.TYPE_FLOAT: "float", FieldDescriptor.TYPE_DOUBLE: "double",
            FieldDescriptor.TYPE_BOOL: "bool", FieldDescriptor.TYPE_INT64: "int64",
            FieldDescriptor.TYPE_UINT64: "uint64", FieldDescriptor.TYPE_INT32: "int32",
            FieldDescriptor.TYPE_UINT32: "uint32", FieldDescriptor.TYPE_ENUM: "enum",
            FieldDescriptor.TYPE_MESSAGE: "message"}


def _field(f: FieldDescriptor) -> dict[str, Any]:
    kind = _SCALARS.get(f.type)
    if kind is None:
        raise RuntimeError(f"the page codec has no support for field {f.full_name} of type {f.type}")
    out: dict[str, Any] = {"name": f.name, "type": kind, "repeated": f.is_repeated}
    if f.message_type is not None:
        out["message"] = f.message_type.name
    return out
