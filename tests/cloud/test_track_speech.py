"""Speech in a WebRTC audio track: 48 kHz stereo frames to 16 kHz mono, and utterances found by the VAD."""

from __future__ import annotations

import av
import numpy as np
import pytest

from eyeline.cloud.perception.track_speech import TrackAudioFeed, TrackChunk, TrackSpeechSegmenter, frame_samples
from tests.speech_helpers import spoken

_NS = 1_000_000_000


def _frames(mono_16k: np.ndarray, *, planar: bool) -> list[av.AudioFrame]:
    """The signal as a browser sends it: 20 ms frames of 48 kHz stereo."""
    stereo48 = np.repeat(mono_16k, 3)
    pcm = (np.clip(stereo48, -1, 1) * 32767).astype(np.int16)
    frames = []
    for start in range(0, len(pcm) - 960 + 1, 960):
        piece = pcm[start:start + 960]
        if planar:
            frame = av.AudioFrame.from_ndarray(np.stack([piece, piece]), format="s16p", layout="stereo")
        else:
            frame = av.AudioFrame.from_ndarray(np.stack([piece, piece], axis=1).reshape(1, -1), format="s16",
                                               layout="stereo")
        frame.sample_rate = 48_000
        frames.append(frame)
    return frames


@pytest.mark.parametrize("planar", [False, True])
async def test_frames_come_out_as_16khz_mono_whatever_their_layout(planar: bool) -> None:
    tone = (0.5 * np.sin(2 * np.pi * 250 * np.arange(16_000) / 16_000)).astype(np.float32)
    frames = _frames(tone, planar=planar)
    samples, channels, rate = frame_samples(frames[0])
    assert (channels, rate, len(samples)) == (2, 48_000, 1920)
    feed = TrackAudioFeed()
    for index, frame in enumerate(frames):
        feed.offer(frame, index * 20_000_000)
    await feed.aclose()
    chunks = [chunk async for chunk in feed]
    out = np.concatenate([c.samples for c in chunks])
    assert all(c.sample_rate == 16_000 for c in chunks) and abs(len(out) - 16_000) < 400
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) * 16_000 / len(out) == pytest.approx(250, abs=3)


async def test_the_segmenter_hands_over_the_speech_and_nothing_of_the_silence() -> None:
    said = await spoken("What does this say?", lead_s=2.0, tail_s=2.0)
    segmenter = TrackSpeechSegmenter("t")
    heard = []
    for seq, start in enumerate(range(0, len(said), 320)):
        heard += segmenter.push(TrackChunk(seq, 10 * _NS + start * _NS // 16_000, said[start:start + 320]))
    heard += segmenter.flush()
    (utterance,) = heard
    assert utterance.utterance_id == "t-1"
    speech_s = len(said) / 16_000 - 4.0
    assert 11.5 * _NS <= utterance.start_ns <= 12.1 * _NS      # speech starts 2 s in, padded by 0.2 s
    assert len(utterance.samples) / 16_000 == pytest.approx(speech_s, abs=0.6)


def test_silence_alone_is_no_utterance() -> None:
    segmenter = TrackSpeechSegmenter("t")
    silence = np.zeros(16_000 * 3, np.float32)
    heard = [u for s in range(0, len(silence), 320) for u in segmenter.push(TrackChunk(0, 0, silence[s:s + 320]))]
    assert heard + segmenter.flush() == []
