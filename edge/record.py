"""Session recording: one MCAP file per session, written from a dedicated thread.

``RecordingSource`` wraps the frame source, so every captured frame is queued for the file before the
runtime sees it; ``RecordingSampler`` notes which frames went up and how they were encoded;
``RecordingUplink`` notes each query as it is handed to the network; the runtime's ``on_event`` hook feeds
``SessionRecorder.record_event`` with what the cloud sent. On the voice path, ``RecordingAudioSource`` records
every audio chunk before the voice front end hears it, and ``record_turns`` each utterance it recognised.
The queue to the writer thread is bounded, and the only thing capture ever waits on is that thread, that is
the disk: the network never holds a frame back from the file.

The file is written in small chunks, each flushed to the operating system when it reaches ``chunk_bytes``
or is ``flush_interval_s`` old, so a killed edge leaves a file that replays up to its last complete chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
from google.protobuf.message import Message as ProtoMessage
from mcap.writer import Writer

from eyeline.devices.audio import AudioChunk, AudioSource
from eyeline.devices.base import CapturedFrame, FrameSource, Image
from eyeline.devices.clock import Clock, MonotonicClock
from eyeline.devices.recording import truth_record
from eyeline.edge import record_wire as rw
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Answer, CloudErrorReport, CloudEvent, FlowControl, OverlayArrival, TraceStep
from eyeline.edge.sampler import KeyframeChoice, Sampler
from eyeline.edge.uplink import GrpcUplink, UplinkOptions
from eyeline.edge.voice import VoiceTurn
from eyeline.edge.wire import QueryOut, UtteranceOut
from eyeline.protos import recording as layout
from eyeline.protos.recording_io import ChannelTable, start_recording

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "jpeg")


class RecordingWriteError(EdgeError):
    """The recording could not be written (the disk is full, the folder is gone, ...)."""


@dataclass(frozen=True, slots=True)
class RecorderOptions:
    image_format: str = "png"        # png: lossless, a replay sends the very same pixels; jpeg: smaller
    jpeg_quality: int = 95
    chunk_bytes: int = 256 * 1024    # small chunks: a crash loses at most one
    flush_interval_s: float = 0.5    # and at most this much time
    queue_items: int = 512           # records waiting for the disk; capture waits only when the disk is this far behind

    def __post_init__(self) -> None:
        if self.image_format not in IMAGE_FORMATS:
            raise RecordingWriteError(f"image format {self.image_format!r} is not one of {', '.join(IMAGE_FORMATS)}")


@dataclass(slots=True)
class RecorderStats:
    frames_queued: int = 0
    frames_written: int = 0
    frames_flushed: int = 0          # frames in chunks that have reached the operating system
    chunks_flushed: int = 0
    bytes_flushed: int = 0


@dataclass(frozen=True, slots=True)
class _Pending:
    topic: str
    log_ns: int
    sequence: int
    build: Callable[[], ProtoMessage]


_CLOSE = object()


class SessionRecorder:
    """Writes one session to one MCAP file. ``open()`` first, ``aclose()`` (or ``close()``) last."""

    def __init__(self, path: str | Path, options: RecorderOptions | None = None, *, clock: Clock | None = None,
                 info: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.options = options or RecorderOptions()
        self.stats = RecorderStats()
        self._clock = clock or MonotonicClock()
        self._info = info or {}
        self._queue: queue.Queue[_Pending | object] = queue.Queue(maxsize=self.options.queue_items)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._frame_size = (0, 0)

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create the file, write its header, metadata, schemas and channels, and start the writer thread."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.path.open("wb")
        except OSError as exc:
            raise RecordingWriteError(f"cannot create recording {self.path}: {exc.strerror}") from exc
        writer, channels = start_recording(stream, self._info)
        self._thread = threading.Thread(target=self._write_loop, args=(writer, stream, channels),
                                        name="edge-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, finalize the file (summary and index) and stop the thread. Blocking."""
        if self._thread is None:
            return
        self._queue.put(_CLOSE)
        self._thread.join()
        self._thread = None
        if self._failure is not None:
            raise RecordingWriteError(f"recording {self.path} failed: {self._failure}") from self._failure

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # ------------------------------------------------------------------ what is recorded

    async def record_frame(self, frame: CapturedFrame) -> None:
        """Queue a captured frame (and its ground truth, if any); waits only when the disk is behind."""
        image = frame.image.copy()  # later stages may draw on the frame they were given
        self._frame_size = (frame.width, frame.height)
        truth = truth_record(frame.seq, frame.capture_ns, frame.truth)
        if truth is not None:
            await self._submit(_Pending(layout.TRUTH, frame.capture_ns, frame.seq, lambda: truth))
        await self._submit(_Pending(layout.CAMERA, frame.capture_ns, frame.seq,
                                    lambda: self._camera_message(frame.capture_ns, image)))
        self.stats.frames_queued += 1

    def record_sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        """A frame the sampler chose, once encoded. Called from the runtime's worker or loop; never waits long."""
        self._check()
        self._queue.put(self._now(layout.KEYFRAMES, choice.frame.seq, rw.keyframe_record(choice, nbytes)))

    async def record_audio(self, chunk: AudioChunk) -> None:
        """Queue a chunk of captured audio; it is converted to 16-bit PCM on the writer thread."""
        await self._submit(_Pending(layout.AUDIO, chunk.capture_ns, chunk.seq, lambda: rw.audio_record(chunk)))

    def record_utterance(self, utterance: UtteranceOut, heard_ns: int) -> None:
        """What the recogniser heard, logged at ``heard_ns`` (when speech ended). Waits only when the disk is behind."""
        self._check()
        message = rw.utterance_record(utterance)
        self._queue.put(_Pending(layout.UTTERANCES, heard_ns, 0, lambda: message))

    async def record_query(self, query: QueryOut) -> None:
        await self._submit(self._now(layout.QUERIES, 0, rw.query_record(query)))

    def record_event(self, event: CloudEvent) -> None:
        """The runtime's ``on_event`` hook: records what the cloud sent. Waits only when the disk is behind."""
        for pending in self._event_records(event):
            self._check()
            self._queue.put(pending)

    def _event_records(self, event: CloudEvent) -> list[_Pending]:
        match event:
            case OverlayArrival(overlay=overlay, hops=hops):
                size = self._frame_size
                return [self._now(layout.OVERLAYS, overlay.frame_seq, rw.overlay_record(overlay, hops)),
                        self._now(layout.ANNOTATIONS, overlay.frame_seq,
                                  rw.image_annotations(overlay, size, overlay.capture_ns)),
                        self._now(layout.HOPS, overlay.frame_seq, rw.hop_record(overlay, hops))]
            case Answer():
                return [self._now(layout.ANSWERS, event.frame_seq, rw.answer_record(event))]
            case TraceStep():
                return [self._now(layout.TRACE, event.frame_seq, rw.trace_record(event))]
            case CloudErrorReport():
                return [self._now(layout.ERRORS, event.frame_seq, rw.error_record(event))]
        return []

    def _now(self, topic: str, sequence: int, message: ProtoMessage) -> _Pending:
        return _Pending(topic, self._clock.now_ns(), sequence, lambda: message)

    def _camera_message(self, capture_ns: int, image: Image) -> ProtoMessage:
        fmt = self.options.image_format
        params = [cv2.IMWRITE_JPEG_QUALITY, self.options.jpeg_quality] if fmt == "jpeg" else \
            [cv2.IMWRITE_PNG_COMPRESSION, 1]
        ok, encoded = cv2.imencode(f".{'jpg' if fmt == 'jpeg' else 'png'}", image, params)
        if not ok:
            raise RecordingWriteError(f"cannot encode a {image.shape} frame as {fmt}")
        return rw.compressed_image(capture_ns, encoded.tobytes(), fmt)

    # ------------------------------------------------------------------ the queue

    async def _submit(self, pending: _Pending) -> None:
        self._check()
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            await asyncio.to_thread(self._queue.put, pending)  # the disk is behind: wait for it, off the loop

    def _check(self) -> None:
        if self._failure is not None:
            raise RecordingWriteError(f"recording {self.path} failed: {self._failure}") from self._failure
        if self._thread is None:
            raise RecordingWriteError(f"recording {self.path} is not open")

    # ------------------------------------------------------------------ the writer thread

    def _write_loop(self, writer: Writer, stream: IO[bytes], channels: ChannelTable) -> None:
        chunk = _ChunkState()
        try:
            while (item := self._next(chunk)) is not _CLOSE:
                if isinstance(item, _Pending):
                    self._write(writer, channels, item, chunk)
                if chunk.due(self.options):
                    self._flush(writer, chunk)
            self._flush(writer, chunk)
            writer.finish()  # type: ignore[no-untyped-call]
        except Exception as exc:  # reported to the producers by _check and to the owner by close()
            log.error("recording %s failed: %s", self.path, exc)
            self._failure = exc
            self._drain()
        finally:
            with contextlib.suppress(OSError):
                stream.close()

    def _next(self, chunk: _ChunkState) -> object:
        try:
            return self._queue.get(timeout=max(0.01, chunk.time_left(self.options)))
        except queue.Empty:
            return None

    def _write(self, writer: Writer, channels: ChannelTable, item: _Pending, chunk: _ChunkState) -> None:
        data = item.build().SerializeToString()
        writer.add_message(channels[item.topic], log_time=item.log_ns, data=data, publish_time=item.log_ns,
                           sequence=item.sequence)
        chunk.add(len(data), is_frame=item.topic == layout.CAMERA)
        if item.topic == layout.CAMERA:
            self.stats.frames_written += 1

    def _flush(self, writer: Writer, chunk: _ChunkState) -> None:
        if chunk.messages == 0:
            chunk.reset()
            return
        writer.flush()  # type: ignore[no-untyped-call]  # ends the chunk and hands it to the operating system
        self.stats.frames_flushed += chunk.frames
        self.stats.chunks_flushed += 1
        self.stats.bytes_flushed += chunk.bytes
        chunk.reset()

    def _drain(self) -> None:
        """After a failure, free any producer blocked on the full queue; what it queued is lost, and said so."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()


class _ChunkState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.messages = 0
        self.frames = 0
        self.bytes = 0

    def add(self, size: int, *, is_frame: bool) -> None:
        self.messages += 1
        self.frames += int(is_frame)
        self.bytes += size

    def time_left(self, options: RecorderOptions) -> float:
        return self.started + options.flush_interval_s - time.monotonic()

    def due(self, options: RecorderOptions) -> bool:
        return self.bytes >= options.chunk_bytes or (self.messages > 0 and self.time_left(options) <= 0)


# ------------------------------------------------------------------ the wrappers


class RecordingSource:
    """A :class:`FrameSource` that records every frame of ``source`` before passing it on."""

    def __init__(self, source: FrameSource, recorder: SessionRecorder) -> None:
        self._source = source
        self._recorder = recorder

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        async for frame in self._source:
            await self._recorder.record_frame(frame)
            yield frame

    async def aclose(self) -> None:
        await self._source.aclose()


class RecordingSampler:
    """A :class:`Sampler` that records which frames it chose and how they were encoded, deciding nothing itself."""

    def __init__(self, sampler: Sampler, recorder: SessionRecorder) -> None:
        self.inner = sampler
        self._recorder = recorder

    def offer(self, frame: CapturedFrame) -> KeyframeChoice | None:
        return self.inner.offer(frame)

    def request_keyframe(self) -> None:
        self.inner.request_keyframe()

    def apply(self, flow: FlowControl) -> None:
        self.inner.apply(flow)

    def sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        self._recorder.record_sent(choice, nbytes)
        self.inner.sent(choice, nbytes)


class RecordingUplink(GrpcUplink):
    """A :class:`GrpcUplink` that records each query as it is handed to the network."""

    def __init__(self, options: UplinkOptions, recorder: SessionRecorder, *, clock: Clock | None = None) -> None:
        super().__init__(options, clock=clock)
        self._recorder = recorder

    async def ask(self, query: QueryOut) -> None:
        await self._recorder.record_query(query)
        await super().ask(query)


def observe_with(recorder: SessionRecorder, hook: Callable[[CloudEvent], None] | None) -> Callable[[CloudEvent], Any]:
    """An ``on_event`` hook that records the event, then passes it on to ``hook``."""

    def observe(event: CloudEvent) -> None:
        recorder.record_event(event)
        if hook is not None:
            hook(event)

    return observe


class RecordingAudioSource:
    """An :class:`AudioSource` that records every chunk of ``source`` before passing it on."""

    def __init__(self, source: AudioSource, recorder: SessionRecorder) -> None:
        self._source = source
        self._recorder = recorder

    @property
    def sample_rate(self) -> int:
        return self._source.sample_rate

    def __aiter__(self) -> AsyncIterator[AudioChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[AudioChunk]:
        async for chunk in self._source:
            await self._recorder.record_audio(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._source.aclose()


def record_turns(recorder: SessionRecorder,
                 hook: Callable[[VoiceTurn], None] | None = None) -> Callable[[VoiceTurn], None]:
    """An ``on_turn`` hook for the voice front end: records each utterance heard, then passes the turn on."""

    def observe(turn: VoiceTurn) -> None:
        recorder.record_utterance(turn.heard.to_wire(), turn.heard.heard_ns)
        if hook is not None:
            hook(turn)

    return observe
