"""A clean stop loses nothing: every frame an edge handed its uplink before closing it reaches the cloud, which
dispatches and records all of them before the Goodbye behind them ends the session, over gRPC and over WebRTC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.recording import RecordingReader
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
from eyeline.edge.transport.wire import EncodedFrame
from eyeline.protos import recording as layout

from .helpers import finished_recording, hello, jpeg_frame

# More frames than the uplinks queue (8), each a noisy JPEG of ~150 KB: at the stop most are still queued on the
# edge, and over WebRTC the last ones still buffered in the SCTP association.
FRAMES = 16


@pytest.fixture
async def recording_http(recording_cloud: CloudServer) -> AsyncIterator[HttpServer]:
    server = HttpServer(recording_cloud.cloud)
    await server.start()
    yield server
    await server.stop()


def _frames() -> list[EncodedFrame]:
    noise = np.random.default_rng(7)
    return [jpeg_frame(seq, noise.integers(0, 256, (270, 480, 3), dtype=np.uint8)) for seq in range(1, FRAMES + 1)]


def _recorded_seqs(path: Path) -> list[int]:
    return [m.message.seq for m in RecordingReader(path).messages(frozenset({layout.KEYFRAMES}))]  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["grpc", "webrtc"])
async def test_every_frame_pushed_before_a_clean_stop_is_dispatched_and_recorded_by_the_cloud(
        transport: str, recording_cloud: CloudServer, recording_http: HttpServer, signer: TokenSigner,
        tmp_path: Path) -> None:
    frames = _frames()
    uplink: GrpcUplink | WebRtcUplink
    if transport == "grpc":
        uplink = GrpcUplink(UplinkOptions(recording_cloud.address, connect_timeout_s=5))
    else:
        uplink = WebRtcUplink(WebRtcOptions(f"{recording_http.url}/whip", preview_fps=0))
    welcome = await uplink.open(hello(signer.mint("edge")))
    session = recording_cloud.sessions.get(welcome.session_id)
    assert session is not None
    for frame in frames:
        await uplink.push_frame(frame)
    await uplink.aclose()   # at once, with frames still queued on the edge and in flight

    # Ended by the Goodbye behind the frames, not left for a resume; every frame reached the dispatcher first.
    assert session.finished
    assert recording_cloud.sessions.get(welcome.session_id) is None and not recording_cloud.sessions.detached()
    assert session.stats.frames_received == FRAMES and session.stats.frames_rejected == 0
    path = await finished_recording(tmp_path / "cloud")
    assert _recorded_seqs(path) == [f.seq for f in frames]
