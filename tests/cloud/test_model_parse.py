"""Reading model replies back: recorded completions for every way a model follows or ignores the schema."""

from __future__ import annotations

import json

import pytest

from eyeline.cloud.reasoning.budgets import TokenUse, parse_token_use
from eyeline.cloud.reasoning.model_parse import GarbageReplyError, parse_completion
from tests.model_helpers import completion

DOCUMENT = {"answer": "A jar of peanut butter.", "steps": [
    {"kind": "read", "text": "the label reads \"Peanut Butter\"", "regions": [[0.1, 0.2, 0.6, 0.3]]}],
    "overlay": [{"kind": "box", "box": [0.1, 0.2, 0.6, 0.3], "text": "label"}], "confidence": 0.7}


def test_a_reply_that_follows_the_schema_keeps_steps_regions_overlay_and_tokens() -> None:
    reply = parse_completion(completion(json.dumps(DOCUMENT), prompt_tokens=1000, completion_tokens=80,
                                        reasoning_tokens=30))
    assert reply.form == "json" and reply.structured
    assert reply.answer == "A jar of peanut butter." and reply.confidence == 0.7
    assert reply.steps[0].kind == "read" and reply.steps[0].regions == ([0.1, 0.2, 0.6, 0.3],)
    assert reply.overlay[0]["kind"] == "box"
    assert reply.usage == TokenUse(prompt=1000, completion=80, reasoning=30, calls=1)


@pytest.mark.parametrize(("content", "form"), [
    (f"```json\n{json.dumps(DOCUMENT)}\n```", "fenced"),
    (f"Sure! Here is my answer:\n{json.dumps(DOCUMENT)}\nHope that helps {{smile}}.", "embedded"),
])
def test_json_in_a_code_fence_or_in_prose_is_found(content: str, form: str) -> None:
    reply = parse_completion(completion(content))
    assert reply.form == form and reply.answer == "A jar of peanut butter." and len(reply.steps) == 1


def test_prose_becomes_a_plain_answer_with_no_steps_and_no_overlay() -> None:
    reply = parse_completion(completion("It's a **jar of peanut butter**, used as a spread on bread."))
    assert reply.form == "prose" and not reply.structured
    assert reply.answer == "It's a jar of peanut butter, used as a spread on bread."
    assert reply.steps == () and reply.overlay == ()


def test_a_tool_call_carrying_the_answer_is_read() -> None:
    reply = parse_completion(completion(None, tool_arguments=json.dumps(DOCUMENT)))
    assert reply.form == "tool_call" and reply.answer == "A jar of peanut butter."


def test_a_tool_call_that_is_not_an_answer_falls_back_to_the_content() -> None:
    raw = completion("A jar of peanut butter.", tool_arguments=json.dumps({"x": 1, "zoom": 2}))
    reply = parse_completion(raw)
    assert reply.form == "prose" and reply.answer == "A jar of peanut butter."


@pytest.mark.parametrize("raw", [
    {"choices": []},
    {"object": "error"},
    {"choices": [{"index": 0}]},
    completion(""),
    completion(None),
    completion("   \n"),
    {"choices": [{"message": {"role": "assistant", "content": None, "refusal": "I can't help with that."}}]},
    completion(None, tool_arguments="{not json"),
])
def test_garbage_is_an_error_never_an_answer(raw: dict[str, object]) -> None:
    with pytest.raises(GarbageReplyError):
        parse_completion(raw)


def test_json_without_an_answer_is_treated_as_prose_not_as_structure() -> None:
    reply = parse_completion(completion(json.dumps({"result": "peanut butter"})))
    assert reply.form == "prose" and reply.steps == ()


def test_odd_fields_are_tolerated_and_bounded() -> None:
    document = {"answer": "x" * 5000, "steps": ["a bare string step", {"text": ""}, 7,
                                                {"claim": "kind missing", "boxes": [[0, 0, 1, 1]]}],
                "overlay": ["not an item", {"kind": "box"}], "confidence": "high", "agreed": "yes"}
    reply = parse_completion(completion(json.dumps(document)))
    assert len(reply.answer) == 2000
    assert [(s.kind, s.text) for s in reply.steps] == [("reason", "a bare string step"), ("reason", "kind missing")]
    assert reply.steps[1].regions == ([0, 0, 1, 1],)
    assert len(reply.overlay) == 1 and reply.confidence is None and reply.agreed is None


def test_missing_usage_counts_the_call_with_no_tokens() -> None:
    raw = completion(json.dumps(DOCUMENT))
    del raw["usage"]
    assert parse_completion(raw).usage == TokenUse(calls=1)


def test_token_use_round_trips_through_its_trace_text() -> None:
    use = TokenUse(prompt=1200, completion=300, reasoning=100, calls=3)
    assert parse_token_use(use.describe("qwen2.5-vl")) == use
    assert parse_token_use("OCR read 4 text lines") is None
