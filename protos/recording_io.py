"""Writing the recording layout of :mod:`eyeline.protos.recording`: the classes behind its schemas, the channel
table and the writer thread, shared by the edge's recorder, the cloud's recorder and the repair tool so that
every writer produces the very same file layout.

:class:`RecordingWriter` owns one file and the one thread that writes it, fed through a bounded queue. What
happens when that queue is full is the caller's choice (:class:`WriterOptions.when_full`): the edge *waits* for
the disk (a recording must hold every captured frame; only the disk may hold capture back), the cloud *drops*
and counts (a session's stream must never wait on the disk). Chunks end when they reach ``chunk_bytes`` or are
``flush_interval_s`` old and are handed to the operating system then, so a killed writer loses at most one.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Final

from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.ImageAnnotations_pb2 import ImageAnnotations
from google.protobuf.message import Message as ProtoMessage
from mcap.writer import CompressionType, Writer
from mcap_protobuf.schema import build_file_descriptor_set

from eyeline.protos import recording as layout
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.v1 import recording_pb2 as rpb
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger(__name__)

MESSAGE_CLASSES: dict[str, type[ProtoMessage]] = {
    "foxglove.CompressedImage": CompressedImage,
    "foxglove.ImageAnnotations": ImageAnnotations,
    "eyeline.v1.FrameTruthRecord": rpb.FrameTruthRecord,
    "eyeline.v1.KeyframeRecord": rpb.KeyframeRecord,
    "eyeline.v1.HopRecord": rpb.HopRecord,
    "eyeline.v1.AudioChunk": pb.AudioChunk,
    "eyeline.v1.Utterance": pb.Utterance,
    "eyeline.v1.Query": pb.Query,
    "eyeline.v1.Overlay": pb.Overlay,
    "eyeline.v1.Answer": pb.Answer,
    "eyeline.v1.TraceStep": pb.TraceStep,
    "eyeline.v1.Error": pb.Error,
}
"""The protobuf class of every schema a recording of this version may hold."""


def start_recording(stream: IO[bytes], info: dict[str, str]) -> tuple[Writer, ChannelTable]:
    """Write a recording's header, metadata (schema version and ``info``) and camera channel to ``stream``.

    Chunks end only when the caller flushes, so the caller decides how much a crash may lose.
    """
    writer = Writer(stream, chunk_size=1 << 30, compression=CompressionType.NONE)
    writer.start(profile=layout.PROFILE, library="eyeline")
    writer.add_metadata(layout.METADATA_NAME, {"schema_version": layout.SCHEMA_VERSION, **info})
    channels = ChannelTable(writer)
    writer.flush()  # type: ignore[no-untyped-call]
    return writer, channels


class ChannelTable:
    """The file's channels, each registered (with its schema) when first written to.

    Only the camera channel is declared up front, so even a file that ends before its first frame says what
    it is; the rest cost nothing in sessions that never use them.

    Sequence numbers are 64-bit (a browser session's frames start at 2^40) but an MCAP message's ``sequence``
    holds 32 bits, so the high half goes in the channel: a topic has one channel per high half it uses, each
    naming it in its metadata (:data:`~eyeline.protos.recording.SEQUENCE_HIGH`), and :meth:`add` writes the
    low half in the message. A reader adds the two back together.
    """

    def __init__(self, writer: Writer, upfront: tuple[str, ...] = (layout.CAMERA,)) -> None:
        self._writer = writer
        self._schemas: dict[str, int] = {}
        self._channels: dict[tuple[str, int], int] = {}
        for topic in upfront:
            self[topic]

    def __getitem__(self, topic: str) -> int:
        """The channel of ``topic`` for sequence numbers below 2^32."""
        return self.channel(topic, 0)

    def channel(self, topic: str, high: int) -> int:
        """The channel of ``topic`` for sequence numbers whose high 32 bits are ``high``."""
        channel = self._channels.get((topic, high))
        if channel is None:
            metadata = {layout.SEQUENCE_HIGH: str(high)} if high else {}
            channel = self._channels[(topic, high)] = self._writer.register_channel(
                topic, "protobuf", self._schema(topic), metadata)
        return channel

    def add(self, topic: str, *, log_ns: int, data: bytes, sequence: int) -> None:
        """Write one message of ``topic`` with its 64-bit ``sequence``."""
        if not 0 <= sequence < 1 << 64:
            raise ValueError(f"sequence {sequence} is not a 64-bit unsigned number")
        self._writer.add_message(self.channel(topic, sequence >> 32), log_time=log_ns, data=data,
                                 publish_time=log_ns, sequence=sequence & 0xFFFF_FFFF)

    def _schema(self, topic: str) -> int:
        name = layout.SCHEMAS[topic]
        schema = self._schemas.get(name)
        if schema is None:
            descriptors = build_file_descriptor_set(MESSAGE_CLASSES[name]).SerializeToString()
            schema = self._schemas[name] = self._writer.register_schema(name, "protobuf", descriptors)
        return schema


# ------------------------------------------------------------------ the writer thread

WAIT: Final = "wait"     # a full queue makes the producer wait for the disk
DROP: Final = "drop"     # a full queue drops the record, counted in ``WriterStats.dropped``


@dataclass(frozen=True, slots=True)
class WriterOptions:
    when_full: str = WAIT
    chunk_bytes: int = 256 * 1024    # small chunks: a crash loses at most one
    flush_interval_s: float = 0.5    # and at most this much time
    queue_items: int = 512

    def __post_init__(self) -> None:
        if self.when_full not in (WAIT, DROP):
            raise ValueError(f"when_full must be {WAIT!r} or {DROP!r}, not {self.when_full!r}")


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """One message waiting for the disk; ``build`` makes it on the writer thread (encoding a frame is CPU work)."""

    topic: str
    log_ns: int
    sequence: int
    build: Callable[[], ProtoMessage]

    @staticmethod
    def of(topic: str, log_ns: int, sequence: int, message: ProtoMessage) -> PendingRecord:
        """A record of a message already built."""
        return PendingRecord(topic, log_ns, sequence, lambda: message)


@dataclass(slots=True)
class WriterStats:
    frames_written: int = 0
    frames_flushed: int = 0          # frames in chunks that have reached the operating system
    chunks_flushed: int = 0
    bytes_flushed: int = 0
    dropped: int = 0                 # records a full queue turned away (``DROP`` only)


_CLOSE = object()


class RecordingWriter:
    """Writes one recording to ``stream`` from its own thread. ``start()`` first, ``close()`` (blocking) last.

    ``failure`` is what stopped the thread, if anything; the records still queued then are discarded, so a
    producer blocked on the full queue is freed.
    """

    def __init__(self, stream: IO[bytes], info: dict[str, str], options: WriterOptions | None = None, *,
                 name: str = "recorder", clock: Clock | None = None) -> None:
        self.options = options or WriterOptions()
        # A chunk's age bounds what a crash loses, so it is real time by default, whatever clock logs the records.
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self.stats = WriterStats()
        self.failure: BaseException | None = None
        self._stream = stream
        self._info = info
        self._name = name
        self._queue: queue.Queue[PendingRecord | object] = queue.Queue(maxsize=self.options.queue_items)
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Write the header, metadata and camera channel, and start the thread. Blocking (a little disk work)."""
        writer, channels = start_recording(self._stream, self._info)
        self._thread = threading.Thread(target=self._write_loop, args=(writer, channels), name=self._name,
                                        daemon=True)
        self._thread.start()

    def submit(self, record: PendingRecord) -> None:
        """Queue ``record``; when the queue is full, wait for the disk (``WAIT``) or drop it, counted (``DROP``)."""
        if self.options.when_full == WAIT:
            self._queue.put(record)
        elif not self.submit_nowait(record):
            self.stats.dropped += 1

    def submit_nowait(self, record: PendingRecord) -> bool:
        """Queue ``record`` if there is room now; False when the queue is full. Never waits."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        """Write what is queued, finalize the file (summary and index) and stop the thread. Blocking."""
        if self._thread is None:
            return
        self._queue.put(_CLOSE)
        self._thread.join()
        self._thread = None

    def _write_loop(self, writer: Writer, channels: ChannelTable) -> None:
        chunk = _ChunkState(self._clock)
        try:
            while (item := self._next(chunk)) is not _CLOSE:
                if isinstance(item, PendingRecord):
                    self._write(writer, channels, item, chunk)
                if chunk.due(self.options):
                    self._flush(writer, chunk)
            self._flush(writer, chunk)
            writer.finish()  # type: ignore[no-untyped-call]
        except Exception as exc:  # reported to the owner through ``failure``
            log.error("recording %s failed: %s", self._name, exc)
            self.failure = exc
            self._drain()
        finally:
            with contextlib.suppress(OSError):
                self._stream.close()

    def _next(self, chunk: _ChunkState) -> object:
        try:
            return self._queue.get(timeout=max(0.01, chunk.time_left(self.options)))
        except queue.Empty:
            return None

    def _write(self, writer: Writer, channels: ChannelTable, item: PendingRecord, chunk: _ChunkState) -> None:
        data = item.build().SerializeToString()
        channels.add(item.topic, log_ns=item.log_ns, data=data, sequence=item.sequence)
        is_frame = item.topic == layout.CAMERA
        chunk.add(len(data), is_frame=is_frame)
        self.stats.frames_written += is_frame

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
        """After a failure, free any producer blocked on the full queue; what it queued is lost."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()


class _ChunkState:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self.started_ns = self._clock.now_ns()
        self.messages = 0
        self.frames = 0
        self.bytes = 0

    def add(self, size: int, *, is_frame: bool) -> None:
        self.messages += 1
        self.frames += int(is_frame)
        self.bytes += size

    def time_left(self, options: WriterOptions) -> float:
        """Seconds until the chunk is ``flush_interval_s`` old (negative once it is)."""
        return options.flush_interval_s - (self._clock.now_ns() - self.started_ns) / 1e9

    def due(self, options: WriterOptions) -> bool:
        return self.bytes >= options.chunk_bytes or (self.messages > 0 and self.time_left(options) <= 0)
