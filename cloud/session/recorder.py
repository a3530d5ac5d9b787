"""Session recording on the cloud side: ``eyeline cloud --record-dir DIR`` writes one MCAP file per session.

The file has the layout of an edge recording (:mod:`eyeline.protos.recording`), so the same reader, replay
device and evaluator open it, but holds what the cloud saw: frames as received (the encoded keyframes and
previews the edge sent, not every captured frame), audio, utterances and queries from the edge, and the
overlays (with their hops), answers, trace steps and errors it sent back. Log times are the cloud clock's.

The session's stream never waits on the disk: messages go to a writer thread through a bounded queue, and
when that queue is full a message is dropped and counted rather than holding up the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from google.protobuf.timestamp_pb2 import Timestamp

from eyeline.cloud.errors import CloudError
from eyeline.protos import recording as layout
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.recording_io import DROP, PendingRecord, RecordingWriter, WriterOptions
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
    chunk_bytes: int = 256 * 1024


class CloudSessionRecorder:
    """Records one session. ``open()`` first, then ``record_in``/``record_out`` from the loop, ``close()`` last.

    The writer thread is the shared :class:`~eyeline.protos.recording_io.RecordingWriter`, told to *drop* (and
    count) when its queue is full: the session's stream never waits on the disk.
    """

    def __init__(self, path: Path, info: dict[str, str], clock: Clock | None = None,
                 options: CloudRecorderOptions | None = None) -> None:
        self.path = path
        self.options = options or CloudRecorderOptions()
        self._info = info
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._writer: RecordingWriter | None = None

    @property
    def dropped(self) -> int:
        return self._writer.stats.dropped if self._writer is not None else 0

    def open(self) -> None:
        """Create the file and start the writer thread. Blocking."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.path.open("wb")
        except OSError as exc:
            raise CloudRecordingError(f"cannot create recording {self.path}: {exc.strerror}") from exc
        options = WriterOptions(DROP, self.options.chunk_bytes, self.options.flush_interval_s, self.options.queue_items)
        self._writer = RecordingWriter(stream, {"side": "cloud", **self._info}, options,
                                       name=f"cloud-recorder {self.path}")
        self._writer.start()

    def close(self) -> None:
        """Write what is queued and finalize the file. Blocking; a write failure is logged, never raised."""
        writer = self._writer
        if writer is None or not writer.running:
            return
        writer.close()
        if self.dropped:
            log.warning("recording %s: %d messages dropped (the disk was behind)", self.path, self.dropped)

    def record_in(self, message: pb.EdgeMessage) -> None:
        """A message the edge sent, as received."""
        self._offer(edge_entries(message, self._clock.now_ns()))

    def record_out(self, message: pb.CloudMessage) -> None:
        """A message the cloud is sending back."""
        self._offer(cloud_entries(message, self._clock.now_ns()))

    def record_track_frame(self, seq: int, jpeg: bytes, size: tuple[int, int], received_ns: int) -> None:
        """A frame that came as video on a WebRTC track (the browser-as-glasses page sends no JPEGs), recorded
        as the keyframe the cloud reasoned over, JPEG-encoded by the caller: without it a recording of such a
        session holds answers to frames it does not have, and cannot be replayed."""
        width, height = size
        frame = pb.Frame(seq=seq, trace_id=f"track-{seq}", encoding=pb.IMAGE_ENCODING_JPEG, data=jpeg, width=width,
                         height=height, keyframe=True,
                         hops=pb.HopTimes(capture_ns=received_ns, sent_ns=received_ns, received_ns=received_ns))
        self.record_in(pb.EdgeMessage(frame=frame))

    def _offer(self, entries: Iterator[PendingRecord]) -> None:
        writer = self._writer
        if writer is None or not writer.running or writer.failure is not None:
            return
        for entry in entries:
            writer.submit(entry)  # never waits: a full queue drops the entry, counted


def recording_of(message: pb.EdgeMessage | object,
                 recorder: CloudSessionRecorder | None) -> Callable[[], None] | None:
    """What records ``message`` as received, for :meth:`Dispatcher.handle` to call once it is accepted; None
    when there is nothing to record (no recorder, or bytes that did not parse)."""
    if recorder is None or not isinstance(message, pb.EdgeMessage):
        return None
    return lambda: recorder.record_in(message)


# ------------------------------------------------------------------ what each message becomes


def edge_entries(message: pb.EdgeMessage, now_ns: int) -> Iterator[PendingRecord]:
    match message.WhichOneof("kind"):
        case "frame":
            frame = message.frame
            yield PendingRecord.of(layout.KEYFRAMES, now_ns, frame.seq, rpb.KeyframeRecord(
                seq=frame.seq, capture_ns=frame.hops.capture_ns, keyframe=frame.keyframe, max_width=frame.width,
                data_bytes=len(frame.data)))
            yield PendingRecord.of(layout.CAMERA, now_ns, frame.seq, CompressedImage(
                timestamp=_timestamp(frame.hops.capture_ns), frame_id=layout.CAMERA_FRAME_ID, data=frame.data,
                format=_FORMATS.get(frame.encoding, "jpeg")))
        case "audio":
            yield PendingRecord.of(layout.AUDIO, now_ns, message.audio.seq, message.audio)
        case "utterance":
            yield PendingRecord.of(layout.UTTERANCES, now_ns, 0, message.utterance)
        case "query":
            yield PendingRecord.of(layout.QUERIES, now_ns, 0, message.query)


def cloud_entries(message: pb.CloudMessage, now_ns: int) -> Iterator[PendingRecord]:
    match message.WhichOneof("kind"):
        case "overlay":
            overlay = message.overlay
            yield PendingRecord.of(layout.OVERLAYS, now_ns, overlay.frame_seq, overlay)
            yield PendingRecord.of(layout.HOPS, now_ns, overlay.frame_seq, rpb.HopRecord(
                trace_id=overlay.trace_id, frame_seq=overlay.frame_seq, overlay_id=overlay.overlay_id,
                hops=overlay.hops))
        case "answer":
            yield PendingRecord.of(layout.ANSWERS, now_ns, message.answer.frame_seq, message.answer)
        case "trace":
            yield PendingRecord.of(layout.TRACE, now_ns, message.trace.frame_seq, message.trace)
        case "error":
            yield PendingRecord.of(layout.ERRORS, now_ns, message.error.frame_seq, message.error)


def _timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)
