"""Speech in a WebRTC audio track: the track as a feed of 16 kHz mono chunks, and the utterances found in it.

A browser or aiortc edge that sends an audio track sends everything its microphone hears, so the cloud finds
the speech itself: ``TrackAudioFeed`` follows the shape of the edge's ``AudioSource`` (an async iterator of
timestamped chunks at a stated sample rate, ``aclose()``), turning the track's 48 kHz stereo frames into
16 kHz mono as they arrive, through a bounded queue that drops the oldest chunk when the recogniser falls
behind. ``TrackSpeechSegmenter`` runs faster-whisper's Silero VAD over a rolling window and hands over each
utterance once a pause has closed it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eyeline.cloud.errors import CloudError
from eyeline.cloud.perception.speech import SPEECH_RATE, HeardAudio, Samples

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TrackChunk:
    seq: int
    capture_ns: int                    # when the cloud received the chunk's frame (cloud clock)
    samples: Samples = field(repr=False)
    sample_rate: int = SPEECH_RATE


def frame_samples(frame: Any) -> tuple[Samples, int, int]:
    """(interleaved float32 samples, channels, sample rate) of an ``av.AudioFrame`` (packed or planar)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if data.dtype == np.int16:
        data = data.astype(np.float32) / 32768.0
    samples = np.asarray(data, np.float32)
    if frame.format.is_planar:
        samples = samples.T                                  # (channels, n) -> (n, channels)
    return np.ascontiguousarray(samples.reshape(-1)), channels, int(frame.sample_rate)


class TrackAudioFeed:
    """A WebRTC audio track as 16 kHz mono chunks; ``offer`` is called by the track's drain, never blocks."""

    def __init__(self, *, queue_chunks: int = 256) -> None:
        self._queue: asyncio.Queue[TrackChunk | None] = asyncio.Queue(maxsize=queue_chunks)
        self._seq = itertools.count()
        self._resampler: Any = None
        self._layout: tuple[int, int] = (0, 0)
        self.dropped = 0

    @property
    def sample_rate(self) -> int:
        return SPEECH_RATE

    def offer(self, frame: Any, received_ns: int) -> None:
        """Resample one received frame (20 ms: cheap enough for the loop) and queue it."""
        samples, channels, rate = frame_samples(frame)
        if (channels, rate) != self._layout:
            import soxr

            self._resampler = soxr.ResampleStream(rate, SPEECH_RATE, channels, dtype="float32")
            self._layout = (channels, rate)
        out = self._resampler.resample_chunk(samples.reshape(-1, channels))
        mono = np.ascontiguousarray(np.asarray(out, np.float32).reshape(-1, channels).mean(axis=1))
        if len(mono):
            self._put(TrackChunk(next(self._seq), received_ns, mono))

    def _put(self, chunk: TrackChunk | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(chunk)

    async def __aiter__(self) -> AsyncIterator[TrackChunk]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        self._put(None)


class TrackSpeechError(CloudError):
    """Speech in an audio track cannot be found: faster-whisper (the `voice` extra) is missing."""


@dataclass(frozen=True, slots=True)
class TrackVadConfig:
    check_every_ms: int = 480          # how much new audio triggers a look for finished utterances
    min_silence_ms: int = 600          # a pause this long ends an utterance
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_utterance_s: float = 15.0      # an utterance still open at this length is handed over as it is


class TrackSpeechSegmenter:
    """Cuts a stream of 16 kHz chunks into utterances (blocking: run ``push`` and ``flush`` in a worker)."""

    def __init__(self, prefix: str, config: TrackVadConfig | None = None) -> None:
        try:
            from faster_whisper.vad import VadOptions, get_speech_timestamps
        except ImportError as exc:
            raise TrackSpeechError("finding speech in an audio track needs the `voice` extra") from exc
        self.config = config or TrackVadConfig()
        self._find = get_speech_timestamps
        self._options = VadOptions(min_silence_duration_ms=self.config.min_silence_ms,
                                   min_speech_duration_ms=self.config.min_speech_ms,
                                   speech_pad_ms=self.config.pad_ms)
        self._prefix = prefix
        self._ids = itertools.count(1)
        self._buffer = np.zeros(0, np.float32)
        self._start_ns = 0
        self._unchecked = 0

    def push(self, chunk: TrackChunk) -> list[HeardAudio]:
        if len(self._buffer) == 0:
            self._start_ns = chunk.capture_ns
        self._buffer = np.concatenate([self._buffer, chunk.samples])
        self._unchecked += len(chunk.samples)
        if self._unchecked < self.config.check_every_ms * SPEECH_RATE // 1000:
            return []
        self._unchecked = 0
        return self._cut(final=len(self._buffer) >= self.config.max_utterance_s * SPEECH_RATE)

    def flush(self) -> list[HeardAudio]:
        """The track ended: hand over whatever speech is left."""
        return self._cut(final=True)

    def _cut(self, *, final: bool) -> list[HeardAudio]:
        spans = self._find(self._buffer, self._options) if len(self._buffer) else []
        closed_before = len(self._buffer) - self.config.min_silence_ms * SPEECH_RATE // 1000
        done = [span for span in spans if final or span["end"] <= closed_before]
        heard = [self._heard(int(span["start"]), int(span["end"])) for span in done]
        if done:
            keep_from = int(done[-1]["end"])
        elif spans:
            keep_from = int(spans[0]["start"])
        else:   # no speech: keep only a pad's worth, so a word starting now keeps its beginning
            keep_from = max(0, len(self._buffer) - self.config.pad_ms * SPEECH_RATE // 1000)
        self._drop(len(self._buffer) if final else keep_from)
        return heard

    def _heard(self, start: int, end: int) -> HeardAudio:
        return HeardAudio(f"{self._prefix}-{next(self._ids)}", self._at(start), self._at(end),
                          np.ascontiguousarray(self._buffer[start:end]))

    def _at(self, index: int) -> int:
        return self._start_ns + index * _NS_PER_S // SPEECH_RATE

    def _drop(self, count: int) -> None:
        self._start_ns = self._at(count)
        self._buffer = self._buffer[count:]
