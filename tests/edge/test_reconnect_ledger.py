"""What the edge does with work in flight across a reconnect (``InFlightLedger``)."""

from __future__ import annotations

from eyeline.edge.daemon.reconnect import InFlightLedger
from eyeline.edge.messages import Answer, OverlayArrival, Welcome
from eyeline.edge.overlays import Overlay
from eyeline.edge.transport.wire import QueryOut


def arrival(seq: int, trace_id: str) -> OverlayArrival:
    return OverlayArrival(Overlay(overlay_id=f"frame-{seq}", query_id="", frame_seq=seq, trace_id=trace_id,
                                  capture_ns=0))


def welcome(*, resumed: bool, state_lost: bool = False) -> Welcome:
    return Welcome("s", "v", 1, 1, (), resumed=resumed, state_lost=state_lost)


def test_an_overlay_is_accepted_only_for_the_frame_it_names_seq_and_trace_alike() -> None:
    ledger = InFlightLedger(frames_kept=2)
    for seq, trace in ((1, "a"), (2, "b"), (3, "c")):
        ledger.sent(seq, trace)
    assert ledger.accepts(arrival(3, "c"))
    assert not ledger.accepts(arrival(3, "b"))   # same seq, another frame: never drawn on this one
    assert not ledger.accepts(arrival(9, "z"))   # a frame this edge never sent
    assert not ledger.accepts(arrival(1, "a"))   # forgotten: too old to place safely
    assert ledger.last_seq == 3


def test_a_resumed_session_keeps_its_questions_pending_and_an_answer_settles_one() -> None:
    ledger = InFlightLedger()
    ledger.asked(QueryOut("q1", "which?", frame_seq=4))
    ledger.asked(QueryOut("q2", "what?", frame_seq=5))
    recovery = ledger.reconnected(welcome(resumed=True))
    assert recovery.reask == () and recovery.lost == ()
    ledger.accepts(Answer("q1", "this one", 4, "t", "instant", final=True))
    assert ledger.pending == ("q2",)


def test_lost_state_asks_each_question_again_once_then_reports_it_lost() -> None:
    ledger = InFlightLedger()
    ledger.asked(QueryOut("q1", "which?", frame_seq=4))
    first = ledger.reconnected(welcome(resumed=True, state_lost=True))
    assert [(q.query_id, q.frame_seq) for q in first.reask] == [("q1", None)] and first.lost == ()
    ledger.asked(first.reask[0])   # asked again on the new stream, about the latest keyframe
    second = ledger.reconnected(welcome(resumed=False))
    assert second.reask == () and [q.query_id for q in second.lost] == ["q1"]
    assert ledger.pending == ()
