"""Grounding a model's reply: evidence boxes checked and counted, claims checked against OCR, guardrails."""

from __future__ import annotations

import pytest

from eyeline.cloud.model import ArrowItem, BoxItem, NormBox, StepKind
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.reasoning.model_ground import ground, region
from eyeline.cloud.reasoning.model_parse import ModelReply, ModelStep

PROTEIN = TextLine("Protein 12 g", 0.97, NormBox(0.10, 0.40, 0.40, 0.45),
                   ((0.10, 0.40), (0.40, 0.40), (0.40, 0.45), (0.10, 0.45)))


@pytest.mark.parametrize("raw", [
    [0.2, 0.2, 0.1, 0.3],          # x1 before x0
    [0.2, 0.2, 0.2005, 0.3],       # a sliver
    [-0.1, 0.0, 0.5, 0.5],         # out of range
    [0.0, 0.0, 1.5, 0.5],
    [0.1, 0.1, 0.5],               # three numbers
    [0.1, "a", 0.5, 0.6],
    [0.1, 0.1, float("nan"), 0.6],
    [True, 0.1, 0.5, 0.6],
    "0.1 0.1 0.5 0.6",
])
def test_degenerate_or_out_of_range_regions_are_rejected(raw: object) -> None:
    assert region(raw) is None


def test_a_region_in_a_crop_is_mapped_back_into_the_frame() -> None:
    box = region([0.0, 0.0, 0.5, 1.0], NormBox(0.2, 0.4, 0.6, 0.8))
    assert box == pytest.approx(NormBox(0.2, 0.4, 0.4, 0.8))


def test_steps_become_trace_steps_with_kept_boxes_and_dropped_ones_are_counted() -> None:
    reply = ModelReply("A protein bar.", steps=(
        ModelStep("read", "the panel lists protein", ([0.1, 0.4, 0.4, 0.45], [2, 2, 3, 3], [0.5, 0.5, 0.5, 0.9])),
        ModelStep("answer", "it is a protein bar", ())),
        overlay=({"kind": "box", "box": [0.1, 0.4, 0.4, 0.45], "text": "protein"},
                 {"kind": "arrow", "tail": [0.9, 0.9], "head": [0.3, 0.42]},
                 {"kind": "box", "box": [0.9, 0.9, 0.1, 0.1]}, {"kind": "sparkles"}))
    grounded = ground(reply, [PROTEIN], agent="model:test")
    steps = grounded.result.steps
    assert steps[0].kind is StepKind.READ and steps[0].evidence == (NormBox(0.1, 0.4, 0.4, 0.45),)
    assert grounded.dropped_regions == 4            # two step regions, two overlay items
    assert any("dropped 4 regions" in s.text for s in steps)
    assert [type(item) for item in grounded.result.items] == [BoxItem, ArrowItem]
    assert steps[-1].kind is StepKind.ANSWER and grounded.result.answer == "A protein bar."
    assert all(step.agent == "model:test" for step in steps)
    assert grounded.contradictions == 0 and grounded.result.confidence == pytest.approx(0.8)


def test_a_claim_that_contradicts_ocr_in_its_region_gets_a_verify_step_and_lowers_confidence() -> None:
    honest = ModelReply("12 g of protein", steps=(ModelStep("read", "protein is 12 g", ([0.05, 0.35, 0.45, 0.5],)),),
                        confidence=0.9)
    wrong = ModelReply("30 g of protein", steps=(ModelStep("read", "protein is 30 g", ([0.05, 0.35, 0.45, 0.5],)),),
                       confidence=0.9)
    elsewhere = ModelReply("30 g", steps=(ModelStep("read", "protein is 30 g", ([0.6, 0.6, 0.9, 0.9],)),),
                           confidence=0.9)
    assert ground(honest, [PROTEIN], agent="m").contradictions == 0
    grounded = ground(wrong, [PROTEIN], agent="m")
    assert grounded.contradictions == 1 and grounded.result.confidence == pytest.approx(0.45)
    verify = next(s for s in grounded.result.steps if s.kind is StepKind.VERIFY)
    assert "'30 g'" in verify.text and "Protein 12 g" in verify.text
    assert ground(elsewhere, [PROTEIN], agent="m").contradictions == 0   # OCR read nothing there


def test_a_quoted_claim_is_checked_too() -> None:
    reply = ModelReply("x", steps=(ModelStep("read", 'the label says "Vitamin C"', ([0.05, 0.35, 0.45, 0.5],)),))
    assert ground(reply, [PROTEIN], agent="m").contradictions == 1


def test_prose_is_grounded_as_a_plain_answer_with_a_note() -> None:
    grounded = ground(ModelReply("It is a jar of peanut butter.", form="prose"), [PROTEIN], agent="m")
    assert grounded.result.items == () and grounded.result.answer == "It is a jar of peanut butter."
    assert any("ignored the answer schema" in s.text for s in grounded.result.steps)


def test_guardrails_apply_to_a_model_answer() -> None:
    reply = ModelReply("You should take 400 mg, the usual dose for an adult.", confidence=0.9)
    grounded = ground(reply, [], agent="m")
    assert "can't recommend doses" in grounded.result.answer
    assert any(s.kind is StepKind.REFUSE for s in grounded.result.steps)
