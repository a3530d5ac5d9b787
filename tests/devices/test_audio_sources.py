"""Audio sources: files (wav, flac) resampled to 16 kHz mono with capture timestamps, in-memory arrays, and
the microphone's error path (no microphone exists where the tests run)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile

from eyeline.devices.audio import (
    SPEECH_RATE,
    ArraySource,
    AudioChunk,
    AudioDecodeError,
    AudioFileSource,
    AudioSource,
    MicrophoneSource,
    read_audio_file,
)
from eyeline.devices.base import DeviceError, DeviceNotFoundError
from eyeline.protos.clock import VirtualClock


async def _collect(source: AudioSource) -> list[AudioChunk]:
    return [chunk async for chunk in source]


def _tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


async def test_a_stereo_48k_recording_becomes_contiguous_16k_mono_chunks(shared_data: Path) -> None:
    path = shared_data / "speech" / "voice2json_what_time_is_it.wav"
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels) == (48_000, 2)
    source = AudioFileSource(path, clock=VirtualClock(start_ns=5_000), chunk_ms=20)
    chunks = await _collect(source)
    assert source.sample_rate == SPEECH_RATE and isinstance(source, AudioSource)
    assert all(c.sample_rate == SPEECH_RATE and c.samples.ndim == 1 for c in chunks)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert chunks[0].capture_ns == 5_000
    assert all(a.end_ns == b.capture_ns for a, b in itertools.pairwise(chunks))
    total = sum(len(c.samples) for c in chunks)
    assert abs(total / SPEECH_RATE - info.duration) < 0.01


async def test_flac_and_a_native_rate_are_read_too(shared_data: Path) -> None:
    path = shared_data / "speech" / "whisper_jfk.flac"
    samples, rate = read_audio_file(path, sample_rate=None)
    assert rate == soundfile.info(str(path)).samplerate and 10.5 < len(samples) / rate < 11.5
    assert np.abs(samples).max() <= 1.0


def test_resampling_keeps_the_pitch(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    soundfile.write(str(path), _tone(44_100, 1.0), 44_100)
    samples, rate = read_audio_file(path)
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * rate / len(samples)
    assert rate == SPEECH_RATE and abs(peak_hz - 440.0) < 2.0


def test_a_missing_file_and_a_file_that_is_not_audio_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFoundError, match=r"nope\.wav"):
        read_audio_file(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a wav file at all")
    with pytest.raises(AudioDecodeError, match=r"junk\.wav") as caught:
        read_audio_file(junk)
    assert isinstance(caught.value, DeviceError)
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, np.float32), 16_000)
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        read_audio_file(empty)


async def test_an_array_source_is_paced_on_its_clock() -> None:
    clock = VirtualClock()
    chunks = await _collect(ArraySource(np.zeros(16_000, np.float32), 16_000, clock=clock, chunk_ms=100))
    assert len(chunks) == 10
    assert clock.now_ns() == 1_000_000_000   # one second of audio took one second of (virtual) time
    assert chunks[-1].end_ns == clock.now_ns()


async def test_closing_a_file_source_ends_it(shared_data: Path) -> None:
    source = AudioFileSource(shared_data / "speech" / "whisper_jfk.flac", clock=VirtualClock())
    seen = 0
    async for _ in source:
        seen += 1
        if seen == 3:
            await source.aclose()
    assert seen == 3


async def test_a_microphone_that_does_not_exist_is_reported_by_name() -> None:
    source = MicrophoneSource("no-such-microphone-anywhere")
    with pytest.raises(DeviceNotFoundError, match="no-such-microphone-anywhere") as caught:
        await _collect(source)
    assert caught.value.retryable
    await source.aclose()
