"""Silero VAD on real speech and on audio that holds none: segments bracket the speech; silence, noise,
clipped noise and a wrong sample rate make no segment and no crash."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from eyeline.devices.audio import SPEECH_RATE, ArraySource, AudioChunk, AudioFileSource, AudioSource
from eyeline.edge.voice.vad import AudioFormatError, SileroVad, SpeechSegment, SpeechSegmenter, VadConfig
from eyeline.protos.clock import VirtualClock

_NS = 1_000_000_000


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


async def _segments(source: AudioSource, vad: SileroVad, config: VadConfig | None = None) -> list[SpeechSegment]:
    vad.reset()
    segmenter = SpeechSegmenter(vad, config)
    found = [segment async for chunk in source for segment in segmenter.push(chunk)]
    return found + segmenter.flush()


async def test_one_command_is_one_segment_inside_the_recording(shared_data: Path, vad: SileroVad) -> None:
    path = shared_data / "speech" / "wyoming_turn_on_the_living_room_lamp.wav"
    (segment,) = await _segments(AudioFileSource(path, clock=VirtualClock(start_ns=_NS)), vad)
    assert _NS <= segment.start_ns < segment.end_ns <= _NS + 3 * _NS
    assert 0.8 < (segment.end_ns - segment.start_ns) / _NS < 2.5
    assert segment.sample_rate == SPEECH_RATE and segment.duration_ms >= (segment.end_ns - segment.start_ns) // 10**6


async def test_pauses_split_a_speech_and_a_long_pause_setting_keeps_it_whole(shared_data: Path,
                                                                              vad: SileroVad) -> None:
    path = shared_data / "speech" / "whisper_jfk.flac"
    split = await _segments(AudioFileSource(path, clock=VirtualClock()), vad)
    whole = await _segments(AudioFileSource(path, clock=VirtualClock()), vad, VadConfig(min_silence_ms=1500))
    assert len(split) >= 3 and len(whole) == 1
    assert all(a.end_ns < b.start_ns for a, b in itertools.pairwise(split))
    assert whole[0].start_ns <= split[0].start_ns and whole[0].end_ns >= split[-1].end_ns


async def test_a_monologue_is_cut_at_the_length_cap(shared_data: Path, vad: SileroVad) -> None:
    path = shared_data / "speech" / "whisper_jfk.flac"
    config = VadConfig(min_silence_ms=3000, max_utterance_ms=3000)
    found = await _segments(AudioFileSource(path, clock=VirtualClock()), vad, config)
    assert len(found) >= 3 and all(s.duration_ms <= 3000 for s in found)


def _no_speech() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "silence": np.zeros(3 * SPEECH_RATE, np.float32),
        "noise": (0.1 * rng.standard_normal(3 * SPEECH_RATE)).astype(np.float32),
        "clipped": np.clip(8 * rng.standard_normal(3 * SPEECH_RATE), -1, 1).astype(np.float32),
        "hum": (0.9 * np.sign(np.sin(2 * np.pi * 50 * np.arange(3 * SPEECH_RATE) / SPEECH_RATE))).astype(np.float32),
    }


@pytest.mark.parametrize("kind", sorted(_no_speech()))
async def test_audio_without_speech_makes_no_segment(kind: str, vad: SileroVad) -> None:
    samples = _no_speech()[kind]
    assert await _segments(ArraySource(samples, SPEECH_RATE, clock=VirtualClock()), vad) == []


def test_a_wrong_sample_rate_is_refused_by_name(vad: SileroVad) -> None:
    segmenter = SpeechSegmenter(vad)
    chunk = AudioChunk(4, 0, np.zeros(1411, np.float32), 44_100)
    with pytest.raises(AudioFormatError, match="chunk 4 is at 44100 Hz"):
        segmenter.push(chunk)
    with pytest.raises(AudioFormatError, match="512"):
        vad.probability(np.zeros(100, np.float32))
