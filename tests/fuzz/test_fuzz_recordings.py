"""MCAP recordings, truncated and corrupted: every reader (the recording reader, the replay device's frames and
audio, ``eyeline replay``'s script, ``eyeline repair``) gives what the file holds or a typed recording error."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from hypothesis import given
from hypothesis import strategies as st
from mcap.writer import CompressionType, Writer
from mcap_protobuf.schema import build_file_descriptor_set

from eyeline.devices.base import DeviceError
from eyeline.devices.recording import RecordingReader
from eyeline.devices.replay import recorded_audio, recorded_frames
from eyeline.edge.errors import EdgeError
from eyeline.protos import recording as layout
from eyeline.protos.recording_io import MESSAGE_CLASSES, PendingRecord, RecordingWriter, WriterOptions
from eyeline.protos.v1 import recording_pb2 as rpb
from eyeline.protos.v1 import session_pb2 as pb
from eyeline.tools.replay import read_script, repair_recording
from tests.fuzz.bombs import png_bomb
from tests.fuzz.harness import fuzz_target, run_case
from tests.fuzz.strategies import VALID_IMAGES, mutated


def _seed_recording() -> bytes:
    """A small recording with every kind of record the readers use, chunked small so a cut keeps some."""
    stream = io.BytesIO()
    stream.close = lambda: None  # type: ignore[method-assign]  # keep the bytes after the writer closes it
    writer = RecordingWriter(stream, {"side": "edge", "profile": "webcam"}, WriterOptions(chunk_bytes=1024))
    writer.start()
    for seq in (1, 2, 1 << 40):
        jpeg = cv2.imencode(".jpg", np.full((24, 32, 3), seq % 200, np.uint8))[1].tobytes()
        writer.submit(PendingRecord.of(layout.TRUTH, seq, seq, rpb.FrameTruthRecord(
            seq=seq, scene="shelf", products=[rpb.ProductTruthRecord(brand="A", name="B", protein_g=3.0)])))
        writer.submit(PendingRecord.of(layout.CAMERA, seq, seq, CompressedImage(data=jpeg, format="jpeg")))
        writer.submit(PendingRecord.of(layout.KEYFRAMES, seq, seq, rpb.KeyframeRecord(seq=seq, keyframe=True,
                                                                                       quality=80)))
    writer.submit(PendingRecord.of(layout.AUDIO, 5, 0, pb.AudioChunk(seq=0, sample_rate=16000, channels=1,
                                                                     pcm_s16le=b"\x01\x00" * 160)))
    writer.submit(PendingRecord.of(layout.QUERIES, 6, 0, pb.Query(query_id="q1", text="which?", frame_seq=2)))
    writer.submit(PendingRecord.of(layout.ANSWERS, 7, 2, pb.Answer(query_id="q1", text="B", frame_seq=2, final=True)))
    writer.submit(PendingRecord.of(layout.OVERLAYS, 8, 2, pb.Overlay(overlay_id="answer-q1", frame_seq=2)))
    writer.close()
    return stream.getvalue()


pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
SEED = _seed_recording()
_TYPED = (DeviceError, EdgeError)


def _read_everything(path: Path) -> None:
    reader = RecordingReader(path)
    for _ in reader.messages():
        pass
    for _ in recorded_frames(RecordingReader(path)):
        pass
    for _ in recorded_audio(RecordingReader(path, required=())):
        pass


@fuzz_target
@given(data=mutated((SEED,), max_edits=3))
def test_recordings_read_or_fail_with_a_recording_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.mcap"
        path.write_bytes(data)
        run_case("MCAP recordings: reader and replay", lambda: _read_everything(path), _TYPED)
        run_case("MCAP recordings: eyeline replay script", lambda: read_script(path), _TYPED)
        run_case("MCAP recordings: eyeline repair", lambda: repair_recording(path, Path(folder) / "repaired.mcap"),
                 _TYPED)


_TOPICS = st.one_of(st.sampled_from(sorted(layout.SCHEMAS)), st.sampled_from(sorted(layout.SCHEMAS)),
                    st.text(max_size=12))
_SCHEMA_NAMES = st.one_of(st.sampled_from(sorted(MESSAGE_CLASSES)), st.text(max_size=12))
_MESSAGE_SEEDS = (CompressedImage(data=VALID_IMAGES[0], format="jpeg").SerializeToString(),
                  CompressedImage(data=png_bomb(9_000, 9_000), format="png").SerializeToString(),
                  rpb.FrameTruthRecord(seq=1, scene="espresso").SerializeToString(),
                  pb.AudioChunk(seq=0, sample_rate=16000, channels=2, pcm_s16le=b"\x01\x00" * 3).SerializeToString(),
                  pb.Query(query_id="q", text="t", frame_seq=1).SerializeToString())


@st.composite
def built_recordings(draw: st.DrawFn) -> bytes:
    """A well-formed MCAP file (checksums right) whose records say odd things: the readers' logic, not the CRC."""
    stream = io.BytesIO()
    writer = Writer(stream, chunk_size=draw(st.sampled_from([256, 1 << 20])), compression=CompressionType.NONE)
    usually = st.integers(0, 9).map(bool)   # the valid choice nine times in ten, so the readers get past it
    writer.start(profile=layout.PROFILE if draw(usually) else draw(st.sampled_from(["ros2", ""])), library="fuzz")
    if draw(usually):
        writer.add_metadata(layout.METADATA_NAME, {"schema_version": "2" if draw(usually) else draw(st.text())})
    channels = []
    for _ in range(draw(st.integers(1, 5))):
        topic = draw(_TOPICS)
        name = layout.SCHEMAS.get(topic, "") if draw(usually) else draw(_SCHEMA_NAMES)
        cls = MESSAGE_CLASSES.get(name)
        schema = writer.register_schema(name, "protobuf", build_file_descriptor_set(cls).SerializeToString()
                                        if cls is not None else draw(st.binary(max_size=16)))
        high = None if draw(usually) else draw(st.sampled_from(["0", "256", "4294967295", "4294967296", "-1", "٣"]))
        channels.append(writer.register_channel(topic, "protobuf", schema,
                                                {} if high is None else {layout.SEQUENCE_HIGH: high}))
    for _ in range(draw(st.integers(0, 10))):
        writer.add_message(draw(st.sampled_from(channels)), log_time=draw(st.integers(0, (1 << 64) - 1)),
                           data=draw(st.one_of(mutated(_MESSAGE_SEEDS, max_edits=2), st.binary(max_size=64))),
                           publish_time=0, sequence=draw(st.integers(0, (1 << 32) - 1)))
    writer.finish()  # type: ignore[no-untyped-call]
    return stream.getvalue()


@fuzz_target
@given(data=built_recordings())
def test_well_formed_recordings_that_say_odd_things_read_or_fail_typed(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.mcap"
        path.write_bytes(data)
        run_case("MCAP recordings: reader and replay", lambda: _read_everything(path), _TYPED)
        run_case("MCAP recordings: eyeline replay script", lambda: read_script(path), _TYPED)
        run_case("MCAP recordings: eyeline repair", lambda: repair_recording(path, Path(folder) / "repaired.mcap"),
                 _TYPED)


def test_the_seed_recording_reads_whole() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.mcap"
        path.write_bytes(SEED)
        assert [f.seq for f in recorded_frames(RecordingReader(path))] == [1, 2, 1 << 40]
        assert [q.text for q in read_script(path).queries] == ["which?"]
