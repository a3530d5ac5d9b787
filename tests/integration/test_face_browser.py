"""A browser used as glasses sends its raw camera: the cloud must destroy the faces in it at ingress.

A real aiortc peer does what ``/glasses`` does (a send-only camera track and the ``eyeline`` data channel, offered
to ``/whip?track=keyframes``, then Hello) with real faces in every frame, against a real recording cloud on
loopback. The keyframes the dispatcher keeps (what skills and OCR read), the preview the viewer API serves, the
live video a watching viewer receives and whatever the cloud recorded must all show the faces destroyed."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.ingress.redacted_track import RedactedVideoTrack
from eyeline.devices.base import Image
from eyeline.edge.transport.wire import hello_message

from ..browser.waiting import wait_until
from .faces import (
    assert_destroyed,
    bystander_frame,
    live_session,
    preview_image,
    recorded_camera,
    watched_image,
)
from .helpers import finished_recording, hello

_FPS = 10


class CameraTrack(MediaStreamTrack):
    """A browser's camera pointed at bystanders: the same raw frame, ``_FPS`` times a second."""

    kind = "video"

    def __init__(self, image: Image) -> None:
        super().__init__()
        self._image = image
        self._pts = 0

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(1 / _FPS)
        frame = VideoFrame.from_ndarray(self._image, format="bgr24")
        frame.pts, frame.time_base = self._pts, fractions.Fraction(1, 90_000)
        self._pts += 90_000 // _FPS
        return frame


class BrowserGlasses:
    """What cloud/viewer/glasses.js does, in aiortc."""

    def __init__(self, whip: str, token: str) -> None:
        self.whip = whip
        self.token = token
        self.pc = RTCPeerConnection()

    async def start(self, image: Image) -> None:
        channel = self.pc.createDataChannel("eyeline", ordered=True)
        opened = asyncio.Event()
        channel.on("open", opened.set)
        self.pc.addTransceiver(CameraTrack(image), direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession() as client, client.post(
                f"{self.whip}?track=keyframes", data=self.pc.localDescription.sdp, headers=headers) as response:
            answer = await response.text()
            assert response.status == 201, answer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(opened.wait(), 10)
        channel.send(hello_message(hello("")).SerializeToString())

    async def close(self) -> None:
        await self.pc.close()


@pytest.fixture
async def http(recording_cloud: CloudServer) -> AsyncIterator[HttpServer]:
    server = HttpServer(recording_cloud.cloud)
    await server.start()
    yield server
    await server.stop()


@pytest.mark.slow
async def test_a_browser_cameras_faces_are_destroyed_at_ingress_before_anything_sees_them(
        recording_cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    token = signer.mint("browser")
    frame, _ = bystander_frame()
    glasses = BrowserGlasses(f"{http.url}/whip", token)
    try:
        await glasses.start(frame)
        session = await live_session(recording_cloud)
        kept = session.frame(None)
        assert kept is not None and kept.trace_id.startswith("track-"), "a track frame, decoded at ingress"
        await assert_destroyed("the track keyframe the dispatcher keeps", [kept.image])
        await assert_destroyed("the browser's preview at /api/sessions/{id}/preview",
                                [await preview_image(http, session.session_id, token)])
        await assert_destroyed("the browser's live video a watching viewer receives",
                                [await watched_image(http, session.session_id, token)])
        peer = http.webrtc.peer_of(session.session_id)
        assert peer is not None and isinstance(peer.video, RedactedVideoTrack)
        assert peer.video.regions_redacted >= 4
    finally:
        await glasses.close()
    await wait_until(lambda: not http.webrtc.peers, 10, "the browser's peer to go")
    recording = await finished_recording(tmp_path / "cloud", camera=False)
    # Track frames are not recorded as camera images; whatever camera image the cloud did record is redacted.
    recorded = await asyncio.to_thread(recorded_camera, recording)
    if recorded:
        await assert_destroyed("the cloud's recording of a browser session", recorded)


async def test_the_glasses_page_tells_the_wearer_the_cloud_destroys_faces(http: HttpServer) -> None:
    async with aiohttp.ClientSession() as client, client.get(f"{http.url}/glasses") as response:
        page = await response.text()
    assert response.status == 200
    assert 'id="privacy"' in page and "destroys every" in page and "face" in page
