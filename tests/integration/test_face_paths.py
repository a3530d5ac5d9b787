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

import cv2
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.profiles import WEBCAM
from eyeline.edge.app import EdgeAppOptions, EdgeRunReport, run_edge
from eyeline.edge.daemon.service import EdgeDaemon
from eyeline.edge.runtime import EdgeConfig
from eyeline.protos.privacy import FaceRedactor
from eyeline.tools.phone_client import PhoneOptions, jpeg_bytes, run_phone

from ..browser.waiting import wait_until
from .faces import (
    assert_destroyed,
    bystander_frame,
    decoded,
    live_session,
    preview_image,
    recorded_camera,
    surviving_faces,
    watched_image,
    write_png,
)
from .helpers import finished_recording
from .test_push_ingest import PHONE_TOKEN, ingest_config, running


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


def _options(cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path, transport: str,
             redact: bool = True) -> EdgeAppOptions:
    frame, _ = bystander_frame()
    still = write_png(tmp_path / "bystanders.png", frame)
    return EdgeAppOptions(device=f"image:{still}?fps=5&frames=60", cloud=cloud.address, token=signer.mint("edge"),
                          profile=WEBCAM, transport=transport, whip_url=f"{http.url}/whip",
                          record_path=tmp_path / "edge.mcap", video_path=tmp_path / "edge.mp4",
                          config=EdgeConfig(redact_faces=redact))


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["grpc", "webrtc"])
async def test_a_face_is_destroyed_on_every_path_out_of_the_edge(
        transport: str, recording_cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    options = _options(recording_cloud, http, signer, tmp_path, transport)
    edge = asyncio.create_task(run_edge(options))
    session = await live_session(recording_cloud)
    kept = session.frame(None)
    assert kept is not None and kept.redacted, "the cloud is told where faces were destroyed"
    await assert_destroyed(f"the {transport} keyframe the cloud keeps", [kept.image])
    if transport == "webrtc":
        preview = await preview_image(http, session.session_id, options.token)
        await assert_destroyed("the WebRTC preview at /api/sessions/{id}/preview", [preview])
        await assert_destroyed("the live video a watching viewer receives",
                                [await watched_image(http, session.session_id, options.token)])
    report: EdgeRunReport = await asyncio.wait_for(edge, 60)
    assert report.stats is not None and report.stats.regions_redacted >= 4
    edge_frames = await asyncio.to_thread(recorded_camera, tmp_path / "edge.mcap")
    assert len(edge_frames) == report.stats.captured
    await assert_destroyed("the edge's recording", edge_frames)
    cloud_recording = await finished_recording(tmp_path / "cloud", camera=False)
    await assert_destroyed("the cloud's recording", await asyncio.to_thread(recorded_camera, cloud_recording))


@pytest.mark.slow
async def test_with_privacy_explicitly_off_the_same_criterion_sees_the_faces(
        recording_cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    """The control: what the path tests would have seen before redaction covered the preview track."""
    options = _options(recording_cloud, http, signer, tmp_path, "webrtc", redact=False)
    edge = asyncio.create_task(run_edge(options))
    session = await live_session(recording_cloud)
    frame, boxes = bystander_frame()
    preview = await preview_image(http, session.session_id, options.token)
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
    await assert_destroyed("the daemon's recording of pushed frames",
                            await asyncio.to_thread(recorded_camera, daemon.recording_path))
    cloud_recording = await finished_recording(tmp_path / "cloud", camera=False)
    await assert_destroyed("the cloud's recording of the daemon's keyframes",
                            await asyncio.to_thread(recorded_camera, cloud_recording))
