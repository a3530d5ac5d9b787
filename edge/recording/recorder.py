"""Session recording: one MCAP file per session, written from a dedicated thread.

``RecordingSource`` wraps the frame source after the privacy stage (``edge.frames.redact``), so every frame,
its faces destroyed, is queued for the file before the runtime sees it; ``RecordingSampler`` notes which frames
went up and how they were encoded; ``RecordingUplink`` notes each query as it is handed to the network; the
runtime's ``on_event`` hook feeds ``SessionRecorder.record_event`` with what the cloud sent. On the voice path,
``RecordingAudioSource`` records every audio chunk before the voice front end hears it, and ``record_turns`` each
utterance it recognised. The queue to the writer thread is bounded, and the only thing capture ever waits on is
that thread, that is the disk: the network never holds a frame back from the file.

The file is written in small chunks, each flushed to the operating system when it reaches ``chunk_bytes``
or is ``flush_interval_s`` old, so a killed edge leaves a file that replays up to its last complete chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from google.protobuf.message import Message as ProtoMessage

from eyeline.devices.audio import AudioChunk, AudioSource
from eyeline.devices.base import CapturedFrame, FrameSource, Image
from eyeline.devices.recording import truth_record
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.sampler import KeyframeChoice, Sampler
from eyeline.edge.messages import (
    Answer,
    CloudErrorReport,
    CloudEvent,
    FlowControl,
    OverlayArrival,
    TraceStep,
    Welcome,
)
from eyeline.edge.recording import records as rw
from eyeline.edge.transport import wire
from eyeline.edge.transport.uplink import Uplink
from eyeline.edge.transport.wire import EncodedFrame, HelloOut, QueryOut, UtteranceOut
from eyeline.edge.voice.front_end import VoiceTurn
from eyeline.protos import recording as layout
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.recording_io import WAIT, PendingRecord, RecordingWriter, WriterOptions, WriterStats

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


@dataclass(frozen=True, slots=True)
class RecorderStats:
    frames_queued: int = 0
    frames_written: int = 0
    frames_flushed: int = 0          # frames in chunks that have reached the operating system
    chunks_flushed: int = 0
    bytes_flushed: int = 0


class SessionRecorder:
    """Writes one session to one MCAP file. ``open()`` first, ``aclose()`` (or ``close()``) last.

    The writer thread is the shared :class:`~eyeline.protos.recording_io.RecordingWriter`, told to *wait* when
    its queue is full: a recording holds every captured frame, and only the disk may hold capture back.
    """

    def __init__(self, path: str | Path, options: RecorderOptions | None = None, *, clock: Clock | None = None,
                 info: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.options = options or RecorderOptions()
        self._clock = clock or MonotonicClock()
        self._info = info or {}
        self._writer: RecordingWriter | None = None
        self._frames_queued = 0
        self._frame_size = (0, 0)

    @property
    def stats(self) -> RecorderStats:
        written = self._writer.stats if self._writer is not None else WriterStats()
        return RecorderStats(self._frames_queued, written.frames_written, written.frames_flushed,
                             written.chunks_flushed, written.bytes_flushed)

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create the file, write its header, metadata and camera channel, and start the writer thread."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.path.open("wb")
        except OSError as exc:
            raise RecordingWriteError(f"cannot create recording {self.path}: {exc.strerror}") from exc
        options = WriterOptions(WAIT, self.options.chunk_bytes, self.options.flush_interval_s,
                                self.options.queue_items)
        self._writer = RecordingWriter(stream, self._info, options, name=f"edge-recorder {self.path}")
        self._writer.start()

    def close(self) -> None:
        """Write what is queued, finalize the file (summary and index) and stop the thread. Blocking."""
        writer = self._writer
        if writer is None or not writer.running:
            return
        writer.close()
        if writer.failure is not None:
            raise RecordingWriteError(f"recording {self.path} failed: {writer.failure}") from writer.failure

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # ------------------------------------------------------------------ what is recorded

    async def record_frame(self, frame: CapturedFrame) -> None:
        """Queue a captured frame (and its ground truth, if any); waits only when the disk is behind."""
        image = frame.image.copy()  # later stages may draw on the frame they were given
        self._frame_size = (frame.width, frame.height)
        truth = truth_record(frame.seq, frame.capture_ns, frame.truth)
        if truth is not None:
            await self._submit(PendingRecord.of(layout.TRUTH, frame.capture_ns, frame.seq, truth))
        await self._submit(PendingRecord(layout.CAMERA, frame.capture_ns, frame.seq,
                                         lambda: self._camera_message(frame.capture_ns, image)))
        self._frames_queued += 1

    def record_sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        """A frame the sampler chose, once encoded. Called from the runtime's worker or loop; never waits long."""
        self._writer_or_raise().submit(self._now(layout.KEYFRAMES, choice.frame.seq,
                                                 rw.keyframe_record(choice, nbytes)))

    async def record_audio(self, chunk: AudioChunk) -> None:
        """Queue a chunk of captured audio; it is converted to 16-bit PCM on the writer thread."""
        await self._submit(PendingRecord(layout.AUDIO, chunk.capture_ns, chunk.seq, lambda: rw.audio_record(chunk)))

    def record_utterance(self, utterance: UtteranceOut, heard_ns: int) -> None:
        """What the recogniser heard, logged at ``heard_ns`` (when speech ended). Waits only when the disk is behind."""
        self._writer_or_raise().submit(PendingRecord.of(layout.UTTERANCES, heard_ns, 0,
                                                        wire.utterance_to_wire(utterance)))

    async def record_query(self, query: QueryOut) -> None:
        await self._submit(self._now(layout.QUERIES, 0, wire.query_to_wire(query)))

    def record_event(self, event: CloudEvent) -> None:
        """The runtime's ``on_event`` hook: records what the cloud sent. Waits only when the disk is behind."""
        for pending in self._event_records(event):
            self._writer_or_raise().submit(pending)

    def _event_records(self, event: CloudEvent) -> list[PendingRecord]:
        match event:
            case OverlayArrival(overlay=overlay, hops=hops):
                size = self._frame_size
                return [self._now(layout.OVERLAYS, overlay.frame_seq, wire.overlay_to_wire(overlay, hops)),
                        self._now(layout.ANNOTATIONS, overlay.frame_seq,
                                  rw.image_annotations(overlay, size, overlay.capture_ns)),
                        self._now(layout.HOPS, overlay.frame_seq, rw.hop_record(overlay, hops))]
            case Answer():
                return [self._now(layout.ANSWERS, event.frame_seq, wire.answer_to_wire(event))]
            case TraceStep():
                return [self._now(layout.TRACE, event.frame_seq, wire.trace_to_wire(event))]
            case CloudErrorReport():
                return [self._now(layout.ERRORS, event.frame_seq, wire.error_to_wire(event))]
        return []

    def _now(self, topic: str, sequence: int, message: ProtoMessage) -> PendingRecord:
        return PendingRecord.of(topic, self._clock.now_ns(), sequence, message)

    def _camera_message(self, capture_ns: int, image: Image) -> ProtoMessage:
        fmt = self.options.image_format
        params = [cv2.IMWRITE_JPEG_QUALITY, self.options.jpeg_quality] if fmt == "jpeg" else \
            [cv2.IMWRITE_PNG_COMPRESSION, 1]
        ok, encoded = cv2.imencode(f".{'jpg' if fmt == 'jpeg' else 'png'}", image, params)
        if not ok:
            raise RecordingWriteError(f"cannot encode a {image.shape} frame as {fmt}")
        return rw.compressed_image(capture_ns, encoded.tobytes(), fmt)

    # ------------------------------------------------------------------ the queue

    async def _submit(self, pending: PendingRecord) -> None:
        writer = self._writer_or_raise()
        if not writer.submit_nowait(pending):
            await asyncio.to_thread(writer.submit, pending)  # the disk is behind: wait for it, off the loop

    def _writer_or_raise(self) -> RecordingWriter:
        writer = self._writer
        if writer is not None and writer.failure is not None:
            raise RecordingWriteError(f"recording {self.path} failed: {writer.failure}") from writer.failure
        if writer is None or not writer.running:
            raise RecordingWriteError(f"recording {self.path} is not open")
        return writer


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


class RecordingUplink:
    """Any :class:`~eyeline.edge.transport.uplink.Uplink` (gRPC, WebRTC) that records each query as it is handed to it.

    Frames, events and closing go straight through; so does every other attribute, so the capability checks
    (``PreviewSink``, ``MessageSender``) see what the wrapped uplink can do.
    """

    def __init__(self, uplink: Uplink, recorder: SessionRecorder) -> None:
        self.inner = uplink
        self._recorder = recorder

    async def open(self, hello: HelloOut) -> Welcome:
        return await self.inner.open(hello)

    async def push_frame(self, frame: EncodedFrame) -> None:
        await self.inner.push_frame(frame)

    async def ask(self, query: QueryOut) -> None:
        await self._recorder.record_query(query)  # queued for the disk first: the network never holds it back
        await self.inner.ask(query)

    def __aiter__(self) -> AsyncIterator[CloudEvent]:
        return self.inner.__aiter__()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


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
