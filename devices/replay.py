"""A recorded session as a camera: ``replay:PATH``.

Frames come back with their recorded sequence numbers, pixels and ground truth, spaced as they were
captured: frame ``i`` is delivered at ``start + (capture_i - capture_0)`` on the source's clock (start: the
first pull), so a :class:`~eyeline.protos.clock.MonotonicClock` replays at recorded speed and a
:class:`~eyeline.protos.clock.VirtualClock` as fast as the consumer pulls, with the same timestamps either
way. ``keyframes_only`` replays just the frames the recording edge sent to the cloud.

:class:`RecordedAudioSource` plays a recording's audio track the same way, as an
:class:`~eyeline.devices.audio.AudioSource`: each chunk is delivered once its last sample was "spoken".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from eyeline.devices.audio import AudioChunk, to_mono
from eyeline.devices.base import CapturedFrame, Image
from eyeline.devices.recording import (
    CorruptRecordingError,
    EmptyRecordingError,
    OversizedFrameError,
    RecordedMessage,
    RecordingReader,
    TruncatedRecordingError,
    frame_truth,
)
from eyeline.protos import recording as layout
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.images import ImageHeaderError, image_size

_FRAME_TOPICS = frozenset({layout.CAMERA, layout.TRUTH})
MAX_REPLAY_PIXELS = 7680 * 4320
"""The most pixels a replayed frame may have (8K): more than any camera Eyeline drives, far below a bomb."""


def keyframe_seqs(reader: RecordingReader) -> frozenset[int]:
    """The sequence numbers of the frames the recording edge sent to the cloud. Blocking."""
    return frozenset(m.message.seq for m in reader.messages(frozenset({layout.KEYFRAMES})))


def decode_image(recorded: RecordedMessage, path: Path, *, max_pixels: int = MAX_REPLAY_PIXELS) -> Image:
    """A recorded frame's pixels; its header is checked first, so a file holding a decompression bomb (a small
    image that claims billions of pixels) raises :class:`OversizedFrameError` without allocating them."""
    data: bytes = recorded.message.data
    try:
        width, height = image_size(data)
    except ImageHeaderError as exc:
        raise CorruptRecordingError(f"recording {path}: frame {recorded.sequence} ({recorded.message.format}) "
                                    f"is not a whole image: {exc}") from exc
    if width * height > max_pixels:
        raise OversizedFrameError(f"recording {path}: frame {recorded.sequence} is {width}x{height}; replay "
                                  f"decodes at most {max_pixels} pixels")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or (image.shape[1], image.shape[0]) != (width, height):
        raise CorruptRecordingError(f"recording {path}: frame {recorded.sequence} ({recorded.message.format}) "
                                    f"does not decode")
    return np.asarray(image, dtype=np.uint8)


def recorded_frames(reader: RecordingReader,
                    only: frozenset[int] | None = None) -> Generator[CapturedFrame, None, None]:
    """Every recorded frame (of ``only``, when given) in order, with its recorded capture time. Blocking."""
    truth: RecordedMessage | None = None
    for recorded in reader.messages(_FRAME_TOPICS):
        if recorded.topic == layout.TRUTH:
            truth = recorded
            continue
        if only is not None and recorded.sequence not in only:
            continue
        known = frame_truth(truth.message, reader.path) if truth is not None and truth.sequence == recorded.sequence \
            else None
        yield CapturedFrame(recorded.sequence, recorded.log_ns, decode_image(recorded, reader.path), known)


class ReplaySource:
    """A :class:`~eyeline.devices.base.FrameSource` playing back a recording (see the module docstring).

    The file is checked on construction (raising a ``RecordingError`` that names the problem) and read
    lazily, off the event loop. A recording with no frame to replay raises rather than ending silently;
    a truncated one replays up to its last complete chunk.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None, keyframes_only: bool = False) -> None:
        self._reader = RecordingReader(path)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._keyframes_only = keyframes_only
        self._frames: Generator[CapturedFrame, None, None] | None = None
        self._offset_ns: int | None = None
        self._delivered = 0
        self._closed = False

    @property
    def path(self) -> Path:
        return self._reader.path

    @property
    def truncated(self) -> bool:
        return self._reader.truncated

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CapturedFrame:
        if self._closed:
            raise StopAsyncIteration
        if self._frames is None:
            self._frames = await asyncio.to_thread(self._open_frames)
        frame = await asyncio.to_thread(next, self._frames, None)
        if frame is None:
            self._check_not_empty()
            raise StopAsyncIteration
        if self._offset_ns is None:
            self._offset_ns = self._clock.now_ns() - frame.capture_ns
        capture_ns = frame.capture_ns + self._offset_ns
        await self._clock.sleep_until(capture_ns)
        if self._closed:
            raise StopAsyncIteration
        self._delivered += 1
        return CapturedFrame(frame.seq, capture_ns, frame.image, frame.truth)

    def _open_frames(self) -> Generator[CapturedFrame, None, None]:
        only = keyframe_seqs(self._reader) if self._keyframes_only else None
        if only is not None and not only:
            raise EmptyRecordingError(f"recording {self.path} names no keyframe to replay")
        return recorded_frames(self._reader, only)

    def _check_not_empty(self) -> None:
        if self._delivered > 0:
            return
        if self._reader.truncated:
            raise TruncatedRecordingError(f"recording {self.path} ends before its first complete chunk; "
                                          f"there is nothing to replay")
        raise EmptyRecordingError(f"recording {self.path} holds no camera frames; there is nothing to replay")

    async def aclose(self) -> None:
        self._closed = True
        if self._frames is not None:
            with contextlib.suppress(ValueError):  # a read still in flight in a worker closes it when done
                self._frames.close()


def recorded_audio(reader: RecordingReader) -> Generator[AudioChunk, None, None]:
    """Every recorded audio chunk in order, as float32 in [-1, 1] with its recorded capture time. Blocking."""
    for recorded in reader.messages(frozenset({layout.AUDIO})):
        chunk = recorded.message
        pcm = np.frombuffer(chunk.pcm_s16le, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        channels = max(1, chunk.channels)
        if pcm.size % channels:
            raise CorruptRecordingError(f"recording {reader.path}: audio chunk {chunk.seq} holds {pcm.size} "
                                        f"samples, not a whole number of {channels}-channel frames")
        yield AudioChunk(chunk.seq, chunk.capture_ns, to_mono(pcm.reshape(-1, channels)), chunk.sample_rate)


class RecordedAudioSource:
    """A recording's audio track as an :class:`~eyeline.devices.audio.AudioSource`, paced on ``clock``.

    Chunk ``i`` is delivered at ``start + (end_i - capture_0)`` (start: the first pull), stamped
    ``start + (capture_i - capture_0)``; a :class:`~eyeline.protos.clock.VirtualClock` replays as fast as
    the consumer pulls. A recording without audio raises a ``RecordingError`` rather than ending silently.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        self._reader = RecordingReader(path, required=(layout.AUDIO,))
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._rate = 0
        self._closed = False

    @property
    def path(self) -> Path:
        return self._reader.path

    @property
    def sample_rate(self) -> int:
        """The recorded rate, known once the first chunk is read (0 before)."""
        return self._rate

    async def __aiter__(self) -> AsyncIterator[AudioChunk]:
        chunks = recorded_audio(self._reader)
        offset_ns: int | None = None
        try:
            while not self._closed and (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                self._rate = chunk.sample_rate
                if offset_ns is None:
                    offset_ns = self._clock.now_ns() - chunk.capture_ns
                await self._clock.sleep_until(chunk.end_ns + offset_ns)
                if self._closed:
                    return
                yield AudioChunk(chunk.seq, chunk.capture_ns + offset_ns, chunk.samples, chunk.sample_rate)
        finally:
            with contextlib.suppress(ValueError):
                chunks.close()
        if offset_ns is None and not self._closed:
            raise EmptyRecordingError(f"recording {self.path} holds no audio chunks; there is nothing to replay")

    async def aclose(self) -> None:
        self._closed = True
