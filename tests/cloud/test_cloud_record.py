"""The cloud's session recorder on its own: what the cloud received and sent lands in the shared layout, in order,
and a recording that cannot be created says where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.cloud.session.recorder import CloudRecordingError, CloudSessionRecorder
from eyeline.devices.recording import RecordingReader
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock
from eyeline.protos.v1 import session_pb2 as pb


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
