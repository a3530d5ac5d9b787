"""Recording and replay against real clouds on loopback: live vs replay, a stalled cloud, a killed edge."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import cv2
import grpc
import pytest
from mcap.exceptions import EndOfFile
from mcap.reader import make_reader
from mcap.records import Channel, Chunk, Message
from mcap.stream_reader import StreamReader, breakup_chunk

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.recording import RecordingReader
from eyeline.devices.replay import ReplaySource
from eyeline.edge.app import EdgeAppOptions, run_edge
from eyeline.edge.runtime import EdgeConfig
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock
from eyeline.protos.v1 import session_pb2 as pb
from eyeline.protos.v1 import session_pb2_grpc
from eyeline.tools.cli import main as eyeline_main
from eyeline.tools.replay import ReplayOptions, read_script, replay_session

QUESTION = "which of these has the most protein?"
GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def overlay_view(overlays: dict[str, object]) -> dict[str, tuple[object, ...]]:
    """What an overlay shows, without the trace id and timestamps a new run gives it."""
    return {key: (o.query_id, o.frame_seq, o.items, o.final) for key, o in overlays.items()}  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_record_then_replay_gets_the_same_answers_and_overlays_over_the_same_frames(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    live_path, replay_path = tmp_path / "live.mcap", tmp_path / "replay.mcap"
    options = EdgeAppOptions(device="synthetic:shelf?seed=1&fps=5", cloud=cloud.address, token=signer.mint("live"),
                             profile=WEBCAM, question=QUESTION, video_path=tmp_path / "live.mp4",
                             record_path=live_path)
    report = await run_edge(options)
    assert report.answer is not None

    live = await asyncio.to_thread(read_script, live_path)
    run = await replay_session(live, ReplayOptions(cloud.address, signer.mint("replay"), record_path=replay_path,
                                                   fast=True))
    replayed = await asyncio.to_thread(read_script, replay_path)

    assert live.answers[report.answer.query_id].text == report.answer.text
    assert len(live.sent) >= 2
    assert replayed.sent == live.sent                       # the same frames, in the same order, encoded alike
    assert {q: (a.text, a.frame_seq) for q, a in run.answers.items()} == \
        {q: (a.text, a.frame_seq) for q, a in live.answers.items()}
    assert overlay_view(run.overlays) == overlay_view(live.overlays)  # type: ignore[arg-type]
    assert overlay_view(replayed.overlays) == overlay_view(live.overlays)  # type: ignore[arg-type]


class StalledCloud(session_pb2_grpc.SessionServicer):
    """Welcomes the edge, then reads nothing for ``stall_s``: HTTP/2 flow control pushes back on the edge."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.frames_read = 0

    async def Connect(self, requests: AsyncIterator[pb.EdgeMessage],
                      context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CloudMessage]:
        incoming = aiter(requests)
        await anext(incoming)
        yield pb.CloudMessage(welcome=pb.Welcome(session_id="stalled", max_frame_bytes=16 << 20,
                                                 max_frame_pixels=1 << 24))
        await asyncio.sleep(self.stall_s)
        async for _ in incoming:
            self.frames_read += 1


async def test_a_recording_made_while_the_cloud_stalls_holds_every_captured_frame(tmp_path: Path) -> None:
    stalled = StalledCloud(stall_s=4.0)
    # No bandwidth probing: the receive window stays small, so a cloud that reads nothing stops the edge's writes.
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.http2.bdp_probe", 0)])
    session_pb2_grpc.add_SessionServicer_to_server(stalled, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    path = tmp_path / "stalled.mcap"
    frames = 45
    try:
        # Every frame offered goes up, so the uplink really fills and blocks while the cloud reads nothing.
        config = EdgeConfig(sampling="rate", max_keyframes_per_s=0, redact_faces=False, anchor_overlays=False)
        options = EdgeAppOptions(device=f"synthetic:shelf?seed=2&fps=15&frames={frames}", cloud=f"127.0.0.1:{port}",
                                 token="unchecked", profile=WEBCAM, video_path=tmp_path / "stalled.mp4",
                                 record_path=path, config=config)
        report = await asyncio.wait_for(run_edge(options), 60)
    finally:
        await server.stop(grace=0.5)
    recorded = [m for m in RecordingReader(path).messages(frozenset({layout.CAMERA, layout.KEYFRAMES}))]
    camera = [m.sequence for m in recorded if m.topic == layout.CAMERA]
    sent = [m for m in recorded if m.topic == layout.KEYFRAMES]
    assert report.stats is not None and report.stats.captured == frames
    assert camera == list(range(frames))                   # every captured frame, in order
    assert len(sent) < frames // 2                          # while the network held most of them back


def frames_in_complete_chunks(path: Path) -> int:
    """Camera messages inside the chunks that were written out whole, counted from the raw chunk records."""
    camera_channel: int | None = None
    count = 0
    with path.open("rb") as stream:
        try:
            for record in StreamReader(stream, emit_chunks=True).records:
                if not isinstance(record, Chunk):
                    continue
                for inner in breakup_chunk(record):
                    if isinstance(inner, Channel) and inner.topic == layout.CAMERA:
                        camera_channel = inner.id
                    count += isinstance(inner, Message) and inner.channel_id == camera_channel
        except EndOfFile:
            pass
    return count


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def wait_for_size(path: Path, size: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        if await asyncio.to_thread(_size, path) >= size:
            return
        assert time.monotonic() < deadline, f"{path} did not reach {size} bytes within {within_s} s"
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_an_edge_killed_mid_session_leaves_a_file_that_replays_up_to_its_last_complete_chunk(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    path = tmp_path / "killed.mcap"
    command = [sys.executable, "-m", "eyeline.tools.cli", "edge", "--device", "synthetic:shelf?seed=1&fps=10",
               "--cloud", cloud.address, "--token", signer.mint("edge"), "--record", str(path),
               "--video", str(tmp_path / "killed.mp4"), "--duration", "60",
               "--no-redact-faces"]  # no faces here; a detector slower than 10 fps would drop frames, not record them
    edge = await asyncio.create_subprocess_exec(*command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_for_size(path, 2_000_000, within_s=60)
    finally:
        edge.send_signal(signal.SIGKILL)
        await edge.wait()
    assert edge.returncode == -signal.SIGKILL

    source = ReplaySource(path, clock=VirtualClock(0))
    seqs = [frame.seq async for frame in source]
    assert source.truncated
    assert len(seqs) == frames_in_complete_chunks(path) > 0
    assert seqs == list(range(len(seqs)))

    repaired = tmp_path / "repaired.mcap"
    assert await asyncio.to_thread(eyeline_main, ["replay", str(path), "--repair", str(repaired)]) == 0
    with repaired.open("rb") as stream:
        summary = make_reader(stream).get_summary()
    assert summary is not None and summary.statistics is not None
    camera_id = next(c.id for c in summary.channels.values() if c.topic == layout.CAMERA)
    assert summary.statistics.channel_message_counts[camera_id] == len(seqs)
    assert not RecordingReader(repaired).truncated

    video = tmp_path / "rendered.mp4"
    assert await asyncio.to_thread(eyeline_main, ["replay", str(repaired), "--video", str(video)]) == 0
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(seqs)
    capture.release()


async def test_a_recording_as_the_edge_device_goes_through_the_live_edge_and_cloud(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    golden = GOLDEN / "shelf-seed1.mcap"
    options = EdgeAppOptions(device=f"replay:{golden}?fast=1", cloud=cloud.address, token=signer.mint("edge"),
                             profile=replace(WEBCAM, width=960, height=540),  # the golden frames' size
                             video_path=tmp_path / "replayed.mp4", record_path=tmp_path / "again.mcap")
    report = await asyncio.wait_for(run_edge(options), 60)
    assert report.stats is not None and report.stats.captured == 2 and report.stats.keyframes_sent >= 1
    again = [m.sequence for m in RecordingReader(tmp_path / "again.mcap").messages(frozenset({layout.CAMERA}))]
    assert again == [0, 1]
