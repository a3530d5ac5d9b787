"""Real faces through every path out of the edge, against a real recording cloud on loopback: the keyframes the
cloud keeps (gRPC and WebRTC), the WebRTC preview track as ``/api/sessions/{id}/preview`` serves it and as a
watching viewer receives it, the edge's and the cloud's recordings, and the phone push-ingest path. Each face
must arrive destroyed (``faces.surviving_faces``); with privacy explicitly off, the same criterion sees them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.session.sessions import Session
from eyeline.devices.base import Image
from eyeline.devices.profiles import WEBCAM
from eyeline.edge.app import EdgeAppOptions, EdgeRunReport, run_edge
from eyeline.edge.daemon.service import EdgeDaemon
from eyeline.edge.runtime import EdgeConfig
from eyeline.protos.privacy import FaceRedactor
from eyeline.tools.phone_client import PhoneOptions, jpeg_bytes, run_phone

from ..browser.waiting import wait_until
from .faces import bystander_frame, decoded, finished_recording, recorded_camera, surviving_faces, write_png
from .test_push_ingest import PHONE_TOKEN, ingest_config, running

LIT = 60.0   # mean brightness above which a video frame shows the picture, not the black before the first frame


@pytest.fixture
async def http(recording_cloud: CloudServer) -> AsyncIterator[HttpServer]:
    server = HttpServer(recording_cloud.cloud)
    await server.start()
    yield server
    await server.stop()


def test_the_criterion_tells_a_passed_face_from_a_destroyed_one() -> None:
    frame, boxes = bystander_frame()
    small = cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA)
    passed = decoded(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 30])[1].tobytes())
    assert len(surviving_faces(frame, passed, boxes)) == 2 * len(boxes), "both signs, for every face"
    redaction = FaceRedactor().redact(frame)
    assert len(redaction.faces) == len(boxes)
    assert surviving_faces(frame, redaction.image, boxes) == []


async def _live_session(cloud: CloudServer) -> Session:
    def with_a_frame() -> Session | None:
        live = (cloud.sessions.get(info.session_id) for info in cloud.sessions.active())
        return next((s for s in live if s is not None and s.frame(None) is not None), None)

    await wait_until(lambda: with_a_frame() is not None, 30, "a session with a kept frame")
    session = with_a_frame()
    assert session is not None
    return session


async def _preview(http: HttpServer, session_id: str, token: str) -> Image:
    """The session's preview as the viewer API serves it, once it shows the picture."""
    url = f"{http.url}/api/sessions/{session_id}/preview"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(100):
            async with client.get(url) as response:
                if response.status == 200:
                    image = decoded(await response.read())
                    if image.mean() > LIT:
                        return image
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never showed the picture")


async def _watched(http: HttpServer, session_id: str, token: str) -> Image:
    """A frame of the session's live video as a watching viewer (WHEP-style) receives it, once it shows the picture."""
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        pc.on("track", tracks.put_nowait)
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
        async with aiohttp.ClientSession() as client, client.post(
                f"{http.url}/api/sessions/{session_id}/watch", data=pc.localDescription.sdp,
                headers=headers) as response:
            answer = await response.text()
            assert response.status == 201, answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = await asyncio.wait_for(tracks.get(), 10)
        async with asyncio.timeout(20):
            while True:
                image = np.ascontiguousarray((await track.recv()).to_ndarray(format="bgr24"), dtype=np.uint8)
                if image.mean() > LIT:
                    return image
    finally:
        await pc.close()


def _options(cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path, transport: str,
             redact: bool = True) -> EdgeAppOptions:
    frame, _ = bystander_frame()
    still = write_png(tmp_path / "bystanders.png", frame)
    return EdgeAppOptions(device=f"image:{still}?fps=5&frames=60", cloud=cloud.address, token=signer.mint("edge"),
                          profile=WEBCAM, transport=transport, whip_url=f"{http.url}/whip",
                          record_path=tmp_path / "edge.mcap", video_path=tmp_path / "edge.mp4",
                          config=EdgeConfig(redact_faces=redact))


async def _assert_destroyed(where: str, images: list[Image]) -> None:
    frame, boxes = bystander_frame()
    assert images, f"nothing reached {where}"
    for index, image in enumerate(images):
        problems = await asyncio.to_thread(surviving_faces, frame, image, boxes)
        assert not problems, f"{where}, image {index}: {problems}"


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["grpc", "webrtc"])
async def test_a_face_is_destroyed_on_every_path_out_of_the_edge(
        transport: str, recording_cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    options = _options(recording_cloud, http, signer, tmp_path, transport)
    edge = asyncio.create_task(run_edge(options))
    session = await _live_session(recording_cloud)
    kept = session.frame(None)
    assert kept is not None and kept.redacted, "the cloud is told where faces were destroyed"
    await _assert_destroyed(f"the {transport} keyframe the cloud keeps", [kept.image])
    if transport == "webrtc":
        preview = await _preview(http, session.session_id, options.token)
        await _assert_destroyed("the WebRTC preview at /api/sessions/{id}/preview", [preview])
        await _assert_destroyed("the live video a watching viewer receives",
                                [await _watched(http, session.session_id, options.token)])
    report: EdgeRunReport = await asyncio.wait_for(edge, 60)
    assert report.stats is not None and report.stats.regions_redacted >= 4
    edge_frames = await asyncio.to_thread(recorded_camera, tmp_path / "edge.mcap")
    assert len(edge_frames) == report.stats.captured
    await _assert_destroyed("the edge's recording", edge_frames)
    cloud_recording = await finished_recording(tmp_path / "cloud")
    await _assert_destroyed("the cloud's recording", await asyncio.to_thread(recorded_camera, cloud_recording))


@pytest.mark.slow
async def test_with_privacy_explicitly_off_the_same_criterion_sees_the_faces(
        recording_cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    """The control: what the path tests would have seen before redaction covered the preview track."""
    options = _options(recording_cloud, http, signer, tmp_path, "webrtc", redact=False)
    edge = asyncio.create_task(run_edge(options))
    session = await _live_session(recording_cloud)
    frame, boxes = bystander_frame()
    preview = await _preview(http, session.session_id, options.token)
    problems = await asyncio.to_thread(surviving_faces, frame, preview, boxes)
    await asyncio.wait_for(edge, 60)
    assert len(problems) >= len(boxes), problems


@pytest.mark.slow
async def test_faces_a_phone_pushes_are_destroyed_before_the_edge_records_or_sends_them(
        recording_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    config = replace(ingest_config(recording_cloud.address, tmp_path), redact_faces=True,
                     record_folder=tmp_path / "edge")
    daemon = EdgeDaemon(config, signer.mint("glasses"))
    frame, _ = bystander_frame()
    async with running(daemon) as ingest:
        report = await run_phone(PhoneOptions(ingest, PHONE_TOKEN, fps=4.0, duration_s=3.0),
                                 itertools.repeat(jpeg_bytes(frame)))
        assert report.pushed

        def sent() -> bool:
            daemon.refresh_metrics()
            return daemon.metrics.frames_sent >= 1

        await wait_until(sent, 10, "a keyframe sent to the cloud")
    assert daemon.recording_path is not None
    await _assert_destroyed("the daemon's recording of pushed frames",
                            await asyncio.to_thread(recorded_camera, daemon.recording_path))
    cloud_recording = await finished_recording(tmp_path / "cloud")
    await _assert_destroyed("the cloud's recording of the daemon's keyframes",
                            await asyncio.to_thread(recorded_camera, cloud_recording))
