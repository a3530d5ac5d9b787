"""The session history a late viewer is shown first, and readable session names."""

from __future__ import annotations

import numpy as np

from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.history import Question, SessionHistory
from eyeline.cloud.session.names import session_name, short_name
from eyeline.protos.v1 import session_pb2 as pb


def _frame(seq: int) -> DecodedFrame:
    return DecodedFrame(seq=seq, trace_id=f"t{seq}", image=np.full((4, 4, 3), seq, np.uint8), capture_ns=seq,
                        sent_ns=seq, received_ns=seq)


def test_an_overlay_pins_its_frame_and_the_pins_are_bounded() -> None:
    history = SessionHistory(messages_kept=8, frames_kept=2)
    kept = {seq: _frame(seq) for seq in range(1, 5)}
    for seq in (1, 2, 3):
        history.record(pb.CloudMessage(overlay=pb.Overlay(overlay_id=f"o{seq}", frame_seq=seq)), kept.get)
    assert history.frame(1) is None   # the oldest pin gave way
    assert [f.seq for f in history.frames()] == [2, 3]
    frame = history.frame(3)
    assert frame is not None and int(frame.image[0, 0, 0]) == 3
    # An overlay on a frame the session no longer keeps is remembered without a frame.
    history.record(pb.CloudMessage(overlay=pb.Overlay(overlay_id="o9", frame_seq=9)), kept.get)
    assert history.frame(9) is None and history.messages()[-1].overlay.overlay_id == "o9"


def test_messages_are_bounded_oldest_first_and_flow_control_is_not_kept() -> None:
    history = SessionHistory(messages_kept=3)
    history.record(pb.CloudMessage(flow=pb.FlowControl(keyframe_wanted=True)), lambda seq: None)
    for index in range(5):
        history.record(pb.CloudMessage(trace=pb.TraceStep(query_id="q", index=index)), lambda seq: None)
    assert [m.trace.index for m in history.messages()] == [2, 3, 4]
    assert history.forgotten == 2
    history.asked(Question("q", "which has the most protein?", "instant", 5))
    assert history.questions_asked == 1 and history.questions()[0].text == "which has the most protein?"


def test_session_names_are_short_readable_and_stable_for_an_id() -> None:
    ids = [f"{n:018x}.signature-part-of-the-id" for n in range(200)]
    names = [short_name(i) for i in ids]
    assert names == [short_name(i) for i in ids]
    assert all(len(n) <= 16 and n.count("-") == 1 and n.replace("-", "").isalpha() for n in names)
    assert len(set(names)) > 150   # spread over the word lists, not a handful
    assert session_name("ana", ids[0]) == f"ana · {names[0]}"


def test_an_answer_is_remembered_without_its_spoken_audio() -> None:
    history = SessionHistory()
    answer = pb.Answer(query_id="q", text="Atlas", speech=b"\x00" * 50_000, speech_mime="audio/wav")
    sent = pb.CloudMessage(answer=answer)
    history.record(sent, lambda seq: None)
    kept = history.messages()[0].answer
    assert kept.text == "Atlas" and kept.speech == b"" and kept.speech_mime == ""
    assert len(sent.answer.speech) == 50_000   # what the session sends is untouched
