"""Recording over the WebRTC transport: the edge records what it records over gRPC, the cloud records its WebRTC
sessions like its gRPC ones, and a WebRTC recording replays to the same answers as the live run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.recording import RecordingReader
from eyeline.edge.app import EdgeAppOptions, run_edge
from eyeline.protos import recording as layout
from eyeline.tools.replay import ReplayOptions, read_script, replay_session

from .helpers import finished_recording
from .test_recording import overlay_view

QUESTION = "which of these has the most protein?"


@pytest.fixture
async def http(recording_cloud: CloudServer) -> AsyncIterator[HttpServer]:
    server = HttpServer(recording_cloud.cloud)
    await server.start()
    yield server
    await server.stop()


def _messages(path: Path, topic: str) -> list[object]:
    return [m.message for m in RecordingReader(path).messages(frozenset({topic}))]


@pytest.mark.slow
async def test_a_webrtc_session_is_recorded_by_edge_and_cloud_and_replays_to_the_same_answers(
        recording_cloud: CloudServer, http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    edge_path = tmp_path / "edge.mcap"
    options = EdgeAppOptions(device="synthetic:shelf?seed=1&fps=5", cloud=recording_cloud.address,
                             token=signer.mint("live"), profile=WEBCAM, question=QUESTION,
                             video_path=tmp_path / "live.mp4", record_path=edge_path, transport="webrtc",
                             whip_url=f"{http.url}/whip")
    report = await run_edge(options)
    assert report.answer is not None

    # The edge's recording holds what a gRPC one holds: frames sent, the query, the overlays with their hops.
    live = await asyncio.to_thread(read_script, edge_path)
    assert len(live.sent) >= 2
    assert [q.text for q in live.queries] == [QUESTION]
    assert live.answers[report.answer.query_id].text == report.answer.text
    hops = await asyncio.to_thread(_messages, edge_path, layout.HOPS)
    assert hops and all(h.hops.capture_ns and h.hops.received_ns for h in hops)  # type: ignore[attr-defined]

    # The cloud recorded the WebRTC session: every frame the edge sent, as received, and the answer it sent.
    cloud_path = await finished_recording(tmp_path / "cloud")
    received = await asyncio.to_thread(_messages, cloud_path, layout.KEYFRAMES)
    assert [m.seq for m in received] == [f.seq for f in live.sent]  # type: ignore[attr-defined]
    answers = await asyncio.to_thread(_messages, cloud_path, layout.ANSWERS)
    assert [a.text for a in answers if a.final] == [report.answer.text]  # type: ignore[attr-defined]
    assert await asyncio.to_thread(_messages, cloud_path, layout.HOPS)

    # Replayed (over WebRTC again, and recorded again): the same answers and overlays over the same frames.
    replay_path = tmp_path / "replay.mcap"
    run = await replay_session(live, ReplayOptions(recording_cloud.address, signer.mint("replay"), fast=True,
                                                   transport="webrtc", whip_url=f"{http.url}/whip",
                                                   record_path=replay_path))
    assert {q: (a.text, a.frame_seq) for q, a in run.answers.items()} == \
        {q: (a.text, a.frame_seq) for q, a in live.answers.items()}
    assert overlay_view(run.overlays) == overlay_view(live.overlays)  # type: ignore[arg-type]
    replayed = await asyncio.to_thread(read_script, replay_path)
    assert replayed.sent == live.sent and [q.text for q in replayed.queries] == [QUESTION]
