"""Sessions belong to their subject, over the real viewer HTTP API, WHIP and gRPC on loopback: every route that
names a session serves it only to a token that may see it (another subject's is a 404, as if it did not exist),
the session list shows only those, asking needs the session's own subject, and only edge tokens publish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import aiohttp
import grpc
import pytest
from aiortc import RTCPeerConnection

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import Role, TokenSigner
from eyeline.cloud.ingress.grpc_ingress import SERVICE_NAME
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.ingress.webrtc_peer import WhipError
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import UplinkError
from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
from eyeline.edge.transport.wire import hello_message

from ..browser.waiting import wait_until
from .helpers import hello, jpeg_frame


@dataclass(frozen=True)
class Owned:
    """A live gRPC session of subject ``ana`` with one kept frame (seq 1), and a second subject's session."""

    ana: str
    bo: str


@pytest.fixture
async def owned(cloud: CloudServer, signer: TokenSigner) -> AsyncIterator[Owned]:
    uplinks = [GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5)) for _ in range(2)]
    ana = await uplinks[0].open(hello(signer.mint("ana")))
    bo = await uplinks[1].open(hello(signer.mint("bo")))
    await uplinks[0].push_frame(jpeg_frame(1))
    session = cloud.sessions.get(ana.session_id)
    assert session is not None
    await wait_until(lambda: session.frame(1) is not None, 10, "ana's frame kept")
    yield Owned(ana.session_id, bo.session_id)
    for uplink in uplinks:
        await uplink.aclose()


async def _request(http: HttpServer, method: str, path: str, token: str) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    body: str | bytes | None = None
    if path.endswith("/query"):
        headers["Content-Type"], body = "application/json", '{"text": "what is this?"}'
    elif path.endswith("/watch"):
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers["Content-Type"], body = "application/sdp", pc.localDescription.sdp
        await pc.close()
    async with aiohttp.ClientSession() as client, client.request(method, f"{http.url}{path}", data=body,
                                                                  headers=headers) as response:
        # The event stream never ends: its status and first bytes are enough.
        payload = await response.content.read(5) if path.endswith("/events") else await response.read()
        return response.status, payload


# What each route answers a token that may see the session (the gRPC session has no live video: 409).
ROUTES = [("GET", "/events", 200), ("GET", "/frames/1", 200), ("GET", "/preview", 200),
          ("POST", "/query", 202), ("POST", "/watch", 409)]


@pytest.mark.parametrize(("method", "route", "allowed"), ROUTES)
async def test_every_session_route_serves_the_owner_and_answers_404_to_another_subject(
        http: HttpServer, signer: TokenSigner, owned: Owned, method: str, route: str, allowed: int) -> None:
    path = f"/api/sessions/{owned.ana}{route}"
    for token in (signer.mint("ana"), signer.mint("ana", role=Role.VIEWER)):
        status, body = await _request(http, method, path, token)
        assert status == allowed, body
    for token in (signer.mint("bo"), signer.mint("bo", role=Role.VIEWER)):
        status, body = await _request(http, method, path, token)
        missing_status, missing = await _request(http, method, f"/api/sessions/no-such-session{route}", token)
        # Exactly as if it did not exist: same status, same words but for the id.
        assert (status, missing_status) == (404, 404)
        assert body.replace(owned.ana.encode(), b"ID") == missing.replace(b"no-such-session", b"ID")


@pytest.mark.parametrize(("method", "route", "allowed"), ROUTES)
async def test_an_admin_sees_every_session_but_asks_only_into_its_own_subject(
        http: HttpServer, signer: TokenSigner, owned: Owned, method: str, route: str, allowed: int) -> None:
    status, body = await _request(http, method, f"/api/sessions/{owned.ana}{route}",
                                  signer.mint("ops", role=Role.ADMIN))
    if route == "/query":
        assert status == 403 and b"not ask" in body
    else:
        assert status == allowed, body


async def test_the_session_list_shows_only_what_the_token_may_see(
        http: HttpServer, signer: TokenSigner, owned: Owned) -> None:
    async def listed(token: str) -> set[str]:
        async with aiohttp.ClientSession() as client, client.get(
                f"{http.url}/api/sessions", headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200
            return {row["session_id"] for row in (await response.json())["sessions"]}

    assert await listed(signer.mint("ana")) == {owned.ana}
    assert await listed(signer.mint("ana", role=Role.VIEWER)) == {owned.ana}
    assert await listed(signer.mint("bo")) == {owned.bo}
    assert await listed(signer.mint("nobody")) == set()
    assert await listed(signer.mint("ops", role=Role.ADMIN)) == {owned.ana, owned.bo}


async def test_live_video_is_relayed_only_to_tokens_that_may_see_the_session(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    edge = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=10, preview_width=320))
    welcome = await edge.open(hello(signer.mint("ana")))
    try:
        await wait_until(lambda: (peer := http.webrtc.peer_of(welcome.session_id)) is not None
                         and peer.video is not None, 10, "the edge's video track")
        path = f"/api/sessions/{welcome.session_id}/watch"
        for token in (signer.mint("bo"), signer.mint("bo", role=Role.VIEWER)):
            assert (await _request(http, "POST", path, token))[0] == 404
        # The relay itself checks too, whoever calls it.
        with pytest.raises(WhipError) as refused:
            await http.webrtc.watch(welcome.session_id, "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
                                    signer.verify(signer.mint("bo")))
        assert refused.value.status == 404 and not http.webrtc.viewers
        for token in (signer.mint("ana", role=Role.VIEWER), signer.mint("ops", role=Role.ADMIN)):
            status, body = await _request(http, "POST", path, token)
            assert status == 201, body
        assert len(http.webrtc.viewers) == 2
        # A viewer is stopped only by the subject that started it.
        admins = next(v for v in http.webrtc.viewers.values() if v.subject == "ops")
        assert (await _request(http, "DELETE", f"/api/watch/{admins.viewer_id}", signer.mint("ana")))[0] == 404
        assert (await _request(http, "DELETE", f"/api/watch/{admins.viewer_id}",
                               signer.mint("ops", role=Role.ADMIN)))[0] == 200
        assert [v.subject for v in http.webrtc.viewers.values()] == ["ana"]
    finally:
        await edge.aclose()


async def test_a_viewer_or_admin_token_cannot_publish_over_grpc_or_whip(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    for role in (Role.VIEWER, Role.ADMIN):
        token = signer.mint("ana", role=role)
        with pytest.raises(UplinkError) as grpc_refusal:
            await GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5)).open(hello(token))
        assert grpc_refusal.value.status == "PERMISSION_DENIED" and "not open" in str(grpc_refusal.value)
        with pytest.raises(UplinkError) as whip_refusal:
            await WebRtcUplink(WebRtcOptions(f"{http.url}/whip")).open(hello(token))
        assert whip_refusal.value.status == "403"
    assert not cloud.sessions.active() and not http.webrtc.peers


async def test_only_the_publishing_subject_ends_its_whip_peer(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    edge = WebRtcUplink(WebRtcOptions(f"{http.url}/whip"))
    await edge.open(hello(signer.mint("ana")))
    try:
        (peer_id,) = http.webrtc.peers
        path = f"/whip/{peer_id}"
        assert (await _request(http, "DELETE", path, signer.mint("bo")))[0] == 404
        assert (await _request(http, "DELETE", path, signer.mint("ana", role=Role.VIEWER)))[0] == 403
        assert (await _request(http, "DELETE", path, signer.mint("ops", role=Role.ADMIN)))[0] == 403
        assert peer_id in http.webrtc.peers
        assert (await _request(http, "DELETE", path, signer.mint("ana")))[0] == 200
        assert peer_id not in http.webrtc.peers
    finally:
        await edge.aclose()


async def _raw_get(http: HttpServer, path: str, authorization: bytes) -> int:
    """A request whose Authorization header carries raw bytes (no client library would send them)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + authorization
                 + b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


@pytest.mark.parametrize("token", ["v1.\u00e9t\u00e9.sig", "\u2603\u2603\u2603"])
async def test_a_non_ascii_token_is_a_401_over_http(http: HttpServer, owned: Owned, token: str) -> None:
    for path in ("/api/sessions", f"/api/sessions/{owned.ana}/preview"):
        assert await _raw_get(http, path, b"Bearer " + token.encode()) == 401
    assert await _raw_get(http, "/api/sessions", b"Bearer v1.\xff\xfe.\x80") == 401


async def _grpc_hello(cloud: CloudServer, message: bytes) -> grpc.StatusCode:
    """Open the session stream with one raw Hello (no metadata), and the status it ends with."""
    async with grpc.aio.insecure_channel(cloud.address) as channel:
        call = channel.stream_stream(f"/{SERVICE_NAME}/Connect", request_serializer=lambda raw: raw,
                                     response_deserializer=lambda raw: raw)(iter([message]))
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            async for _ in call:
                pass
        return ended.value.code()


async def test_a_non_ascii_token_or_resume_id_is_a_typed_refusal_over_grpc(
        cloud: CloudServer, signer: TokenSigner) -> None:
    bad_token = hello_message(hello("v1.\u00e9t\u00e9.sig")).SerializeToString()
    assert await _grpc_hello(cloud, bad_token) == grpc.StatusCode.UNAUTHENTICATED
    for resume_id in ("abc.\u00e9\u00e9\u00e9", "\u2603", "a" * 200):
        bad_resume = hello_message(replace(hello(signer.mint("ana")), resume_session_id=resume_id))
        assert await _grpc_hello(cloud, bad_resume.SerializeToString()) == grpc.StatusCode.INVALID_ARGUMENT
    assert not cloud.sessions.active()


class _SignaledWith(WebRtcUplink):
    """A real WebRTC edge whose WHIP request carries ``whip_token`` whatever its Hello says: how a client would
    put a different token in the data channel Hello."""

    def __init__(self, options: WebRtcOptions, whip_token: str) -> None:
        super().__init__(options)
        self._whip_token = whip_token

    async def _signal(self, offer: str) -> str:
        self._token = self._whip_token
        return await super()._signal(offer)


async def test_a_non_ascii_token_or_resume_id_in_a_data_channel_hello_is_a_typed_refusal(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    good = signer.mint("ana")
    cases = [(hello("v1.\u00e9t\u00e9.sig"), "unauthenticated", "ASCII"),
             (replace(hello(good), resume_session_id="abc.\u00e9\u00e9"), "malformed_message", "ASCII"),
             (replace(hello(good), resume_session_id="x" * 200), "malformed_message", "at most"),
             (hello(signer.mint("ana", role=Role.VIEWER)), "unauthenticated", "not open")]
    for greeting, code, words in cases:
        with pytest.raises(UplinkError) as refused:
            await _SignaledWith(WebRtcOptions(f"{http.url}/whip"), good).open(greeting)
        assert refused.value.status == code and words in str(refused.value)
    assert not cloud.sessions.active()
    await wait_until(lambda: not http.webrtc.peers, 10, "the refused peers to go")


RECORDING_ROUTES = ["", "/frames/1"]


@pytest.mark.parametrize("route", RECORDING_ROUTES)
async def test_a_recording_is_served_to_its_subject_and_is_a_404_to_another(
        recording_cloud: CloudServer, signer: TokenSigner, route: str) -> None:
    http = HttpServer(recording_cloud.cloud)
    await http.start()
    try:
        uplink = GrpcUplink(UplinkOptions(recording_cloud.address, connect_timeout_s=5))
        welcome = await uplink.open(hello(signer.mint("ana")))
        await uplink.push_frame(jpeg_frame(1))
        session = recording_cloud.sessions.get(welcome.session_id)
        assert session is not None
        await wait_until(lambda: session.frame(1) is not None, 10, "ana's frame kept")
        await uplink.aclose()
        await wait_until(lambda: not recording_cloud.sessions.active(), 10, "ana's session to close")
        name = welcome.session_id   # the recording is named after the session
        for token in (signer.mint("ana"), signer.mint("ana", role=Role.VIEWER), signer.mint("ops", role=Role.ADMIN)):
            status, body = await _request(http, "GET", f"/api/recordings/{name}{route}", token)
            assert status == 200, body
        for token in (signer.mint("bo"), signer.mint("bo", role=Role.VIEWER)):
            status, body = await _request(http, "GET", f"/api/recordings/{name}{route}", token)
            missing_status, missing = await _request(http, "GET", f"/api/recordings/no-such-recording{route}", token)
            assert (status, missing_status) == (404, 404)
            assert body.replace(name.encode(), b"ID") == missing.replace(b"no-such-recording", b"ID")
        status, _ = await _request(http, "GET", f"/api/recordings/{name}{route}", "not a token")
        assert status == 401
    finally:
        await http.stop()
