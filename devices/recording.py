"""Reading session recordings (MCAP files, layout in :mod:`eyeline.protos.recording`) and their ground truth.

A recording is read record by record, so a file whose writer was killed still yields every message of its
complete chunks; the reader then says it was truncated instead of pretending the session ended there. A file
that is not MCAP, is not an Eyeline recording, names an unknown schema version, lacks a needed channel or
holds no frames raises a :class:`RecordingError` subclass that names the file and the problem.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from google.protobuf.message import DecodeError
from mcap.exceptions import EndOfFile, McapError
from mcap.records import Channel, Header, Message, Metadata, Schema
from mcap.stream_reader import CRCValidationError, StreamReader

from eyeline.devices.base import DeviceError, DeviceNotFoundError
from eyeline.devices.espresso import ComponentTruth, EspressoTruth
from eyeline.devices.synthetic import Product, ProductTruth, ShelfTruth
from eyeline.protos import recording as layout
from eyeline.protos.recording_io import MESSAGE_CLASSES
from eyeline.protos.v1 import recording_pb2 as rpb
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger(__name__)

MCAP_MAGIC = b"\x89MCAP0\r\n"



class RecordingError(DeviceError):
    """A recording cannot be replayed; the message names the file and what is wrong with it."""


class NotMcapError(RecordingError):
    """The file is not an MCAP file at all, or not one written by Eyeline."""


class TruncatedRecordingError(RecordingError):
    """The file ends inside a record and holds no complete frame to replay."""


class EmptyRecordingError(RecordingError):
    """The file is a complete recording with no frame to replay."""


class MissingChannelError(RecordingError):
    """A channel the reader needs (camera frames, queries, ...) is not in the file."""


class SchemaVersionError(RecordingError):
    """The recording was written with a schema version (or a channel schema) this reader does not know."""


class CorruptRecordingError(RecordingError):
    """A record in the file fails its checksum or does not decode."""


class OversizedFrameError(RecordingError):
    """A recorded frame claims more pixels than replay decodes (a decompression bomb, or a foreign file)."""


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One decoded message: its topic, the edge-clock time it was logged at, and the publisher's sequence."""

    topic: str
    log_ns: int
    sequence: int
    message: Any


class RecordingReader:
    """Reads one recording front to back, once per :meth:`messages` call.

    After a full pass, ``truncated`` says whether the file ended mid-record (a writer that died); the
    messages of every complete chunk before that point have been yielded.
    """

    def __init__(self, path: str | Path, *, required: tuple[str, ...] = layout.REQUIRED_FOR_REPLAY) -> None:
        self.path = Path(path)
        self.required = required
        self.truncated = False
        self.metadata: dict[str, str] = {}
        _check_magic(self.path)

    def messages(self, topics: frozenset[str] | None = None) -> Iterator[RecordedMessage]:
        """Every message (of ``topics``, when given) in file order; raises :class:`RecordingError` on bad files."""
        self.truncated = False
        with self.path.open("rb") as stream:
            yield from self._read(stream, topics)

    def _read(self, stream: IO[bytes], topics: frozenset[str] | None) -> Iterator[RecordedMessage]:
        state = _ReadState(self)
        try:
            for record in StreamReader(stream, validate_crcs=True).records:
                decoded = state.accept(record)
                if decoded is not None and (topics is None or decoded.topic in topics):
                    yield decoded
        except (McapError, CRCValidationError, struct.error, EOFError) as exc:
            self._on_read_failure(exc, state)
        except (ValueError, IndexError, KeyError, OverflowError, MemoryError) as exc:
            # What the MCAP library raises for some damage (a name that is not UTF-8, a record length past the
            # end of the data, a record too large to allocate) instead of its own errors.
            raise CorruptRecordingError(f"recording {self.path} is corrupt after {state.count} messages: "
                                        f"{type(exc).__name__}: {exc}") from exc
        state.finish()

    def _on_read_failure(self, exc: Exception, state: _ReadState) -> None:
        if isinstance(exc, EndOfFile | struct.error | EOFError):
            self.truncated = True
            log.warning("recording %s ends mid-record; replaying the %d messages of its complete chunks",
                        self.path, state.count)
            return
        raise CorruptRecordingError(f"recording {self.path} is corrupt after {state.count} messages: {exc}") from exc


class _ReadState:
    """What one pass has seen so far: header, metadata, schemas and channels."""

    def __init__(self, reader: RecordingReader) -> None:
        self.reader = reader
        self.schemas: dict[int, Schema] = {}
        self.channels: dict[int, Channel] = {}
        self.sequence_high: dict[int, int] = {}     # channel id -> the high 32 bits of its sequence numbers
        self.header_seen = False
        self.count = 0
        self._checked = False

    def accept(self, record: object) -> RecordedMessage | None:
        match record:
            case Header():
                self._header(record)
            case Metadata(name=layout.METADATA_NAME):
                self._metadata(record)
            case Schema():
                self.schemas[record.id] = record
            case Channel():
                self._channel(record)
            case Message():
                return self._message(record)
        return None

    def _header(self, header: Header) -> None:
        self.header_seen = True
        if header.profile != layout.PROFILE:
            raise NotMcapError(f"{self.reader.path} is an MCAP file but not an Eyeline recording "
                               f"(profile {header.profile!r}, expected {layout.PROFILE!r})")

    def _metadata(self, record: Metadata) -> None:
        version = record.metadata.get("schema_version", "")
        if version not in layout.KNOWN_SCHEMA_VERSIONS:
            known = ", ".join(sorted(layout.KNOWN_SCHEMA_VERSIONS))
            raise SchemaVersionError(f"recording {self.reader.path} has schema version {version!r}; "
                                     f"this reader knows {known}")
        self.reader.metadata = dict(record.metadata)

    def _channel(self, channel: Channel) -> None:
        expected = layout.SCHEMAS.get(channel.topic)
        schema = self.schemas.get(channel.schema_id)
        if expected is not None and (schema is None or schema.name != expected):
            found = schema.name if schema is not None else "no schema"
            raise SchemaVersionError(f"recording {self.reader.path}: channel {channel.topic} has {found}, "
                                     f"expected {expected}")
        self.channels[channel.id] = channel
        self.sequence_high[channel.id] = _sequence_high(self.reader.path, channel)

    def _message(self, message: Message) -> RecordedMessage | None:
        if not self._checked:
            self._check_layout()
        channel = self.channels.get(message.channel_id)
        if channel is None or channel.topic not in layout.SCHEMAS:
            return None  # a channel this version does not define: someone else's, skipped
        decoded = _decode(self.reader.path, channel.topic, message, self.sequence_high.get(channel.id, 0))
        self.count += 1
        return decoded

    def _check_layout(self) -> None:
        self._checked = True
        if not self.reader.metadata:
            raise SchemaVersionError(f"recording {self.reader.path} has no {layout.METADATA_NAME} metadata, so its "
                                     f"schema version is unknown")

    def finish(self) -> None:
        """After the last record: channels are registered when first used, so only now can one be missing."""
        if not self.header_seen:
            raise TruncatedRecordingError(f"recording {self.reader.path} ends before its MCAP header")
        if not self._checked and not self.reader.truncated:
            self._check_layout()
        topics = {channel.topic for channel in self.channels.values()}
        missing = [topic for topic in self.reader.required if topic not in topics]
        if missing and self.reader.truncated:
            raise TruncatedRecordingError(f"recording {self.reader.path} ends before its first complete chunk "
                                          f"with {', '.join(missing)}; there is nothing to replay")
        if missing:
            raise MissingChannelError(f"recording {self.reader.path} lacks channel(s) {', '.join(missing)}")


def _sequence_high(path: Path, channel: Channel) -> int:
    text = channel.metadata.get(layout.SEQUENCE_HIGH, "0")
    if not text.isascii() or not text.isdigit() or int(text) >= 1 << 32:
        raise CorruptRecordingError(f"recording {path}: channel {channel.topic} names {text!r} as the high half "
                                    "of its sequence numbers")
    return int(text)


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(MCAP_MAGIC))
    except FileNotFoundError as exc:
        raise DeviceNotFoundError(f"recording not found: {path}") from exc
    except OSError as exc:
        raise DeviceNotFoundError(f"recording cannot be read: {path} ({exc.strerror})") from exc
    if magic != MCAP_MAGIC:
        what = "empty" if not magic else "not an MCAP file (no MCAP magic at its start)"
        raise NotMcapError(f"{path} is {what}")


def _decode(path: Path, topic: str, message: Message, high: int) -> RecordedMessage:
    cls = MESSAGE_CLASSES[layout.SCHEMAS[topic]]
    decoded = cls()
    try:
        decoded.ParseFromString(message.data)
    except DecodeError as exc:
        raise CorruptRecordingError(f"recording {path}: a {topic} message at {message.log_time} ns does not "
                                    f"decode: {exc}") from exc
    return RecordedMessage(topic, message.log_time, (high << 32) | message.sequence, decoded)


# ------------------------------------------------------------------ ground truth


FrameTruth = ShelfTruth | EspressoTruth
SHELF_SCENE, ESPRESSO_SCENE = "shelf", "espresso"


def truth_record(seq: int, capture_ns: int, truth: object) -> rpb.FrameTruthRecord | None:
    """The record of a frame's ground truth, or None when the source has none it knows how to record."""
    if isinstance(truth, EspressoTruth):
        return _espresso_record(seq, capture_ns, truth)
    if not isinstance(truth, ShelfTruth):
        return None
    return rpb.FrameTruthRecord(scene=SHELF_SCENE,

        seq=seq, capture_ns=capture_ns, products=[_product_record(p) for p in truth.products],
        world_to_frame=truth.world_to_frame, motion=truth.motion, yaw_deg=truth.yaw_deg,
        pitch_deg=truth.pitch_deg, roll_deg=truth.roll_deg, best_product=_best_name(truth))


def _best_name(truth: ShelfTruth) -> str:
    try:
        return truth.best_product().display_name
    except DeviceError:
        return ""


def _product_record(truth: ProductTruth) -> rpb.ProductTruthRecord:
    p = truth.product
    return rpb.ProductTruthRecord(
        brand=p.brand, name=p.name, protein_g=p.protein_g, serving_g=p.serving_g, kcal=p.kcal,
        color_bgr=list(p.color_bgr), box=pb.Box(x0=truth.box[0], y0=truth.box[1], x1=truth.box[2], y1=truth.box[3]),
        quad=[pb.Point(x=x, y=y) for x, y in truth.quad], visible_fraction=truth.visible_fraction)


def shelf_truth(record: rpb.FrameTruthRecord) -> ShelfTruth:
    """The :class:`ShelfTruth` a record holds (floats come back at the record's 32-bit precision)."""
    return ShelfTruth(products=tuple(_product_truth(p) for p in record.products),
                      world_to_frame=tuple(record.world_to_frame), motion=tuple(record.motion),
                      yaw_deg=record.yaw_deg, pitch_deg=record.pitch_deg, roll_deg=record.roll_deg)


def _product_truth(record: rpb.ProductTruthRecord) -> ProductTruth:
    color = tuple(record.color_bgr)
    product = Product(record.brand, record.name, record.protein_g, record.serving_g, record.kcal,
                      (color[0], color[1], color[2]) if len(color) == 3 else (0, 0, 0))
    box = record.box
    pixels = (int(box.x0), int(box.y0), int(box.x1), int(box.y1))
    return ProductTruth(product, pixels, tuple((q.x, q.y) for q in record.quad), record.visible_fraction)



def _espresso_record(seq: int, capture_ns: int, truth: EspressoTruth) -> rpb.FrameTruthRecord:
    return rpb.FrameTruthRecord(
        seq=seq, capture_ns=capture_ns, scene=ESPRESSO_SCENE, world_to_frame=truth.world_to_frame,
        motion=truth.motion, display_text=truth.display_text, components=[
            rpb.ComponentTruthRecord(id=c.id, name=c.name, box=pb.Box(x0=c.box[0], y0=c.box[1], x1=c.box[2],
                                                                      y1=c.box[3]),
                                     quad=[pb.Point(x=x, y=y) for x, y in c.quad],
                                     center=pb.Point(x=c.center[0], y=c.center[1]),
                                     visible_fraction=c.visible_fraction) for c in truth.components])


def frame_truth(record: rpb.FrameTruthRecord, path: Path | None = None) -> FrameTruth:
    """The ground truth a record holds: a shelf (schema version 1 records are all shelves) or the espresso machine.

    A scene this reader does not know raises :class:`SchemaVersionError` naming it, rather than passing for a
    shelf with no products.
    """
    if record.scene in ("", SHELF_SCENE):
        return shelf_truth(record)
    if record.scene == ESPRESSO_SCENE:
        return espresso_truth(record)
    raise SchemaVersionError(f"recording {path or '?'}: frame {record.seq} has ground truth of scene "
                             f"{record.scene!r}; this reader knows {SHELF_SCENE!r} and {ESPRESSO_SCENE!r}")


def espresso_truth(record: rpb.FrameTruthRecord) -> EspressoTruth:
    """The :class:`EspressoTruth` a record holds (floats come back at the record's 32-bit precision)."""
    return EspressoTruth(components=tuple(_component_truth(c) for c in record.components),
                         world_to_frame=tuple(record.world_to_frame), motion=tuple(record.motion),
                         display_text=record.display_text)


def _component_truth(record: rpb.ComponentTruthRecord) -> ComponentTruth:
    box = record.box
    return ComponentTruth(id=record.id, name=record.name, quad=tuple((q.x, q.y) for q in record.quad),
                          box=(int(box.x0), int(box.y0), int(box.x1), int(box.y1)),
                          center=(record.center.x, record.center.y), visible_fraction=record.visible_fraction)
