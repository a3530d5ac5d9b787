"""Limits a client cannot talk its way past, over real gRPC, WHIP and WebRTC on loopback: WHIP offers per subject
and overall before any session opens, a resume that takes a live session over instead of opening a second one
(on either transport, from either transport), and one question length on every transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiortc import RTCPeerConnection

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpConfig, HttpServer
from eyeline.cloud.ingress.webrtc_peer import WebRtcConfig
from eyeline.cloud.session.dispatch import MAX_QUESTION_CHARS
from eyeline.edge.messages import CloudErrorReport
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import Uplink
from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
from eyeline.protos.v1 import session_pb2 as pb

from ..browser.waiting import wait_until
from .helpers import Session, hello, jpeg_frame


@pytest.fixture
async def offer() -> str:
    """A real WHIP offer (data channel), as an edge sends it."""
    pc = RTCPeerConnection()
    pc.createDataChannel("eyeline")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


@pytest.fixture
async def small_http(cloud: CloudServer) -> AsyncIterator[HttpServer]:
    """WHIP that takes at most 2 peers per subject and 3 in all."""
    server = HttpServer(cloud.cloud, HttpConfig(webrtc=WebRtcConfig(peers_per_subject=2, max_peers=3)))
    await server.start()
    yield server
    await server.stop()


async def _post(http: HttpServer, sdp: str, token: str, method: str = "POST", path: str = "/whip") -> tuple[int, str,
                                                                                                           str]:
    """Status, body and Location of a WHIP request; a refusal's Location slot holds its Retry-After instead."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    async with aiohttp.ClientSession() as client, client.request(method, f"{http.url}{path}", data=sdp,
                                                                 headers=headers) as response:
        where = response.headers.get("Location" if response.status < 400 else "Retry-After", "")
        return response.status, await response.text(), where


async def test_whip_offers_are_bounded_per_subject_and_overall_before_any_session_opens(
        small_http: HttpServer, signer: TokenSigner, offer: str) -> None:
    ana, bo, cara = signer.mint("ana"), signer.mint("bo"), signer.mint("cara")
    # Offers that arrive together are counted while they are answered, not only once they are peers.
    answers = await asyncio.gather(*(_post(small_http, offer, ana) for _ in range(5)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201, 201, 429, 429, 429]
    assert all("its limit of 2" in text for status, text, _ in answers if status == 429)
    # A limit that frees itself says when to come back.
    assert all(retry_after.isdigit() for status, _, retry_after in answers if status == 429)
    assert (await _post(small_http, offer, bo))[0] == 201
    status, text, retry_after = await _post(small_http, offer, cara)
    assert status == 503 and "limit of 3 WebRTC peers" in text and int(retry_after) > 0
    assert len(small_http.webrtc.peers) == 3
    # A peer ended frees its place.
    location = next(where for status, _, where in answers if status == 201)
    assert (await _post(small_http, "", ana, method="DELETE", path=location))[0] == 200
    assert (await _post(small_http, offer, cara))[0] == 201


def _uplink(kind: str, cloud: CloudServer, http: HttpServer) -> Uplink:
    if kind == "grpc":
        return GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
    return WebRtcUplink(WebRtcOptions(f"{http.url}/whip"))


@pytest.fixture
async def one_session_cloud(signer: TokenSigner) -> AsyncIterator[tuple[CloudServer, HttpServer]]:
    """A cloud that holds one session at most, with WHIP beside it."""
    cloud = CloudServer(CloudConfig(port=0, warm_up=False, max_sessions=1), signer)
    await cloud.start()
    http = HttpServer(cloud.cloud)
    await http.start()
    yield cloud, http
    await http.stop()
    await cloud.stop(grace_s=0.5)


@pytest.mark.parametrize(("first", "second"), [("webrtc", "webrtc"), ("grpc", "webrtc"), ("webrtc", "grpc"),
                                               ("grpc", "grpc")])
async def test_resuming_a_live_session_takes_it_over_and_never_opens_a_second_one(
        one_session_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner, first: str, second: str) -> None:
    cloud, http = one_session_cloud
    token = signer.mint("glasses")
    old = _uplink(first, cloud, http)
    welcome = await old.open(hello(token))
    await old.push_frame(jpeg_frame(1))
    held = cloud.sessions.get(welcome.session_id)
    assert held is not None
    await wait_until(lambda: held.stats.frames_received == 1, 10, "the first frame")
    new = _uplink(second, cloud, http)
    try:
        # At its limit of one session, the cloud still lets the session's own subject take it over.
        greeting = await new.open(replace(hello(token), resume_session_id=welcome.session_id, last_frame_seq=1))
        assert (greeting.session_id, greeting.resumed, greeting.state_lost) == (welcome.session_id, True, False)
        assert [s.session_id for s in cloud.sessions.active()] == [welcome.session_id]
        assert cloud.sessions.get(welcome.session_id) is held and held.attachments == 2
        # The stream that carried it is gone: one WebRTC peer at most, and it is the new one's.
        await wait_until(lambda: len(http.webrtc.peers) == (1 if second == "webrtc" else 0), 10, "the old peer to go")
        await new.push_frame(jpeg_frame(2))
        await wait_until(lambda: held.stats.frames_received == 2, 10, "a frame on the new stream")
        assert held.frame(1) is not None and held.frame(2) is not None   # the same session, state and all
    finally:
        await new.aclose()
        await old.aclose()
    await wait_until(lambda: not cloud.sessions.active() and not http.webrtc.peers, 10, "everything to close")


async def test_another_subject_cannot_take_a_session_over(
        one_session_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner) -> None:
    cloud, http = one_session_cloud
    owner = _uplink("webrtc", cloud, http)
    welcome = await owner.open(hello(signer.mint("owner")))
    intruder = _uplink("webrtc", cloud, http)
    try:
        with pytest.raises(Exception, match="limit of 1 sessions"):
            await intruder.open(replace(hello(signer.mint("intruder")), resume_session_id=welcome.session_id))
        held = cloud.sessions.get(welcome.session_id)
        assert held is not None and held.info.subject == "owner" and held.attachments == 1
    finally:
        await intruder.aclose()
        await owner.aclose()


@pytest.mark.parametrize("kind", ["grpc", "webrtc"])
async def test_questions_are_capped_at_the_same_length_on_every_transport(
        kind: str, cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("glasses")
    uplink = _uplink(kind, cloud, http)
    welcome = await uplink.open(hello(token))
    session = Session(uplink)  # type: ignore[arg-type]
    try:
        too_long = "why " * (MAX_QUESTION_CHARS // 4) + "?"
        await uplink.send_message(pb.EdgeMessage(query=pb.Query(query_id="long", text=too_long)))  # type: ignore[attr-defined]
        report = await session.next(CloudErrorReport, 10)
        assert isinstance(report, CloudErrorReport)
        assert (report.query_id, report.code) == ("long", "malformed_message")
        assert f"limit of {MAX_QUESTION_CHARS}" in report.message
        # At the limit, the question is taken (no keyframe yet: it is answered with that, not refused).
        at_limit = "w" * MAX_QUESTION_CHARS
        await uplink.send_message(pb.EdgeMessage(query=pb.Query(query_id="fits", text=at_limit)))  # type: ignore[attr-defined]
        report = await session.next(CloudErrorReport, 10)
        assert isinstance(report, CloudErrorReport) and (report.query_id, report.code) == ("fits", "no_frame")
        # The viewer's HTTP query takes the same cap.
        async with aiohttp.ClientSession() as client:
            for text, status in ((too_long, 400), (at_limit, 202)):
                async with client.post(f"{http.url}/api/sessions/{welcome.session_id}/query", json={"text": text},
                                       headers={"Authorization": f"Bearer {token}"}) as response:
                    assert response.status == status, await response.text()
    finally:
        await session.close()
