"""A spoken query carries its utterance and timing on the wire; a typed one carries none."""

from __future__ import annotations

from eyeline.edge.transport.wire import QueryOut, UtteranceOut, query_message
from eyeline.protos.v1 import session_pb2 as pb


def test_the_utterance_and_its_timing_travel_with_the_query() -> None:
    spoken = UtteranceOut("Think harder.", start_ns=1_500_000_000, end_ns=2_250_000_000, confidence=0.8,
                          language="en")
    raw = query_message(QueryOut("q2", "which has the most protein", "thinking", utterance=spoken))
    query = pb.EdgeMessage.FromString(raw.SerializeToString()).query
    assert query.HasField("utterance") and query.mode == pb.MODE_THINKING
    u = query.utterance
    assert (u.text, u.start_ns, u.end_ns, u.language) == ("Think harder.", 1_500_000_000, 2_250_000_000, "en")
    assert abs(u.confidence - 0.8) < 1e-6


def test_a_typed_query_has_no_utterance() -> None:
    assert not query_message(QueryOut("q1", "which has the most protein")).query.HasField("utterance")
