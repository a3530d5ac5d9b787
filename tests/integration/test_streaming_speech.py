"""Streaming recognition with the real models (Silero VAD, packaged Whisper base on a fitted window), spoken
questions played in real time: partial transcripts arrive while the question is still being said, a complete
question ends well before the silence timeout with its last partial as the transcript, and a question with a pause
after words that cannot end a question is not cut there."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from eyeline.devices.audio import SPEECH_RATE, ArraySource, Samples
from eyeline.edge.messages import Answer
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.asr import WhisperTranscriber, streaming_options
from eyeline.edge.voice.front_end import PushToTalk, VoiceFrontEnd, VoiceOptions
from eyeline.edge.voice.intents import normalize
from eyeline.edge.voice.streaming import Partial
from eyeline.edge.voice.vad import VadConfig
from eyeline.protos.clock import MonotonicClock
from tests.speech_helpers import spoken

pytestmark = pytest.mark.slow


class Listener:
    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        return "q"

    async def answer(self, query_id: str) -> Answer:
        return Answer(query_id, "", 0, "", "", True)


@pytest.fixture(scope="module")
def fitted() -> Iterator[WhisperTranscriber]:
    transcriber = WhisperTranscriber(streaming_options())
    transcriber.load()
    yield transcriber
    transcriber.close()


def _trimmed(samples: Samples) -> Samples:
    """Without the synthesizer's own silence before and after the words."""
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0]:loud[-1] + 1]


async def _stream(samples: Samples, transcriber: WhisperTranscriber,
                  silence_timeout_ms: int = 600) -> tuple[VoiceFrontEnd, list[Partial]]:
    clock = MonotonicClock()
    partials: list[Partial] = []
    options = VoiceOptions(streaming=True, vad=VadConfig(min_silence_ms=silence_timeout_ms))
    front = VoiceFrontEnd(ArraySource(samples, SPEECH_RATE, clock=clock), transcriber, Listener(), clock=clock,
                          gate=PushToTalk(clock, intervals=((0, 1 << 62),)), options=options,
                          on_partial=partials.append)
    await front.run()
    return front, partials


async def test_partials_arrive_while_speaking_and_a_complete_question_ends_early(
        fitted: WhisperTranscriber) -> None:
    # A long silence timeout (2 s), so that only what was said can end the utterance sooner, however busy the CPU.
    samples = await spoken("Which of these has the most protein?", "en-gb", tail_s=2.5)
    front, partials = await _stream(samples, fitted, silence_timeout_ms=2000)
    [turn] = front.turns
    assert (turn.intent.kind, turn.intent.skill) == ("ask", "protein")
    assert any(p.audio_end_ns < turn.heard.end_ns for p in partials)      # heard before the last word
    assert front.streaming is not None and front.streaming.early_ends == 1
    assert partials[-1].transcript.text == turn.heard.text                # the final needed no more decoding
    assert turn.heard.heard_ns - turn.heard.end_ns < 2000 * 1_000_000


async def test_a_pause_after_an_incomplete_question_does_not_end_it(fitted: WhisperTranscriber) -> None:
    first = _trimmed(await spoken("Which of these has the most", "en-us", lead_s=0.0, tail_s=0.0))
    second = _trimmed(await spoken("protein", "en-us", lead_s=0.0, tail_s=0.0))
    lead, pause, tail = (np.zeros(int(s * SPEECH_RATE), np.float32) for s in (0.5, 0.4, 1.0))
    # 400 ms of silence: twice what ends a complete question, less than the 600 ms timeout.
    front, partials = await _stream(np.concatenate([lead, first, pause, second, tail]), fitted)
    assert [(t.intent.kind, t.intent.skill) for t in front.turns] == [("ask", "protein")], \
        [t.heard.text for t in front.turns]
    assert normalize(front.turns[0].heard.text).endswith("the most protein")   # one utterance, both halves
    assert any("protein" not in p.transcript.text.lower() for p in partials)   # heard in the pause, not ended
