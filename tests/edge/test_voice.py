"""The voice front end with the real VAD and scripted stand-ins for the recogniser and the cloud: what is
heard becomes the right query with its timing, hands-free and push-to-talk differ as they should, spoken
answers can be repeated and stopped, and audio without speech (or at a wrong rate) asks nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from eyeline.devices.audio import SPEECH_RATE, ArraySource, MicrophoneSource, Samples
from eyeline.devices.base import DeviceNotFoundError
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Answer
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.asr import Transcript
from eyeline.edge.voice.front_end import PushToTalk, TalkGate, VoiceFrontEnd
from eyeline.edge.voice.speech import EspeakSynthesizer, SpokenAudio
from eyeline.edge.voice.vad import SileroVad
from eyeline.protos.clock import VirtualClock
from tests.speech_helpers import spoken

_NS = 1_000_000_000


class ScriptedTranscriber:
    """Hears the scripted texts in order, whatever was said (the real recogniser is tested elsewhere)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = list(texts)
        self.heard: list[int] = []

    async def transcribe(self, samples: Samples) -> Transcript:
        self.heard.append(len(samples))
        return Transcript(self._texts.pop(0), "en", 0.9)


class ScriptedCloud:
    def __init__(self, fail: bool = False) -> None:
        self.asked: list[tuple[str, str, UtteranceOut | None]] = []
        self._fail = fail

    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        self.asked.append((text, mode, utterance))
        return f"q{len(self.asked)}"

    async def answer(self, query_id: str) -> Answer:
        if self._fail:
            raise EdgeError("unsupported: no skill can answer")
        return Answer(query_id, f"answer to {query_id}", 1, "t", "", True)


class RecordingOutput:
    def __init__(self) -> None:
        self.said: list[SpokenAudio] = []
        self.stops = 0

    async def say(self, audio: SpokenAudio) -> None:
        self.said.append(audio)

    async def stop(self) -> None:
        self.stops += 1


class TextSynthesizer:
    """Records what it was asked to say; while ``held`` it never finishes, like a long answer being spoken."""

    def __init__(self, *, held: bool = False) -> None:
        self.texts: list[str] = []
        self._release = asyncio.Event()
        if not held:
            self._release.set()

    async def synthesize(self, text: str) -> SpokenAudio:
        self.texts.append(text)
        await self._release.wait()
        return SpokenAudio(np.zeros(SPEECH_RATE // 10, np.float32), SPEECH_RATE)


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


async def _speech(*phrases: str) -> tuple[Samples, list[tuple[int, int]]]:
    """The phrases said one after another, and each one's span in capture ns (from 0)."""
    parts, spans, offset = [], [], 0
    for phrase in phrases:
        audio = await spoken(phrase)
        spans.append((offset * _NS // SPEECH_RATE, (offset + len(audio)) * _NS // SPEECH_RATE))
        parts.append(audio)
        offset += len(audio)
    return np.concatenate(parts), spans


def _front(samples: Samples, texts: Sequence[str], cloud: ScriptedCloud, vad: SileroVad, *,
           gate: TalkGate | None = None, output: RecordingOutput | None = None,
           synthesizer: TextSynthesizer | None = None,
           rate: int = SPEECH_RATE) -> tuple[VoiceFrontEnd, ScriptedTranscriber]:
    clock = VirtualClock()
    vad.reset()
    transcriber = ScriptedTranscriber(texts)
    front = VoiceFrontEnd(ArraySource(samples, rate, clock=clock), transcriber, cloud, gate=gate, clock=clock,
                          vad=vad, output=output,
                          synthesizer=synthesizer or (EspeakSynthesizer() if output else None))
    return front, transcriber


async def test_hands_free_asks_known_questions_with_their_timing_and_ignores_open_talk(vad: SileroVad) -> None:
    samples, spans = await _speech("which has the most protein", "what time is it", "think harder")
    cloud = ScriptedCloud()
    front, _ = _front(samples, ["Which has the most protein?", "What time is it?", "Think harder."], cloud, vad)
    await front.run()
    assert [(text, mode) for text, mode, _ in cloud.asked] == [
        ("Which has the most protein?", ""), ("Which has the most protein?", "thinking")]
    assert [turn.intent.kind for turn in front.turns] == ["ask", "ignore", "deepen"]
    first, third = cloud.asked[0][2], cloud.asked[1][2]
    assert first is not None and third is not None
    assert first.text == "Which has the most protein?" and third.text == "Think harder."
    for utterance, (start, end) in ((first, spans[0]), (third, spans[2])):
        assert start <= utterance.start_ns < utterance.end_ns <= end
    assert front.turns[0].answer == "answer to q1" and front.stats.queries == 2


async def test_push_to_talk_hears_only_while_held_and_asks_open_questions(vad: SileroVad) -> None:
    samples, spans = await _speech("which has the most protein", "what time is it")
    cloud = ScriptedCloud()
    gate = PushToTalk(intervals=((spans[1][0], spans[1][1]),))
    front, transcriber = _front(samples, ["What time is it?"], cloud, vad, gate=gate)
    await front.run()
    assert len(transcriber.heard) == 1
    assert [text for text, _, _ in cloud.asked] == ["What time is it?"]


def test_a_push_to_talk_button_stamps_the_clock() -> None:
    clock = VirtualClock(start_ns=10)
    button = PushToTalk(clock)
    assert not button.is_open(10)
    button.press()
    clock._now_ns = 50
    assert button.is_open(20)
    button.release()
    assert button.is_open(49) and not button.is_open(50) and not button.is_open(5)


async def test_repeat_speaks_the_last_answer_again(vad: SileroVad) -> None:
    samples, _ = await _speech("which has the most protein", "repeat that")
    output, synthesizer = RecordingOutput(), TextSynthesizer()
    front, _ = _front(samples, ["Which has the most protein?", "Repeat that."], ScriptedCloud(), vad,
                      output=output, synthesizer=synthesizer)
    await front.run()
    assert [turn.intent.kind for turn in front.turns] == ["ask", "repeat"]
    # The repeat may replace the first reading before it was heard, but it is itself spoken to the end.
    assert synthesizer.texts[-1] == "answer to q1" and 1 <= len(synthesizer.texts) <= 2
    assert 1 <= len(output.said) <= 2 and output.stops == 0


async def test_stop_cuts_off_the_answer_being_spoken(vad: SileroVad) -> None:
    samples, _ = await _speech("which has the most protein", "stop")
    output, synthesizer = RecordingOutput(), TextSynthesizer(held=True)
    front, _ = _front(samples, ["Which has the most protein?", "Stop."], ScriptedCloud(), vad,
                      output=output, synthesizer=synthesizer)
    await asyncio.wait_for(front.run(), 30)   # the answer never finishes on its own: only "stop" ends it
    assert [turn.intent.kind for turn in front.turns] == ["ask", "stop"]
    assert synthesizer.texts == ["answer to q1"]
    assert output.said == [] and output.stops == 1


async def test_a_refused_question_is_recorded_and_the_front_end_goes_on(vad: SileroVad) -> None:
    samples, _ = await _speech("how do I descale this", "next")
    front, _ = _front(samples, ["How do I descale this?", "Next."], ScriptedCloud(fail=True), vad)
    await front.run()
    assert [(t.intent.skill, t.intent.kind) for t in front.turns] == [("repair", "ask"), ("", "next")]
    assert all("no skill" in t.error for t in front.turns)


def _noise(kind: str) -> Samples:
    rng = np.random.default_rng(3)
    if kind == "silence":
        return np.zeros(3 * SPEECH_RATE, np.float32)
    if kind == "noise":
        return (0.2 * rng.standard_normal(3 * SPEECH_RATE)).astype(np.float32)
    return np.clip(10 * rng.standard_normal(3 * SPEECH_RATE), -1, 1).astype(np.float32)   # clipped


@pytest.mark.parametrize("kind", ["silence", "noise", "clipped"])
async def test_audio_without_speech_asks_nothing(kind: str, vad: SileroVad) -> None:
    cloud = ScriptedCloud()
    front, transcriber = _front(_noise(kind), [], cloud, vad)
    await front.run()
    assert cloud.asked == [] and transcriber.heard == [] and front.turns == []
    assert front.stats.chunks > 80


async def test_audio_at_a_wrong_sample_rate_is_refused_without_a_query(vad: SileroVad) -> None:
    audio = await EspeakSynthesizer().synthesize("which has the most protein")
    assert audio.sample_rate != SPEECH_RATE
    cloud = ScriptedCloud()
    front, transcriber = _front(audio.samples, ["unused"], cloud, vad, rate=audio.sample_rate)
    await front.run()
    assert cloud.asked == [] and transcriber.heard == []
    assert front.stats.rejected_chunks == front.stats.chunks > 0


async def test_a_missing_microphone_stops_the_front_end_with_its_own_error(vad: SileroVad) -> None:
    front = VoiceFrontEnd(MicrophoneSource("no-such-microphone-anywhere"), ScriptedTranscriber([]), ScriptedCloud(),
                          vad=vad)
    with pytest.raises(DeviceNotFoundError, match="no-such-microphone-anywhere"):
        await front.run()
