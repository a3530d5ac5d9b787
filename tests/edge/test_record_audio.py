"""The voice path in a recording: a session listening to a wav records every audio chunk (the very samples
the front end heard, in order) and each utterance recognised, and the recorded track plays back as an audio
source with the same samples and timing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from eyeline.devices.audio import SPEECH_RATE, AudioFileSource, Samples, read_audio_file
from eyeline.devices.recording import MissingChannelError, RecordingReader
from eyeline.devices.replay import RecordedAudioSource
from eyeline.edge.messages import Answer
from eyeline.edge.recording.recorder import RecordingAudioSource, SessionRecorder, record_turns
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.asr import Transcript
from eyeline.edge.voice.front_end import PushToTalk, VoiceFrontEnd
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock

SPOKEN = "he was not an ill disposed young man"


class ScriptedTranscriber:
    """Hears the scripted text for every segment (the real recogniser is tested elsewhere)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.segments = 0

    async def transcribe(self, samples: Samples) -> Transcript:
        self.segments += 1
        return Transcript(self.text, "en", 0.8)


class ScriptedCloud:
    def __init__(self) -> None:
        self.asked: list[UtteranceOut | None] = []

    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        self.asked.append(utterance)
        return f"q{len(self.asked)}"

    async def answer(self, query_id: str) -> Answer:
        return Answer(query_id, "an answer", 1, "t", "", True)


@pytest.fixture
def wav(shared_data: Path) -> Path:
    return shared_data / "speech" / "pocketsphinx_librivox_0880.wav"


async def _record_listening(wav: Path, path: Path) -> tuple[list[Samples], ScriptedTranscriber]:
    """Listen to ``wav`` through the recorder with the button held throughout; the chunks the front end got."""
    clock = VirtualClock(1_000_000_000)
    heard: list[Samples] = []
    recorder = SessionRecorder(path, clock=clock)
    recorder.open()
    source = RecordingAudioSource(AudioFileSource(wav, clock=clock), recorder)
    transcriber = ScriptedTranscriber(SPOKEN)
    front = VoiceFrontEnd(_Tap(source, heard), transcriber, ScriptedCloud(), clock=clock,
                          gate=PushToTalk(clock, ((0, 10**12),)), on_turn=record_turns(recorder))
    try:
        await front.run()
    finally:
        await recorder.aclose()
    return heard, transcriber


class _Tap:
    """Notes the samples of every chunk that passes."""

    def __init__(self, source: RecordingAudioSource, seen: list[Samples]) -> None:
        self._source = source
        self._seen = seen
        self.sample_rate = SPEECH_RATE

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        async for chunk in self._source:
            self._seen.append(chunk.samples)
            yield chunk

    async def aclose(self) -> None:
        await self._source.aclose()


def _pcm(chunks: Sequence[Samples]) -> np.ndarray:
    return np.rint(np.concatenate(chunks) * 32768).astype(np.int32)


async def test_a_recording_made_while_listening_holds_the_audio_and_the_utterances(wav: Path,
                                                                                  tmp_path: Path) -> None:
    path = tmp_path / "voice.mcap"
    heard, transcriber = await _record_listening(wav, path)
    reader = RecordingReader(path, required=(layout.AUDIO, layout.UTTERANCES))
    audio = [m for m in reader.messages(frozenset({layout.AUDIO}))]
    utterances = [m.message for m in reader.messages(frozenset({layout.UTTERANCES}))]

    assert [m.message.seq for m in audio] == list(range(len(heard)))
    assert {m.message.sample_rate for m in audio} == {SPEECH_RATE}
    recorded = np.concatenate([np.frombuffer(m.message.pcm_s16le, dtype="<i2") for m in audio]).astype(np.int32)
    samples, _ = read_audio_file(wav)
    np.testing.assert_array_equal(recorded, _pcm(heard))
    np.testing.assert_array_equal(recorded, _pcm([samples]))
    assert transcriber.segments >= 1
    assert [u.text for u in utterances] == [SPOKEN] * transcriber.segments
    first, last = audio[0].message.capture_ns, audio[-1].message.capture_ns
    assert all(first <= u.start_ns < u.end_ns <= last + 10**9 for u in utterances)


async def test_the_recorded_audio_replays_as_an_audio_source(wav: Path, tmp_path: Path) -> None:
    path = tmp_path / "voice.mcap"
    heard, _ = await _record_listening(wav, path)
    recorded = [m.message for m in RecordingReader(path).messages(frozenset({layout.AUDIO}))]
    clock = VirtualClock(50_000_000_000)
    replay = RecordedAudioSource(path, clock=clock)
    chunks = [chunk async for chunk in replay]

    assert replay.sample_rate == SPEECH_RATE
    assert [c.seq for c in chunks] == [r.seq for r in recorded]
    for chunk, samples in zip(chunks, heard, strict=True):
        np.testing.assert_array_equal(chunk.samples, samples)
    # Same spacing as recorded, shifted to the replay's start.
    offsets = [c.capture_ns - chunks[0].capture_ns for c in chunks]
    assert offsets == [r.capture_ns - recorded[0].capture_ns for r in recorded]
    assert chunks[0].capture_ns == 50_000_000_000
    assert clock.now_ns() == chunks[-1].end_ns


async def test_replaying_audio_from_a_recording_without_any_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silent.mcap"
    recorder = SessionRecorder(path)
    recorder.open()
    await recorder.aclose()
    with pytest.raises(MissingChannelError, match=r"silent\.mcap.*/audio"):
        [chunk async for chunk in RecordedAudioSource(path, clock=VirtualClock())]
