"""Every overlay item the cloud can produce arrives at the edge unchanged, through real protobuf bytes.

Coordinates are binary fractions, exact in the wire's float32.
"""

from __future__ import annotations

import pytest

from eyeline.cloud import model
from eyeline.cloud.ingress import wire as cloud_wire
from eyeline.edge import overlays as ov
from eyeline.edge.messages import Answer, AnswerFact, CloudErrorReport, OverlayArrival, TraceStep
from eyeline.edge.transport import wire as edge_wire
from eyeline.protos.v1 import session_pb2 as pb

ITEMS = (
    model.BoxItem("box", model.NormBox(0.125, 0.25, 0.375, 0.5), "20 g", rgb=0x112233),
    model.OutlineItem("outline", ((0.125, 0.125), (0.5, 0.125), (0.375, 0.625))),
    model.BadgeItem("rank-1", (0.25, 0.5), "1"),
    model.ArrowItem("arrow", (0.875, 0.125), (0.625, 0.5), "steam wand"),
    model.LabelItem("label", (0.5, 0.5), "Peak Protein Bar"),
    model.PanelItem("ranking", "Protein per serving", (model.PanelRow("1", "Peak Bar", "20 g"),)),
    model.StepCardItem("step", 2, 5, "Remove the drip tray", target_item_id="arrow", warning="Hot surface"),
    model.NoticeItem("notice", "Not medical advice."),
)

EXPECTED_SHAPES = {
    "box": ov.BoxShape(ov.Box(0.125, 0.25, 0.375, 0.5), "20 g"),
    "outline": ov.OutlineShape(((0.125, 0.125), (0.5, 0.125), (0.375, 0.625))),
    "rank-1": ov.BadgeShape((0.25, 0.5), "1"),
    "arrow": ov.ArrowShape((0.875, 0.125), (0.625, 0.5), "steam wand"),
    "label": ov.LabelShape((0.5, 0.5), "Peak Protein Bar"),
    "ranking": ov.PanelShape("Protein per serving", (ov.PanelRow("1", "Peak Bar", "20 g"),)),
    "step": ov.StepCardShape(2, 5, "Remove the drip tray", "arrow", "Hot surface"),
    "notice": ov.NoticeShape("Not medical advice."),
}


def _through_the_wire(message: pb.CloudMessage) -> object:
    return edge_wire.cloud_event(pb.CloudMessage.FromString(message.SerializeToString()))


def test_every_item_kind_survives_the_wire() -> None:
    result = model.SkillResult("answer", items=ITEMS)
    hops = cloud_wire.Hops(1, 2, 3, 4, 5)
    event = _through_the_wire(cloud_wire.overlay(result, overlay_id="o1", query_id="q1", frame_seq=9,
                                                 trace_id="t9", hops=hops))
    assert isinstance(event, OverlayArrival)
    assert (event.overlay.frame_seq, event.overlay.trace_id, event.overlay.capture_ns) == (9, "t9", 1)
    assert (event.hops.received_ns, event.hops.overlay_sent_ns) == (3, 5)
    got = {item.id: item.shape for item in event.overlay.items}
    assert got == EXPECTED_SHAPES
    assert next(i for i in event.overlay.items if i.id == "box").rgb == 0x112233


def test_answers_trace_steps_and_errors_survive_the_wire() -> None:
    answer = _through_the_wire(cloud_wire.answer(model.SkillResult("Peak wins", final=False), query_id="q1",
                                                 frame_seq=3, trace_id="t3", mode=model.Mode.THINKING,
                                                 overlay_id="shown-by-o7"))
    assert answer == Answer("q1", "Peak wins", 3, "t3", "thinking", False, overlay_id="shown-by-o7")
    assert isinstance(answer, Answer)
    again = pb.Answer.FromString(edge_wire.answer_to_wire(answer).SerializeToString())   # as recorded and relayed
    assert again.overlay_id == "shown-by-o7"
    step = model.TraceStep(model.StepKind.READ, "read 20 g", (model.NormBox(0, 0, 0.5, 0.5),), 0.75, 1200, "shelf")
    trace = _through_the_wire(cloud_wire.trace_step(step, index=2, query_id="q1", frame_seq=3))
    assert isinstance(trace, TraceStep)
    assert (trace.kind, trace.index, trace.agent, trace.cost_us, trace.frame_seq) == ("read", 2, "shelf", 1200, 3)
    assert trace.confidence == pytest.approx(0.75)
    error = _through_the_wire(cloud_wire.error("frame_too_large", "too big", frame_seq=4))
    assert error == CloudErrorReport("frame_too_large", "too big", False, 4, "")


def test_the_facts_an_answer_states_survive_the_wire() -> None:
    facts = (model.StatedFact("Tofu ferme", "protein", 11.0, "g", "per 100 g"),
             model.StatedFact("", "energy", 90.25, "kcal", "in 30 g", serving_g=25.0, computed=True))
    answer = _through_the_wire(cloud_wire.answer(model.SkillResult("11 g", facts=facts), query_id="q1", frame_seq=1,
                                                 trace_id="t1", mode=model.Mode.INSTANT))
    assert isinstance(answer, Answer)
    assert answer.facts == (AnswerFact("Tofu ferme", "protein", 11.0, "g", "per 100 g", 0.0, False),
                            AnswerFact("", "energy", 90.25, "kcal", "in 30 g", 25.0, True))
    again = pb.Answer.FromString(edge_wire.answer_to_wire(answer).SerializeToString())   # as recorded and relayed
    assert [(f.nutrient, f.amount, f.computed) for f in again.facts] == [("protein", 11.0, False),
                                                                         ("energy", 90.25, True)]


def test_an_empty_cloud_message_is_a_protocol_error() -> None:
    with pytest.raises(edge_wire.ProtocolError):
        edge_wire.cloud_event(pb.CloudMessage())
