"""The WebRTC transport against a real cloud on loopback: WHIP signaling, the data channel contract, the
edge's transport choice and fallback, and resources freed when a peer goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.edge.messages import CloudErrorReport, OverlayArrival
from eyeline.edge.transport.connect import TransportOptions, open_uplink
from eyeline.edge.transport.grpc_uplink import GrpcUplink
from eyeline.edge.transport.uplink import UplinkError, parse_ice_server
from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
from eyeline.edge.transport.wire import QueryOut
from eyeline.protos.clock import MonotonicClock
from eyeline.protos.v1 import session_pb2 as pb

from ..browser.waiting import wait_until
from .helpers import hello, jpeg_frame


async def _post_offer(http: HttpServer, body: str, token: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/sdp"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as client, client.post(f"{http.url}/whip", data=body,
                                                               headers=headers) as response:
        return response.status, await response.text()


async def test_a_wrong_or_missing_token_is_refused_before_any_peer_exists(http: HttpServer) -> None:
    forged = TokenSigner(b"another secret of thirty-two bytes!").mint("intruder")
    status, text = await _post_offer(http, "v=0\r\n", forged)
    assert status == 401 and "signature" in text.lower()
    status, text = await _post_offer(http, "v=0\r\n", None)
    assert status == 401 and "no session token" in text
    assert not http.webrtc.peers


@pytest.mark.parametrize(("body", "reason"), [
    ("hello there", "must start with 'v=0'"),
    ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", "no media section"),
    ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "no data channel"),
    ("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=garbage\r\n", "cannot be answered"),
])
async def test_a_garbage_offer_gets_a_400_naming_the_problem(http: HttpServer, signer: TokenSigner, body: str,
                                                             reason: str) -> None:
    status, text = await _post_offer(http, body, signer.mint("edge"))
    assert status == 400, text
    assert reason in text
    assert not http.webrtc.peers


async def test_the_data_channel_carries_the_same_contract_as_grpc(http: HttpServer, cloud: CloudServer,
                                                                  signer: TokenSigner) -> None:
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=0))
    welcome = await uplink.open(hello(signer.mint("edge")))
    assert [s.session_id for s in cloud.sessions.active()] == [welcome.session_id]
    events = aiter(uplink)
    await uplink.push_frame(jpeg_frame(1))
    await uplink.send_message(pb.EdgeMessage(frame=pb.Frame(seq=2, data=b"not an image")))
    await uplink.ask(QueryOut("q1", "   "))
    errors = [await anext(events) for _ in range(2)]
    assert all(isinstance(e, CloudErrorReport) for e in errors)
    assert {e.code for e in errors if isinstance(e, CloudErrorReport)} == {"undecodable_image", "malformed_message"}
    session = cloud.sessions.get(welcome.session_id)
    assert session is not None and session.frame(1) is not None  # the good frame was kept
    await uplink.aclose()
    await wait_until(lambda: not http.webrtc.peers and not cloud.sessions.active(), 5, "peer and session ending")


async def test_a_goodbye_on_the_data_channel_ends_the_session_at_once_and_the_cloud_hangs_up(
        http: HttpServer, cloud: CloudServer, signer: TokenSigner) -> None:
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=0))
    welcome = await uplink.open(hello(signer.mint("edge")))
    try:
        await uplink.push_frame(jpeg_frame(1))
        await uplink.send_message(pb.EdgeMessage(goodbye=pb.Goodbye()))   # said, not closed: no WHIP DELETE
        async with asyncio.timeout(5):
            async for _ in uplink:
                pass   # the Welcome's followers, until the cloud hangs up the data channel
        # Right after: the session is out of the table (not held for a resume), its state dropped, its peer closed.
        assert cloud.sessions.get(welcome.session_id) is None
        assert not cloud.sessions.active() and not cloud.sessions.detached()
        assert not http.webrtc.peers
    finally:
        await uplink.aclose()


async def test_video_track_frames_reach_the_dispatcher_decoded_when_asked_for(
        http: HttpServer, cloud: CloudServer, signer: TokenSigner) -> None:
    http.webrtc.config = type(http.webrtc.config)(track_keyframes_per_s=20.0)
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip?track=keyframes", preview_fps=15, preview_width=320))
    welcome = await uplink.open(hello(signer.mint("edge")))
    session = cloud.sessions.get(welcome.session_id)
    assert session is not None
    await wait_until(lambda: session.frame(None) is not None, 10, "decoded track frame")
    frame = session.frame(None)
    assert frame is not None and frame.image.shape[1] == 320 and frame.trace_id.startswith("track-")
    await uplink.aclose()


async def test_auto_falls_back_to_grpc_when_webrtc_cannot_connect(cloud: CloudServer, signer: TokenSigner) -> None:
    options = TransportOptions("auto", cloud.address, whip_url="http://127.0.0.1:9/whip", ice_timeout_s=1.0)
    uplink, welcome = await open_uplink(options, hello(signer.mint("edge")), clock=MonotonicClock())
    try:
        assert isinstance(uplink, GrpcUplink)
        await uplink.push_frame(jpeg_frame(1))
        assert welcome.session_id in [s.session_id for s in cloud.sessions.active()]
    finally:
        await uplink.aclose()
    strict = TransportOptions("webrtc", cloud.address, whip_url="http://127.0.0.1:9/whip", ice_timeout_s=1.0)
    with pytest.raises(UplinkError, match="WHIP endpoint"):
        await open_uplink(strict, hello(signer.mint("edge")), clock=MonotonicClock())


async def test_a_noop_frame_skill_answers_each_webrtc_frame_with_an_overlay(signer: TokenSigner) -> None:
    from eyeline.cloud.app import CloudConfig

    cloud = CloudServer(CloudConfig(port=0, warm_up=False, frame_skill="noop"), signer)
    await cloud.start()
    http = HttpServer(cloud.cloud)
    await http.start()
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=0))
    try:
        await uplink.open(hello(signer.mint("edge")))
        for seq in (1, 2, 3):
            await uplink.push_frame(jpeg_frame(seq))
        seen = [e.overlay.frame_seq async for e in _take(uplink, 3) if isinstance(e, OverlayArrival)]
        assert seen == [1, 2, 3]
    finally:
        await uplink.aclose()
        await http.stop()
        await cloud.stop(grace_s=0.5)


async def _take(uplink: WebRtcUplink, n: int) -> AsyncIterator[object]:
    count = 0
    async for event in uplink:
        yield event
        count += isinstance(event, OverlayArrival)
        if count == n:
            return


def test_ice_servers_parse_with_and_without_credentials() -> None:
    assert parse_ice_server("stun:stun.example.org:3478").urls == "stun:stun.example.org:3478"
    turn = parse_ice_server("turn:alice:s3cret@turn.example.org:3478")
    assert (turn.urls, turn.username, turn.credential) == ("turn:turn.example.org:3478", "alice", "s3cret")
    with pytest.raises(Exception, match="must look like"):
        parse_ice_server("http://nope")
