"""Bad input against a real cloud on loopback: typed refusals, nothing recorded that was refused, and an event
loop that keeps serving every session while a client sends the worst it can."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress import http as http_module
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.speech import AudioPiece, CloudTranscript
from eyeline.devices.recording import OversizedFrameError, RecordedMessage, RecordingReader
from eyeline.devices.replay import decode_image
from eyeline.edge.messages import CloudErrorReport
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import EncodedFrame
from eyeline.protos import recording as layout
from eyeline.protos.images import ImageHeaderError, image_size
from eyeline.protos.v1 import session_pb2 as pb
from tests.fuzz.bombs import fill_byte_jpeg, png_bomb, tiny_segment_jpeg

from .conftest import OpenSession
from .helpers import Session, finished_recording, hello, jpeg_frame


def _raw_frame(seq: int, data: bytes) -> EncodedFrame:
    return EncodedFrame(seq=seq, trace_id=f"t{seq}", capture_ns=seq * 1000, data=data, width=640, height=360)


class LoopWatch:
    """The longest the event loop went without running a 10 ms ticker: what every other session waited."""

    def __init__(self) -> None:
        self.longest_s = 0.0
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.longest_s = max(self.longest_s, now - last)
            last = now

    async def stop(self) -> float:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.longest_s


@pytest.mark.parametrize("make", [fill_byte_jpeg, tiny_segment_jpeg])
def test_the_jpeg_header_scan_is_bounded_whatever_the_bytes(make: object) -> None:
    data = make()  # type: ignore[operator]
    started = time.perf_counter()
    with pytest.raises(ImageHeaderError):
        image_size(data)
    assert time.perf_counter() - started < 0.3   # the byte-by-byte scan took over a second on 4 MiB


async def test_eight_fill_byte_jpegs_do_not_stall_the_event_loop(connect: OpenSession) -> None:
    session = await connect()
    watch = LoopWatch()
    for seq in range(1, 9):
        await session.uplink.push_frame(_raw_frame(seq, fill_byte_jpeg()))
    refused = [await session.next(CloudErrorReport) for _ in range(8)]
    longest = await watch.stop()
    assert {(e.code, e.frame_seq) for e in refused} == {("undecodable_image", seq) for seq in range(1, 9)}
    assert longest < 0.5, f"the event loop stood still for {longest:.2f} s"


async def test_the_cloud_records_only_the_frames_it_accepted(recording_cloud: CloudServer, signer: TokenSigner,
                                                             tmp_path: Path) -> None:
    uplink = GrpcUplink(UplinkOptions(recording_cloud.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("bomber")))
    session = Session(uplink)
    await uplink.push_frame(jpeg_frame(1))
    await uplink.push_frame(_raw_frame(2, png_bomb(20_000, 20_000)))       # 400 M pixels in 30 KB
    await uplink.push_frame(_raw_frame(3, b"\xff\xd8not a jpeg at all\xff\xd9"))
    await uplink.push_frame(jpeg_frame(4))
    refused = [await session.next(CloudErrorReport) for _ in range(2)]
    assert [(e.code, e.frame_seq) for e in refused] == [("frame_too_large", 2), ("undecodable_image", 3)]
    await session.close()
    path = await finished_recording(tmp_path / "cloud")
    camera = list(RecordingReader(path).messages(frozenset({layout.CAMERA, layout.KEYFRAMES})))
    assert {(m.topic, m.sequence) for m in camera} == {(t, s) for t in (layout.CAMERA, layout.KEYFRAMES)
                                                       for s in (1, 4)}


def test_replay_refuses_a_decompression_bomb_before_decoding_it(tmp_path: Path) -> None:
    recorded = RecordedMessage(layout.CAMERA, 1, 7, pb_image(png_bomb(9_000, 9_000)))
    with pytest.raises(OversizedFrameError, match="9000x9000"):
        decode_image(recorded, tmp_path / "bomb.mcap")
    ordinary = RecordedMessage(layout.CAMERA, 1, 8, pb_image(cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))[1]
                                                             .tobytes()))
    assert decode_image(ordinary, tmp_path / "ok.mcap").shape == (48, 64, 3)


def pb_image(data: bytes) -> object:
    from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage

    return CompressedImage(data=data, format="png")


@pytest.mark.parametrize(("body", "status"), [
    (b"[" * 4000 + b"]" * 4000, 400),                       # nested past the parser: was a 500
    (b'{"text": ' + b"[" * 3000 + b"]" * 3000 + b"}", 400),
    (b"not json", 400),
    (b'["a list"]', 400),
    (b'{"text": "' + b"x" * 20_000 + b'"}', 413),
])
async def test_a_bad_question_body_is_a_typed_refusal(http: HttpServer, connect: OpenSession, signer: TokenSigner,
                                                      body: bytes, status: int) -> None:
    await connect()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {signer.mint('test')}"}) as client:
        async with client.get(f"{http.url}/api/sessions") as listed:
            session_id = (await listed.json())["sessions"][0]["session_id"]
        async with client.post(f"{http.url}/api/sessions/{session_id}/query", data=body,
                               headers={"Content-Type": "application/json"}) as response:
            assert response.status == status, await response.text()




class InstantRecognizer:
    """Stands in for Whisper, which is not what this test measures: it hears the same words at once."""

    async def transcribe(self, samples: np.ndarray) -> CloudTranscript:
        return CloudTranscript(text=f"{len(samples)} samples", confidence=1.0, language="en")

    def close(self) -> None:
        pass


async def test_mixing_and_resampling_an_utterance_does_not_stall_the_event_loop(
        cloud: CloudServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 s of 192 kHz stereo in three chunks, each within the message limit: about 0.4 s of numpy and soxr work.
    monkeypatch.setattr(cloud.dispatcher, "speech", InstantRecognizer())
    session = cloud.sessions.open("loud", "test", Mode.INSTANT, cloud.cloud.clock.now_ns())
    pcm = np.random.default_rng(0).integers(-3000, 3000, 192_000 * 2 * 10).astype("<i2").tobytes()
    watch = LoopWatch()
    await asyncio.sleep(0.05)   # the ticker is running before the audio arrives
    for seq in range(3):
        await cloud.dispatcher.handle(session, AudioPiece("u1", seq, 0, 192_000, 2, pcm, last=seq == 2))
    await session.wait_idle()
    longest = await watch.stop()
    heard = session.outbound.get_nowait()
    while not heard.HasField("utterance"):
        heard = session.outbound.get_nowait()
    assert heard.utterance.text == f"{16_000 * 30} samples"
    assert longest < 0.2, f"the event loop stood still for {longest:.2f} s"
    await cloud.sessions.close(session)


async def test_a_question_into_a_session_whose_edge_stopped_reading_is_refused_not_held(
        cloud: CloudServer, signer: TokenSigner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module, "QUESTION_HANDOFF_S", 0.5)
    session = cloud.sessions.open("stalled", "rayban-class", Mode.INSTANT, cloud.cloud.clock.now_ns())
    with contextlib.suppress(asyncio.QueueFull):
        while True:   # an edge that reads nothing: its bounded queue of replies is full
            session.outbound.put_nowait(pb.CloudMessage())
    server = HttpServer(cloud.cloud)
    await server.start()
    try:
        statuses = []
        async with aiohttp.ClientSession() as client, asyncio.timeout(15):
            while not statuses or statuses[-1] == 202:   # questions in flight, until one is refused
                assert len(statuses) < 5, statuses
                async with client.post(f"{server.url}/api/sessions/{session.session_id}/query",
                                       json={"text": "which has the most protein?"},
                                       headers={"Authorization": f"Bearer {signer.mint('stalled')}"}) as response:
                    statuses.append(response.status)
                    body = await response.text()
        # The refusal that says "overloaded" has nowhere to go: the viewer is told so instead of being held.
        assert statuses[-1] == 503 and "not taking replies" in body
    finally:
        await server.stop()
