"""Spoken commands route to the right intent, skill and mode; talk that is no command is ignored."""

from __future__ import annotations

import pytest

from eyeline.edge.voice.intents import Intent, normalize, parse_intent


@pytest.mark.parametrize(("said", "kind", "skill", "mode"), [
    ("Which has the most protein?", "ask", "protein", ""),
    ("Which of these has the most protein? Think harder.", "ask", "protein", "thinking"),
    ("really think about which snack has the most protein", "ask", "protein", "contemplating"),
    ("How much salt is in this?", "ask", "protein", ""),
    ("Which has more fibre?", "ask", "protein", ""),
    ("How many carbs per serving?", "ask", "protein", ""),
    ("How do I descale this?", "ask", "repair", ""),
    ("What does this say?", "ask", "read", ""),
    ("What time is it?", "ask", "", ""),
    ("Next.", "next", "", ""),
    ("Okay, next step please.", "next", "", ""),
    ("Go back.", "back", "", ""),
    ("Repeat that.", "repeat", "", ""),
    ("Say it again", "repeat", "", ""),
    ("Think harder.", "deepen", "", "thinking"),
    ("Really think about it.", "deepen", "", "contemplating"),
    ("Stop.", "stop", "", ""),
    ("Never mind", "stop", "", ""),
    ("Turn on the living room lamp.", "ignore", "", ""),
    ("He was not an ill-disposed young man.", "ignore", "", ""),
    ("Thank you.", "ignore", "", ""),
    ("", "ignore", "", ""),
])
def test_what_was_said_routes_to_its_intent(said: str, kind: str, skill: str, mode: str) -> None:
    intent = parse_intent(said)
    assert (intent.kind, intent.skill, intent.mode) == (kind, skill, mode)


def test_a_question_keeps_its_words_and_controls_carry_none() -> None:
    assert parse_intent("  Which has the most protein?") == Intent("ask", "Which has the most protein?", "protein")
    assert parse_intent("next").text == ""


def test_only_questions_and_steps_make_queries() -> None:
    assert [parse_intent(s).makes_query for s in ("which has the most protein", "next", "repeat", "stop", "hello")] \
        == [True, True, False, False, False]


def test_normalize_drops_punctuation_fillers_and_politeness() -> None:
    assert normalize("Um, okay... Next-step, please!") == "next step"
    assert normalize("What's that?") == "what's that"
