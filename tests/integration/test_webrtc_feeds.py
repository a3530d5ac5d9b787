"""What a session feeds back beyond overlays, over both transports against a real cloud on loopback: bytes
received, per-hop latency of rendered overlays, the viewer's event stream and live video, and keyframes too
large for a data channel message."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator

import aiohttp
import cv2
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.ingress.watch import KEYFRAME, MESSAGE, STATS
from eyeline.cloud.session.sessions import Session as CloudSession
from eyeline.devices.spec import open_device
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import Uplink
from eyeline.edge.transport.webrtc_uplink import FrameTooLargeError, WebRtcOptions, WebRtcUplink
from eyeline.edge.transport.wire import EncodedFrame
from eyeline.protos.v1 import session_pb2 as pb

from ..browser.waiting import wait_until
from .helpers import hello, jpeg_frame


def _uplink(kind: str, cloud: CloudServer, http: HttpServer, preview_fps: float = 0) -> Uplink:
    if kind == "grpc":
        return GrpcUplink(UplinkOptions(cloud.address))
    return WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=preview_fps, preview_width=320))


def _session(cloud: CloudServer, session_id: str) -> CloudSession:
    session = cloud.sessions.get(session_id)
    assert session is not None
    return session


@pytest.mark.parametrize("kind", ["grpc", "webrtc"])
async def test_the_bytes_a_session_receives_are_counted_on_both_transports(
        kind: str, cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    uplink = _uplink(kind, cloud, http)
    welcome = await uplink.open(hello(signer.mint("edge")))
    good = jpeg_frame(1)
    sent = [pb.EdgeMessage(frame=pb.Frame(seq=1, trace_id="t1", data=good.data, width=640, height=360)),
            pb.EdgeMessage(frame=pb.Frame(seq=2, data=b"not an image" * 50)),
            pb.EdgeMessage(query=pb.Query(query_id="q1", text="   "))]
    for message in sent:
        await uplink.send_message(message)  # type: ignore[attr-defined]
    session = _session(cloud, welcome.session_id)
    expected = sum(len(m.SerializeToString()) for m in sent)
    await wait_until(lambda: session.stats.bytes_in >= expected, 10, f"{expected} bytes counted")
    await asyncio.sleep(0.1)
    assert session.stats.bytes_in == expected
    await uplink.aclose()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["grpc", "webrtc"])
async def test_an_answered_overlay_comes_back_rendered_with_all_hops_in_order(
        kind: str, cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    uplink = _uplink(kind, cloud, http)
    welcome = await uplink.open(hello(signer.mint("edge")))
    source = open_device("synthetic:shelf?seed=3&frames=100000")
    runtime = EdgeRuntime(source, uplink, renderer=OverlayRenderer(),
                          config=EdgeConfig(sampling="rate", redact_faces=False, report_interval_s=0.2))
    running = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.wait_for_keyframe(), 20)
        query_id = await runtime.ask("which of these has the most protein?")
        answer = await asyncio.wait_for(runtime.answer(query_id), 60)
        session = _session(cloud, welcome.session_id)
        overlay_id = answer.overlay_id
        await wait_until(lambda: any(r.overlay_id == overlay_id for r in session.latency), 10, "its latency record")
    finally:
        await runtime.stop()
        await asyncio.wait_for(running, 10)
        await uplink.aclose()
    record = next(r for r in session.latency if r.overlay_id == overlay_id)
    times = [record.capture_ns, record.sent_ns, record.received_ns, record.reasoned_ns, record.overlay_sent_ns,
             record.arrived_ns, record.rendered_ns]
    assert record.shared_clock and all(times) and times == sorted(times)
    assert record.received_ns > record.capture_ns  # a real frame, not one stamped on arrival


async def _records(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[int, bytes]]:
    while True:
        kind, length = struct.unpack(">BI", await response.content.readexactly(5))
        yield kind, await response.content.readexactly(length)


async def test_the_event_stream_pushes_a_grpc_sessions_keyframes_and_its_bandwidth(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("viewer")
    uplink = _uplink("grpc", cloud, http)
    welcome = await uplink.open(hello(token))
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as client, \
            client.get(f"{http.url}/api/sessions/{welcome.session_id}/events", headers=headers) as response:
        records = _records(response)
        first_kind, first = await anext(records)
        assert first_kind == STATS and json.loads(first)["bytes_in"] == 0
        frame = jpeg_frame(7, np.full((120, 160, 3), (30, 90, 200), np.uint8))
        await uplink.push_frame(frame)
        seen: dict[int, bytes] = {}
        async with asyncio.timeout(10):
            while KEYFRAME not in seen or json.loads(seen.get(STATS, b"{}")).get("bytes_in", 0) == 0:
                kind, payload = await anext(records)
                seen[kind] = payload
        seq, = struct.unpack(">Q", seen[KEYFRAME][:8])
        image = cv2.imdecode(np.frombuffer(seen[KEYFRAME][8:], np.uint8), cv2.IMREAD_COLOR)
        assert seq == 7 and image.shape == (120, 160, 3)
        assert np.abs(image.astype(int) - (30, 90, 200)).max() < 12
        stats = json.loads(seen[STATS])
        assert stats["bytes_in"] == _session(cloud, welcome.session_id).stats.bytes_in > len(frame.data)
        assert stats["transport_bytes_in"] is None and MESSAGE not in seen
    await uplink.aclose()


async def _watch(http: HttpServer, session_id: str, token: str) -> tuple[RTCPeerConnection, int, str, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    async with aiohttp.ClientSession() as client, client.post(
            f"{http.url}/api/sessions/{session_id}/watch", data=pc.localDescription.sdp,
            headers=headers) as response:
        return pc, response.status, await response.text(), response.headers.get("Location", "")


async def test_a_viewer_receives_the_live_video_of_a_webrtc_session_and_is_freed(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("viewer")
    edge = _uplink("webrtc", cloud, http, preview_fps=10)
    welcome = await edge.open(hello(token))
    pc, status, answer, location = await _watch(http, welcome.session_id, token)
    assert status == 201, answer
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    track = await asyncio.wait_for(tracks.get(), 10)
    frame = await asyncio.wait_for(track.recv(), 15)
    assert frame.width == 320  # the edge's preview, relayed
    assert len(http.webrtc.viewers) == 1
    async with aiohttp.ClientSession() as client, client.delete(
            f"{http.url}{location}", headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
    assert not http.webrtc.viewers
    await pc.close()
    # A viewer still watching when the edge goes is closed with it.
    pc, status, answer, _ = await _watch(http, welcome.session_id, token)
    assert status == 201 and len(http.webrtc.viewers) == 1
    await edge.aclose()
    await wait_until(lambda: not http.webrtc.viewers and not http.webrtc.peers, 10, "viewer and peer to go")
    await pc.close()


async def test_watching_a_session_without_live_video_is_refused_with_the_reason(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("viewer")
    uplink = _uplink("grpc", cloud, http)
    welcome = await uplink.open(hello(token))
    pc, status, text, _ = await _watch(http, welcome.session_id, token)
    assert status == 409 and "no live video" in text and not http.webrtc.viewers
    await pc.close()
    await uplink.aclose()


def _noise_keyframe(seq: int, width: int, height: int) -> EncodedFrame:
    image = np.random.default_rng(seq).integers(0, 256, (height, width, 3), dtype=np.uint8)
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes()
    return EncodedFrame(seq=seq, trace_id=f"t{seq}", capture_ns=1, data=data, width=width, height=height)


async def test_a_keyframe_over_the_data_channel_limit_is_re_encoded_to_fit(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=0))
    welcome = await uplink.open(hello(signer.mint("edge")))
    big = _noise_keyframe(1, 1024, 768)
    assert len(big.data) > 256 * 1024
    await uplink.push_frame(big)
    session = _session(cloud, welcome.session_id)
    await wait_until(lambda: session.frame(1) is not None, 10, "the re-encoded keyframe")
    assert 0 < session.stats.bytes_in <= 256 * 1024
    kept = session.frame(1)
    assert kept is not None and kept.image.shape[1] * 768 == kept.image.shape[0] * 1024  # same aspect
    await uplink.aclose()


async def test_a_keyframe_that_cannot_fit_raises_a_typed_error(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=0, max_message_bytes=4096 + 2000))
    welcome = await uplink.open(hello(signer.mint("edge")))
    with pytest.raises(FrameTooLargeError, match=r"keyframe 5 .* does not fit"):
        await uplink.push_frame(_noise_keyframe(5, 1280, 960))
    await uplink.push_frame(jpeg_frame(6, np.full((60, 80, 3), 128, np.uint8)))  # the uplink goes on
    session = _session(cloud, welcome.session_id)
    await wait_until(lambda: session.frame(6) is not None, 10, "the next keyframe")
    assert session.frame(5) is None
    await uplink.aclose()
