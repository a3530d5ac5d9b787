"""When a spoken question is over by what was said, and the fitted window's cut of a decoding that starts over."""

from __future__ import annotations

import pytest

from eyeline.edge.voice.endpoint import EndpointConfig, is_complete, pause_needed_ms
from eyeline.edge.voice.fitted import restart_cut, without_restated


@pytest.mark.parametrize("text", [
    "Which of these has the most protein?", "which has the least sugar", "How do I descale this?",
    "What does this say?", "What time is it?", "Next step.", "Go back", "Stop.", "Think harder.",
    "Really think about it.", "Which one has the most protein? Think harder.", "ok, how many calories are in it",
])
def test_whole_questions_and_commands_are_complete(text: str) -> None:
    assert is_complete(text)


@pytest.mark.parametrize("text", [
    "How much protein is in the", "Which of these has the most", "which one has the", "How do I",
    "Which of these", "What is in the", "Which one has the most protein,", "How do I descale this...",
    "turn on the living room lamp", "he was not an ill disposed young man", "", "um",
])
def test_questions_that_trail_off_and_talk_that_is_no_query_are_not(text: str) -> None:
    assert not is_complete(text)


def test_a_complete_question_needs_a_short_pause_and_an_incomplete_one_the_full_timeout() -> None:
    config = EndpointConfig(complete_pause_ms=180)
    assert pause_needed_ms("Which has the least sugar?", config, 600) == 180
    assert pause_needed_ms("Which has the least", config, 600) == 600
    assert pause_needed_ms("and so my fellow", config, 900) == 900


def test_a_decoding_that_starts_the_text_over_is_cut_where_it_restarts() -> None:
    assert restart_cut([10, 11, 12, 13, 10, 11, 12, 13, 10]) == [10, 11, 12, 13]
    assert restart_cut([7, 8, 7, 8]) == [7, 8]                  # "Stop. Stop."
    assert restart_cut([1, 2, 3, 4, 2, 3, 5]) == [1, 2, 3, 4, 2, 3, 5]   # a phrase said twice inside stays
    assert restart_cut([9, 9, 9]) == [9, 9, 9]                  # "no, no, no": no whole restart
    assert restart_cut([]) == []


def test_a_sentence_said_over_again_is_dropped_and_different_sentences_are_kept() -> None:
    assert without_restated("Which of the least sugar? Which has the least sugar? Which has the least") == \
        "Which of the least sugar?"
    assert without_restated("Stop. Stop.") == "Stop."
    assert without_restated("Which one? Which one has the most protein?") == \
        "Which one? Which one has the most protein?"
    jfk = ("And so my fellow Americans. Ask not. What your country can do for you. "
           "Ask what you can do for your country.")
    assert without_restated(jfk) == jfk
    assert without_restated("") == ""
