"""The cloud's own recorder: a session over loopback gRPC leaves one recording per session, in the edge's layout,
holding the frames as the cloud received them and the answer it sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.recording import RecordingReader
from eyeline.devices.replay import ReplaySource, decode_image
from eyeline.edge.app import EdgeAppOptions, run_edge
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock

from .helpers import finished_recording

QUESTION = "which of these has the most protein?"


def _topics(path: Path, topic: str) -> list[object]:
    return [m.message for m in RecordingReader(path).messages(frozenset({topic}))]


@pytest.mark.slow
async def test_a_session_leaves_a_cloud_recording_with_the_frames_received_and_the_answer(
        recording_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    edge_path = tmp_path / "edge.mcap"
    options = EdgeAppOptions(device="synthetic:shelf?seed=1&fps=5", cloud=recording_cloud.address,
                             token=signer.mint("rec"), profile=WEBCAM, question=QUESTION, record_path=edge_path,
                             video_path=tmp_path / "edge.mp4")
    report = await run_edge(options)
    assert report.answer is not None
    path = await finished_recording(tmp_path / "cloud")
    reader = RecordingReader(path, required=layout.REQUIRED_FOR_EVAL)
    received = list(reader.messages(frozenset({layout.CAMERA})))
    assert reader.metadata["side"] == "cloud"

    sent = [m.seq for m in _topics(edge_path, layout.KEYFRAMES)]  # type: ignore[attr-defined]
    assert [m.sequence for m in received] == sent
    assert decode_image(received[0], path).shape[:2] == (WEBCAM.height, WEBCAM.width)
    answers = _topics(path, layout.ANSWERS)
    assert [a.text for a in answers if a.final] == [report.answer.text]  # type: ignore[attr-defined]
    queries = _topics(path, layout.QUERIES)
    assert [q.text for q in queries] == [QUESTION]  # type: ignore[attr-defined]
    assert any(o.query_id == report.answer.query_id for o in _topics(path, layout.OVERLAYS))  # type: ignore[attr-defined]
    assert _topics(path, layout.HOPS)
    # The replay device plays it like any recording.
    frames = [frame async for frame in ReplaySource(path, clock=VirtualClock())]
    assert [f.seq for f in frames] == sent
