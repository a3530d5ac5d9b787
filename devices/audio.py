"""Audio sources: a microphone, an audio file, and the protocol any other source (a recording's audio track,
a WebRTC audio track) follows to plug into the edge's voice front end.

Every source delivers mono float32 chunks in [-1, 1] at the sample rate it states; ``capture_ns`` is the
time of a chunk's first sample, taken once when the chunk was captured, on the source's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from eyeline.devices.base import DeviceError, DeviceNotFoundError, DeviceSpecError
from eyeline.protos.clock import Clock, MonotonicClock

Samples = npt.NDArray[np.float32]
"""Mono audio samples in [-1, 1]."""

SPEECH_RATE = 16_000
"""The sample rate speech models take; sources resample to it unless told otherwise."""

_NS_PER_S = 1_000_000_000


class AudioDecodeError(DeviceError):
    """A file that is not audio this project can read, or holds no samples."""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    seq: int
    capture_ns: int                    # time of the first sample
    samples: Samples = field(repr=False)
    sample_rate: int

    @property
    def duration_ns(self) -> int:
        return len(self.samples) * _NS_PER_S // self.sample_rate

    @property
    def end_ns(self) -> int:
        return self.capture_ns + self.duration_ns


@runtime_checkable
class AudioSource(Protocol):
    """An async iterator of audio chunks, paced by the source itself; ``aclose()`` releases the device.

    A recording's audio track or a WebRTC audio track plugs in by following this protocol.
    """

    @property
    def sample_rate(self) -> int: ...

    def __aiter__(self) -> AsyncIterator[AudioChunk]: ...

    async def aclose(self) -> None: ...


def to_mono(samples: npt.NDArray[Any]) -> Samples:
    """Average the channels of a (frames, channels) array; a 1-D array is already mono."""
    data = np.asarray(samples, dtype=np.float32)
    return data if data.ndim == 1 else np.ascontiguousarray(data.mean(axis=1, dtype=np.float32))


def resample(samples: Samples, from_rate: int, to_rate: int) -> Samples:
    """High-quality resampling of a whole signal (soxr)."""
    if from_rate == to_rate:
        return samples
    import soxr

    return np.asarray(soxr.resample(samples, from_rate, to_rate), dtype=np.float32)


def read_audio_file(path: Path, sample_rate: int | None = SPEECH_RATE) -> tuple[Samples, int]:
    """The whole file as mono float32 at ``sample_rate`` (``None`` = the file's own rate)."""
    if not path.is_file():
        raise DeviceNotFoundError(f"audio file {path} does not exist")
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioDecodeError(f"{path}: not a readable audio file ({exc})") from exc
    if len(data) == 0:
        raise AudioDecodeError(f"{path}: the file holds no audio samples")
    mono = to_mono(data)
    target = sample_rate or int(rate)
    return resample(mono, int(rate), target), target


def chunked(samples: Samples, sample_rate: int, chunk_ms: int) -> list[Samples]:
    size = max(1, sample_rate * chunk_ms // 1000)
    return [samples[start:start + size] for start in range(0, len(samples), size)]


async def paced_chunks(samples: Samples, sample_rate: int, chunk_ms: int, clock: Clock,
                       closed: Callable[[], bool]) -> AsyncIterator[AudioChunk]:
    """Chunks of ``samples`` as if spoken from now on: each is yielded once its last sample was "spoken"."""
    start_ns = clock.now_ns()
    offset = 0
    for seq, piece in enumerate(chunked(samples, sample_rate, chunk_ms)):
        if closed():
            return
        capture_ns = start_ns + offset * _NS_PER_S // sample_rate
        offset += len(piece)
        await clock.sleep_until(start_ns + offset * _NS_PER_S // sample_rate)
        yield AudioChunk(seq, capture_ns, piece, sample_rate)


class AudioFileSource:
    """A wav or flac file played as if spoken now: chunks paced on the clock, timestamped from the start."""

    def __init__(self, path: Path | str, *, clock: Clock | None = None, sample_rate: int | None = SPEECH_RATE,
                 chunk_ms: int = 32) -> None:
        if chunk_ms <= 0:
            raise DeviceSpecError(f"chunk_ms must be positive, got {chunk_ms}")
        self.path = Path(path)
        self._clock = clock or MonotonicClock()
        self._wanted_rate = sample_rate
        self._rate = sample_rate or 0
        self._chunk_ms = chunk_ms
        self._closed = False

    @property
    def sample_rate(self) -> int:
        return self._rate

    async def __aiter__(self) -> AsyncIterator[AudioChunk]:
        samples, self._rate = await asyncio.to_thread(read_audio_file, self.path, self._wanted_rate)
        async for chunk in paced_chunks(samples, self._rate, self._chunk_ms, self._clock, lambda: self._closed):
            yield chunk

    async def aclose(self) -> None:
        self._closed = True


class ArraySource:
    """Samples already in memory, played like a file (tests, generated speech, a decoded audio track)."""

    def __init__(self, samples: Samples, sample_rate: int, *, clock: Clock | None = None,
                 chunk_ms: int = 32) -> None:
        self._samples = np.asarray(samples, dtype=np.float32)
        self._rate = sample_rate
        self._clock = clock or MonotonicClock()
        self._chunk_ms = chunk_ms
        self._closed = False

    @property
    def sample_rate(self) -> int:
        return self._rate

    async def __aiter__(self) -> AsyncIterator[AudioChunk]:
        async for chunk in paced_chunks(self._samples, self._rate, self._chunk_ms, self._clock,
                                        lambda: self._closed):
            yield chunk

    async def aclose(self) -> None:
        self._closed = True


class MicrophoneSource:
    """A microphone through PortAudio (``sounddevice``), by device name (substring) or index.

    The audio callback runs on PortAudio's thread and hands chunks to the loop through a bounded queue;
    when the consumer falls behind, the oldest chunk is dropped and counted rather than queued.
    """

    def __init__(self, device: str | int | None = None, *, sample_rate: int = SPEECH_RATE, chunk_ms: int = 32,
                 clock: Clock | None = None, queue_chunks: int = 64) -> None:
        self.device = device
        self._rate = sample_rate
        self._blocksize = sample_rate * chunk_ms // 1000
        self._clock = clock or MonotonicClock()
        self._queue: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=queue_chunks)
        self._seq = itertools.count()
        self._stream: Any = None
        self.dropped = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    def _open(self) -> None:
        sd = _sounddevice()
        loop = asyncio.get_running_loop()
        device = _find_input_device(sd, self.device)

        def on_audio(data: npt.NDArray[np.float32], frames: int, _time: Any, _status: Any) -> None:
            capture_ns = self._clock.now_ns() - frames * _NS_PER_S // self._rate
            chunk = AudioChunk(next(self._seq), capture_ns, to_mono(data.copy()), self._rate)
            loop.call_soon_threadsafe(self._offer, chunk)

        try:
            self._stream = sd.InputStream(device=device, channels=1, samplerate=self._rate, dtype="float32",
                                          blocksize=self._blocksize, callback=on_audio)
            self._stream.start()
        except sd.PortAudioError as exc:
            raise DeviceNotFoundError(f"microphone {self.device!r} cannot be opened at {self._rate} Hz: {exc}") \
                from exc

    def _offer(self, chunk: AudioChunk | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(chunk)

    async def __aiter__(self) -> AsyncIterator[AudioChunk]:
        if self._stream is None:
            self._open()
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.stop()
                stream.close()
        self._offer(None)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        raise DeviceNotFoundError(f"no microphone support: {exc} (install the `voice` extra and PortAudio, "
                                  "Debian package libportaudio2)") from exc
    return sounddevice


def _find_input_device(sd: Any, device: str | int | None) -> int | None:
    """The index of the input device named (a substring of its name) or numbered; ``None`` = the default."""
    try:
        info = sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError) as exc:
        raise DeviceNotFoundError(f"no microphone {device!r}: {exc}") from exc
    return int(info["index"])
