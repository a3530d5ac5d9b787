"""The streaming recogniser's decisions with a scripted stand-in for Whisper: when a partial decode starts, when
what was said ends the utterance, and which transcript is final (the real recogniser: tests/integration)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from eyeline.devices.audio import Samples
from eyeline.edge.messages import Answer
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.asr import Transcript
from eyeline.edge.voice.endpoint import EndpointConfig
from eyeline.edge.voice.listen import ListenOptions, PartialPrinter, voice_front_end
from eyeline.edge.voice.streaming import Partial, StreamingRecognizer
from eyeline.edge.voice.vad import OpenUtterance, SpeechSegment
from eyeline.protos.clock import VirtualClock

_MS = 1_000_000
_TIMEOUT_MS = 600


class HeldTranscriber:
    """Hears the scripted texts in order; each decode waits until the test lets it finish."""

    def __init__(self, *texts: str) -> None:
        self._texts = list(texts)
        self.calls: list[int] = []
        self.go = asyncio.Event()
        self.go.set()

    async def transcribe(self, samples: Samples) -> Transcript:
        self.calls.append(len(samples))
        await self.go.wait()
        return Transcript(self._texts.pop(0), "en", 0.9)


class ScriptedAsker:
    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        return "q"

    async def answer(self, query_id: str) -> Answer:
        return Answer(query_id, "", 0, "", "", True)


def _view(last_speech_ms: int, end_ms: int, start_ms: int = 0) -> OpenUtterance:
    return OpenUtterance(start_ms * _MS, last_speech_ms * _MS, end_ms * _MS)


def _segment(end_ms: int) -> SpeechSegment:
    return SpeechSegment(0, end_ms * _MS, np.zeros(16 * end_ms, np.float32))


def _recognizer(transcriber: HeldTranscriber, partials: list[Partial] | None = None) -> StreamingRecognizer:
    hook = partials.append if partials is not None else None
    return StreamingRecognizer(transcriber, VirtualClock(), silence_timeout_ms=_TIMEOUT_MS,
                               config=EndpointConfig(complete_pause_ms=200, decode_every_ms=400,
                                                     pause_decode_ms=96), on_partial=hook)


async def _decode(recognizer: StreamingRecognizer, view: OpenUtterance) -> None:
    assert recognizer.wants_decode(view)
    recognizer.start_decode(np.zeros(16 * (view.end_ns // _MS), np.float32), view)
    await asyncio.sleep(0.01)


async def test_partials_come_every_400_ms_of_speech_and_at_once_when_a_pause_starts() -> None:
    partials: list[Partial] = []
    recognizer = _recognizer(HeldTranscriber("which of", "which of these has the most"), partials)
    assert not recognizer.wants_decode(_view(300, 300))            # not 400 ms of speech yet
    await _decode(recognizer, _view(420, 420))
    assert not recognizer.wants_decode(_view(700, 700))            # 280 ms since the last decode
    assert recognizer.wants_decode(_view(760, 830))                # 400 ms of new audio
    await _decode(recognizer, _view(900, 1000))                    # a 100 ms pause: decode now
    assert not recognizer.wants_decode(_view(900, 1100))           # already heard all the speech
    assert [p.transcript.text for p in partials] == ["which of", "which of these has the most"]
    assert [p.audio_end_ns // _MS for p in partials] == [420, 1000]
    await recognizer.aclose()


async def test_only_one_decode_runs_at_a_time() -> None:
    transcriber = HeldTranscriber("which", "which of these")
    transcriber.go.clear()
    recognizer = _recognizer(transcriber)
    recognizer.start_decode(np.zeros(16 * 400, np.float32), _view(400, 400))
    await asyncio.sleep(0)
    assert not recognizer.wants_decode(_view(1000, 1000))
    transcriber.go.set()
    await asyncio.sleep(0.01)
    assert recognizer.wants_decode(_view(1000, 1000))
    await recognizer.aclose()


async def test_a_complete_question_ends_after_a_short_pause_and_its_partial_is_final() -> None:
    transcriber = HeldTranscriber("Which has the least sugar?")
    recognizer = _recognizer(transcriber)
    await _decode(recognizer, _view(1200, 1300))
    assert not recognizer.wants_end(_view(1200, 1350))             # 150 ms of quiet: not yet
    assert recognizer.wants_end(_view(1200, 1410))                 # 210 ms
    final = await recognizer.finish(_segment(1200))
    assert final.transcript.text == "Which has the least sugar?"
    assert len(transcriber.calls) == 1                             # no decode after the end
    assert recognizer.early_ends == 1
    await recognizer.aclose()


async def test_an_incomplete_question_waits_for_the_timeout() -> None:
    recognizer = _recognizer(HeldTranscriber("How much protein is in the"))
    await _decode(recognizer, _view(1200, 1300))
    assert not recognizer.wants_end(_view(1200, 1700))             # 500 ms: the timeout (600) will close it
    assert recognizer.early_ends == 0
    await recognizer.aclose()


async def test_speech_after_the_partial_keeps_the_utterance_open() -> None:
    recognizer = _recognizer(HeldTranscriber("Which one has the most protein?"))
    await _decode(recognizer, _view(1200, 1300))
    assert not recognizer.wants_end(_view(1500, 1800))             # "... think harder" followed
    await recognizer.aclose()


async def test_the_final_transcript_waits_for_a_decode_in_flight_that_covers_the_speech() -> None:
    transcriber = HeldTranscriber("Next", "Next step.")
    recognizer = _recognizer(transcriber)
    await _decode(recognizer, _view(400, 400))
    transcriber.go.clear()
    recognizer.start_decode(np.zeros(16 * 900, np.float32), _view(800, 900))
    final = recognizer.finish(_segment(800))
    await asyncio.sleep(0)
    assert not final.done()
    transcriber.go.set()
    assert (await final).transcript.text == "Next step."
    assert len(transcriber.calls) == 2
    await recognizer.aclose()


async def test_without_a_covering_partial_the_whole_utterance_is_decoded_once_more() -> None:
    partials: list[Partial] = []
    transcriber = HeldTranscriber("go", "go back")
    recognizer = _recognizer(transcriber, partials)
    await _decode(recognizer, _view(400, 400))
    final = await recognizer.finish(_segment(700))
    assert final.transcript.text == "go back"
    assert transcriber.calls == [16 * 400, 16 * 700]
    assert [p.transcript.text for p in partials] == ["go"]          # the final is not offered as a partial
    await recognizer.aclose()


async def test_a_decode_of_a_closed_utterance_is_not_the_next_ones_partial() -> None:
    transcriber = HeldTranscriber("stale words", "stop", "stop")
    transcriber.go.clear()
    recognizer = _recognizer(transcriber)
    recognizer.start_decode(np.zeros(16 * 400, np.float32), _view(400, 400))
    final = recognizer.finish(_segment(600))                        # the decode in flight heard only 400 ms
    transcriber.go.set()
    assert (await final).transcript.text == "stop"
    assert not recognizer.wants_end(_view(300, 600, start_ms=100))  # no partial of this utterance yet
    await recognizer.aclose()


def test_listening_streams_with_the_edges_recogniser_but_not_with_the_clouds(tmp_path: Path) -> None:
    asker = ScriptedAsker()
    ours = voice_front_end(asker, ListenOptions(str(tmp_path / "q.wav")), VirtualClock())
    assert ours.streaming is not None
    theirs = voice_front_end(asker, ListenOptions(str(tmp_path / "q.wav"), asr="cloud"), VirtualClock(),
                             transcriber=HeldTranscriber())
    assert theirs.streaming is None                  # the cloud would be sent the growing utterance again and again
    baseline = voice_front_end(asker, ListenOptions(str(tmp_path / "q.wav"), streaming=False), VirtualClock())
    assert baseline.streaming is None


def test_the_wearer_sees_each_new_partial_once(capsys: pytest.CaptureFixture[str]) -> None:
    printer = PartialPrinter()
    for text in ("which", "which of these", "which of these", ""):
        printer(Partial(Transcript(text, "en", 0.9), 0, 0))
    assert capsys.readouterr().out.splitlines() == ["hearing: 'which'", "hearing: 'which of these'"]
