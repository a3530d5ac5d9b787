"""The session recorder on its own: what it writes, read back by the `mcap` library, Foxglove's schemas and replay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.ImageAnnotations_pb2 import ImageAnnotations
from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory

from eyeline.devices.base import CapturedFrame
from eyeline.devices.replay import ReplaySource
from eyeline.devices.synthetic import SyntheticShelfSource
from eyeline.edge.messages import Answer, HopTimes, OverlayArrival
from eyeline.edge.overlays import BadgeShape, Box, BoxShape, Item, Overlay
from eyeline.edge.recording.recorder import RecorderOptions, RecordingSource, RecordingWriteError, SessionRecorder
from eyeline.edge.transport.wire import answer_to_wire, cloud_event
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock
from eyeline.protos.v1 import session_pb2 as pb

WIDTH, HEIGHT = 320, 180


async def record_shelf(path: Path, frames: int = 6, **options: object) -> list[CapturedFrame]:
    source = SyntheticShelfSource(width=WIDTH, height=HEIGHT, fps=10.0, frames=frames, clock=VirtualClock(0), seed=2)
    recorder = SessionRecorder(path, RecorderOptions(**options))  # type: ignore[arg-type]
    recorder.open()
    try:
        captured = [frame async for frame in RecordingSource(source, recorder)]
        box = Item("b1", BoxShape(Box(0.25, 0.5, 0.75, 1.0), "bar"), 0xFF0000)
        badge = Item("r1", BadgeShape((0.5, 0.25), "1"))
        overlay = Overlay("answer-q1", "q1", 3, "t3", captured[3].capture_ns, (box, badge))
        recorder.record_event(OverlayArrival(overlay, HopTimes(capture_ns=captured[3].capture_ns, sent_ns=5)))
        recorder.record_event(Answer("q1", "Bar wins", 3, "t3", "instant", True))
    finally:
        await recorder.aclose()
    return captured


async def test_the_mcap_library_reads_the_recording_and_foxglove_schemas_decode_its_channels(tmp_path: Path) -> None:
    path = tmp_path / "session.mcap"
    captured = await record_shelf(path)
    with path.open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == layout.PROFILE
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        decoded = list(reader.iter_decoded_messages())
    by_topic: dict[str, list[object]] = {}
    for _, channel, _, message in decoded:
        by_topic.setdefault(channel.topic, []).append(message)
    images = by_topic[layout.CAMERA]
    assert len(images) == len(captured)
    # Decoded from the schema embedded in the file, the message re-parses as Foxglove's own class.
    image = CompressedImage.FromString(images[0].SerializeToString())  # type: ignore[attr-defined]
    assert image.format == "png" and image.frame_id == layout.CAMERA_FRAME_ID
    pixels = cv2.imdecode(np.frombuffer(image.data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(pixels, captured[0].image)
    assert image.timestamp.seconds * 10**9 + image.timestamp.nanos == captured[0].capture_ns

    (raw,) = by_topic[layout.ANNOTATIONS]
    annotations = ImageAnnotations.FromString(raw.SerializeToString())  # type: ignore[attr-defined]
    (outline,) = annotations.points
    assert [(p.x, p.y) for p in outline.points] == [(80, 90), (240, 90), (240, 180), (80, 180)]
    assert outline.outline_color.r == 1.0 and outline.outline_color.g == 0.0
    assert {t.text for t in annotations.texts} == {"bar", "1"}
    assert annotations.points[0].timestamp.seconds * 10**9 + annotations.points[0].timestamp.nanos == \
        captured[3].capture_ns
    assert by_topic[layout.ANSWERS][0].text == "Bar wins"  # type: ignore[attr-defined]


async def test_a_recording_replays_the_same_frames_in_order_with_their_spacing_and_truth(tmp_path: Path) -> None:
    path = tmp_path / "session.mcap"
    captured = await record_shelf(path)
    replayed = [frame async for frame in ReplaySource(path, clock=VirtualClock(10**12))]
    assert [f.seq for f in replayed] == [f.seq for f in captured]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(replayed, captured, strict=True))
    assert [f.capture_ns - replayed[0].capture_ns for f in replayed] == \
        [f.capture_ns - captured[0].capture_ns for f in captured]
    assert replayed[0].capture_ns == 10**12  # rebased onto the replaying clock
    assert replayed[4].truth.best_product() == captured[4].truth.best_product()
    assert [p.box for p in replayed[4].truth.products] == [p.box for p in captured[4].truth.products]


async def test_replaying_twice_gives_identical_frames(tmp_path: Path) -> None:
    path = tmp_path / "session.mcap"
    await record_shelf(path, frames=4, image_format="jpeg")
    first = [frame async for frame in ReplaySource(path, clock=VirtualClock(0))]
    second = [frame async for frame in ReplaySource(path, clock=VirtualClock(0))]
    assert [f.capture_ns for f in first] == [f.capture_ns for f in second]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, second, strict=True))


async def test_small_chunks_reach_the_disk_while_the_session_runs(tmp_path: Path) -> None:
    path = tmp_path / "session.mcap"
    source = SyntheticShelfSource(width=WIDTH, height=HEIGHT, fps=10.0, frames=8, clock=VirtualClock(0), seed=2)
    recorder = SessionRecorder(path, RecorderOptions(chunk_bytes=1, flush_interval_s=0.05))
    recorder.open()
    try:
        async for _ in RecordingSource(source, recorder):
            pass
        for _ in range(200):
            if recorder.stats.frames_flushed == 8:
                break
            await asyncio.sleep(0.01)
        # Before close: every frame is already in a complete chunk on disk, readable by replay.
        assert recorder.stats.frames_flushed == 8
        assert len([f async for f in ReplaySource(path, clock=VirtualClock(0))]) == 8
    finally:
        await recorder.aclose()


def test_an_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingWriteError, match="cannot create recording"):
        SessionRecorder(tmp_path / "file" / "session.mcap").open()


def test_an_unknown_image_format_is_refused() -> None:
    with pytest.raises(RecordingWriteError, match="image format 'gif'"):
        RecorderOptions(image_format="gif")


async def test_at_recorded_speed_frames_come_as_far_apart_as_they_were_captured(tmp_path: Path) -> None:
    path = tmp_path / "session.mcap"
    await record_shelf(path, frames=4)  # 10 fps: 0.3 s from the first frame to the last
    started = time.monotonic()
    frames = [frame async for frame in ReplaySource(path)]
    assert len(frames) == 4
    assert time.monotonic() - started >= 0.29


@pytest.mark.parametrize("answer", [
    Answer("q1", "Peak Bar has the most protein", 4, "t4", "thinking", True),
    Answer("offer-1", "Peak Bar has the most protein", 7, "t7", "instant", True, proactive=True,
           offer="Protein ranking for this shelf"),
])
def test_an_answer_is_recorded_as_it_arrived_offers_included(answer: Answer) -> None:
    recorded = cloud_event(pb.CloudMessage(answer=answer_to_wire(answer)))
    assert recorded == answer


async def test_the_edge_records_and_replays_64_bit_sequence_numbers(tmp_path: Path) -> None:
    # A device may number frames past 2^32 (the cloud numbers browser track frames from 2^40); MCAP keeps 32 bits.
    seqs = [(1 << 32) - 1, 1 << 32, (1 << 40) + 7]
    recorder = SessionRecorder(tmp_path / "wide.mcap", RecorderOptions())
    recorder.open()
    try:
        for index, seq in enumerate(seqs):
            image = np.full((HEIGHT, WIDTH, 3), 40 * index, np.uint8)
            await recorder.record_frame(CapturedFrame(seq, 1_000 * (index + 1), image))
        recorder.record_event(Answer("q1", "Bar wins", seqs[-1], "t", "instant", True))
    finally:
        await recorder.aclose()
    replayed = [frame.seq async for frame in ReplaySource(tmp_path / "wide.mcap", clock=VirtualClock())]
    assert replayed == seqs
