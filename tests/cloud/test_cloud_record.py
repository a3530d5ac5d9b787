"""The cloud's session recorder on its own: what the cloud received and sent lands in the shared layout, in order,
and a recording that cannot be created says where and why."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.session.recorder import CloudRecordingError, CloudSessionRecorder
from eyeline.devices.recording import RecordingReader
from eyeline.devices.replay import ReplaySource
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock
from eyeline.protos.v1 import session_pb2 as pb
from eyeline.tools.replay import repair_recording


def _frame(seq: int) -> pb.EdgeMessage:
    return pb.EdgeMessage(frame=pb.Frame(seq=seq, trace_id=f"t{seq}", hops=pb.HopTimes(capture_ns=seq * 100),
                                         encoding=pb.IMAGE_ENCODING_JPEG, data=bytes([seq]) * 10, width=64,
                                         height=48, keyframe=seq % 2 == 0))


class TickingClock(VirtualClock):
    """A virtual clock that also moves one nanosecond per read, so every logged message has its own time."""

    def now_ns(self) -> int:
        now = super().now_ns()
        self._now_ns = now + 1
        return now


def test_received_and_sent_messages_are_recorded_in_the_shared_layout(tmp_path: Path) -> None:
    recorder = CloudSessionRecorder(tmp_path / "s1.mcap", {"session_id": "s1"}, TickingClock(1_000))
    recorder.open()
    for seq in (1, 2, 3):
        recorder.record_in(_frame(seq))
    recorder.record_in(pb.EdgeMessage(query=pb.Query(query_id="q1", text="which?", frame_seq=2)))
    recorder.record_in(pb.EdgeMessage(audio=pb.AudioChunk(seq=0, sample_rate=16000, channels=1, pcm_s16le=b"\0\1")))
    recorder.record_out(pb.CloudMessage(overlay=pb.Overlay(overlay_id="answer-q1", query_id="q1", frame_seq=2,
                                                           hops=pb.HopTimes(capture_ns=200, received_ns=7))))
    recorder.record_out(pb.CloudMessage(answer=pb.Answer(query_id="q1", text="Bar", frame_seq=2, final=True)))
    recorder.record_out(pb.CloudMessage(flow=pb.FlowControl()))  # not part of the layout: skipped
    recorder.close()

    reader = RecordingReader(tmp_path / "s1.mcap", required=layout.REQUIRED_FOR_EVAL)
    messages = list(reader.messages())
    assert reader.metadata["side"] == "cloud" and reader.metadata["session_id"] == "s1"
    camera = [m for m in messages if m.topic == layout.CAMERA]
    assert [(m.sequence, m.message.data, m.message.format) for m in camera] == \
        [(seq, bytes([seq]) * 10, "jpeg") for seq in (1, 2, 3)]
    keyframes = [m.message for m in messages if m.topic == layout.KEYFRAMES]
    assert [(k.seq, k.keyframe, k.capture_ns) for k in keyframes] == [(1, False, 100), (2, True, 200), (3, False, 300)]
    topics = [m.topic for m in messages if m.topic not in (layout.CAMERA, layout.KEYFRAMES)]
    assert topics == [layout.QUERIES, layout.AUDIO, layout.OVERLAYS, layout.HOPS, layout.ANSWERS]
    assert [m.log_ns for m in messages] == sorted(m.log_ns for m in messages)
    hops = next(m.message for m in messages if m.topic == layout.HOPS)
    assert (hops.overlay_id, hops.hops.received_ns) == ("answer-q1", 7)


def test_a_recording_that_cannot_be_created_names_its_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    recorder = CloudSessionRecorder(blocker / "s1.mcap", {})
    with pytest.raises(CloudRecordingError, match=r"not-a-folder/s1\.mcap"):
        recorder.open()
    recorder.record_in(_frame(1))  # never opened: nothing is queued, nothing raises
    recorder.close()


def _jpeg_frame(seq: int) -> pb.EdgeMessage:
    image = np.full((24, 32, 3), seq % 251, np.uint8)
    data = cv2.imencode(".jpg", image)[1].tobytes()
    return pb.EdgeMessage(frame=pb.Frame(seq=seq, trace_id=f"t{seq}", hops=pb.HopTimes(capture_ns=1_000 + seq % 97),
                                         encoding=pb.IMAGE_ENCODING_JPEG, data=data, keyframe=True))


_WIDE_SEQS = (5, (1 << 32) - 1, 1 << 32, (1 << 40) + 1, (1 << 40) + 2, (1 << 64) - 1)


async def test_64_bit_sequence_numbers_are_recorded_and_replayed(tmp_path: Path) -> None:
    # A browser session's frames are numbered from 2^40; an MCAP message's sequence holds only 32 bits.
    recorder = CloudSessionRecorder(tmp_path / "wide.mcap", {"session_id": "wide"}, TickingClock(1_000))
    recorder.open()
    for seq in _WIDE_SEQS:
        recorder.record_in(_jpeg_frame(seq))
        recorder.record_out(pb.CloudMessage(answer=pb.Answer(query_id=f"q{seq}", text="x", frame_seq=seq)))
    recorder.close()

    messages = list(RecordingReader(tmp_path / "wide.mcap").messages())
    assert [m.sequence for m in messages if m.topic == layout.CAMERA] == list(_WIDE_SEQS)
    assert [m.sequence for m in messages if m.topic == layout.ANSWERS] == list(_WIDE_SEQS)
    replayed = [frame.seq async for frame in ReplaySource(tmp_path / "wide.mcap", clock=VirtualClock())]
    assert replayed == list(_WIDE_SEQS)
    repair_recording(tmp_path / "wide.mcap", tmp_path / "again.mcap")
    again = RecordingReader(tmp_path / "again.mcap").messages(frozenset({layout.CAMERA}))
    assert [m.sequence for m in again] == list(_WIDE_SEQS)
