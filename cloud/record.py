"""Session recording on the cloud side: ``eyeline cloud --record-dir DIR`` writes one MCAP file per session.

The file has the layout of an edge recording (:mod:`eyeline.protos.recording`), so the same reader, replay
device and evaluator open it, but holds what the cloud saw: frames as received (the encoded keyframes and
previews the edge sent, not every captured frame), audio, utterances and queries from the edge, and the
overlays (with their hops), answers, trace steps and errors it sent back. Log times are the cloud clock's.

The session's stream never waits on the disk: messages go to a writer thread through a bounded queue, and
when that queue is full a message is dropped and counted rather than holding up the session.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from google.protobuf.message import Message as ProtoMessage
from google.protobuf.timestamp_pb2 import Timestamp
from mcap.writer import Writer

from eyeline.cloud.errors import CloudError
from eyeline.protos import recording as layout
from eyeline.protos.recording_io import ChannelTable, start_recording
from eyeline.protos.v1 import recording_pb2 as rpb
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger(__name__)

_FORMATS = {pb.IMAGE_ENCODING_JPEG: "jpeg", pb.IMAGE_ENCODING_PNG: "png"}


class CloudRecordingError(CloudError):
    """A session recording could not be created or written."""


@dataclass(frozen=True, slots=True)
class CloudRecorderOptions:
    flush_interval_s: float = 0.5    # a chunk ends at least this often, so a crash loses little
    queue_items: int = 1024


@dataclass(frozen=True, slots=True)
class _Entry:
    topic: str
    log_ns: int
    sequence: int
    message: ProtoMessage


_CLOSE = object()


class CloudSessionRecorder:
    """Records one session. ``open()`` first, then ``record_in``/``record_out`` from the loop, ``close()`` last."""

    def __init__(self, path: Path, info: dict[str, str], now_ns: Callable[[], int] = time.monotonic_ns,
                 options: CloudRecorderOptions | None = None) -> None:
        self.path = path
        self.options = options or CloudRecorderOptions()
        self.dropped = 0
        self._info = info
        self._now_ns = now_ns
        self._queue: queue.Queue[_Entry | object] = queue.Queue(self.options.queue_items)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def open(self) -> None:
        """Create the file and start the writer thread. Blocking."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.path.open("wb")
        except OSError as exc:
            raise CloudRecordingError(f"cannot create recording {self.path}: {exc.strerror}") from exc
        writer, channels = start_recording(stream, {"side": "cloud", **self._info})
        self._thread = threading.Thread(target=self._write_loop, args=(writer, stream, channels),
                                        name="cloud-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued and finalize the file. Blocking; a write failure is logged, never raised."""
        if self._thread is None:
            return
        self._queue.put(_CLOSE)
        self._thread.join()
        self._thread = None
        if self.dropped:
            log.warning("recording %s: %d messages dropped (the disk was behind)", self.path, self.dropped)

    def record_in(self, message: pb.EdgeMessage) -> None:
        """A message the edge sent, as received."""
        self._offer(edge_entries(message, self._now_ns()))

    def record_out(self, message: pb.CloudMessage) -> None:
        """A message the cloud is sending back."""
        self._offer(cloud_entries(message, self._now_ns()))

    def _offer(self, entries: Iterator[_Entry]) -> None:
        if self._thread is None or self._failure is not None:
            return
        for entry in entries:
            try:
                self._queue.put_nowait(entry)
            except queue.Full:
                self.dropped += 1

    def _write_loop(self, writer: Writer, stream: IO[bytes], channels: ChannelTable) -> None:
        last_flush, pending = time.monotonic(), 0
        try:
            while (item := self._next(last_flush)) is not _CLOSE:
                if isinstance(item, _Entry):
                    writer.add_message(channels[item.topic], log_time=item.log_ns, publish_time=item.log_ns,
                                       data=item.message.SerializeToString(), sequence=item.sequence)
                    pending += 1
                if pending and time.monotonic() - last_flush >= self.options.flush_interval_s:
                    writer.flush()  # type: ignore[no-untyped-call]  # ends the chunk: a crash loses at most this one
                    last_flush, pending = time.monotonic(), 0
            writer.finish()  # type: ignore[no-untyped-call]
        except Exception as exc:
            log.error("recording %s failed: %s", self.path, exc)
            self._failure = exc
        finally:
            with contextlib.suppress(OSError):
                stream.close()

    def _next(self, last_flush: float) -> object:
        wait = last_flush + self.options.flush_interval_s - time.monotonic()
        try:
            return self._queue.get(timeout=max(0.01, wait))
        except queue.Empty:
            return None


# ------------------------------------------------------------------ what each message becomes


def edge_entries(message: pb.EdgeMessage, now_ns: int) -> Iterator[_Entry]:
    match message.WhichOneof("kind"):
        case "frame":
            frame = message.frame
            yield _Entry(layout.KEYFRAMES, now_ns, frame.seq, rpb.KeyframeRecord(
                seq=frame.seq, capture_ns=frame.hops.capture_ns, keyframe=frame.keyframe, max_width=frame.width,
                data_bytes=len(frame.data)))
            yield _Entry(layout.CAMERA, now_ns, frame.seq, CompressedImage(
                timestamp=_timestamp(frame.hops.capture_ns), frame_id=layout.CAMERA_FRAME_ID, data=frame.data,
                format=_FORMATS.get(frame.encoding, "jpeg")))
        case "audio":
            yield _Entry(layout.AUDIO, now_ns, message.audio.seq, message.audio)
        case "utterance":
            yield _Entry(layout.UTTERANCES, now_ns, 0, message.utterance)
        case "query":
            yield _Entry(layout.QUERIES, now_ns, 0, message.query)


def cloud_entries(message: pb.CloudMessage, now_ns: int) -> Iterator[_Entry]:
    match message.WhichOneof("kind"):
        case "overlay":
            overlay = message.overlay
            yield _Entry(layout.OVERLAYS, now_ns, overlay.frame_seq, overlay)
            yield _Entry(layout.HOPS, now_ns, overlay.frame_seq, rpb.HopRecord(
                trace_id=overlay.trace_id, frame_seq=overlay.frame_seq, overlay_id=overlay.overlay_id,
                hops=overlay.hops))
        case "answer":
            yield _Entry(layout.ANSWERS, now_ns, message.answer.frame_seq, message.answer)
        case "trace":
            yield _Entry(layout.TRACE, now_ns, message.trace.frame_seq, message.trace)
        case "error":
            yield _Entry(layout.ERRORS, now_ns, message.error.frame_seq, message.error)


def _timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)
