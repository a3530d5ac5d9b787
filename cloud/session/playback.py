"""Reading the cloud's session recordings (``--record-dir``) back for the viewer's playback.

A recording (:mod:`eyeline.protos.recording`) is read once, in a worker, into a :class:`Playback`: its camera
frames by sequence number (still JPEG), and a timeline of what the session said, each entry at its log time:
the overlays, answers, trace steps, errors and utterances as ``CloudMessage`` protobufs (what the live event
stream carries, so the page shows both the same way), and the questions asked. A file that ends mid-record (a
cloud that died while writing) raises :class:`TruncatedPlaybackError` unless the caller accepts the complete part.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage
from mcap.exceptions import EndOfFile, McapError
from mcap.records import Channel, Header, Message, Metadata, Schema
from mcap.stream_reader import StreamReader

from eyeline.cloud.errors import CloudError
from eyeline.protos import recording as layout
from eyeline.protos.recording_io import MESSAGE_CLASSES
from eyeline.protos.v1 import session_pb2 as pb

SUFFIX = ".mcap"
# The recorded frames held in memory for one playback, at most; a longer recording's later frames are not shown.
MAX_FRAME_BYTES = 256 * 1024 * 1024
_MAGIC = b"\x89MCAP0\r\n"
# Recorded topics the page shows, and the CloudMessage field each one fills.
_AS_CLOUD_MESSAGE = {layout.OVERLAYS: "overlay", layout.ANSWERS: "answer", layout.TRACE: "trace",
                     layout.ERRORS: "error", layout.UTTERANCES: "utterance"}


class PlaybackError(CloudError):
    """A recording that cannot be played back: not an Eyeline recording, or corrupt."""

    code = "unreadable_recording"


class TruncatedPlaybackError(PlaybackError):
    """The recording ends mid-record: its writer died. ``messages`` were read before the cut."""

    code = "truncated_recording"

    def __init__(self, message: str, messages: int) -> None:
        super().__init__(message)
        self.messages = messages


@dataclass(frozen=True, slots=True)
class RecordingEntry:
    """One recording file as listed: the owner and session it names, read from its metadata."""

    name: str
    path: Path
    size: int
    subject: str
    session_id: str
    profile: str


@dataclass(slots=True)
class Playback:
    name: str
    metadata: dict[str, str]
    frames: dict[int, bytes] = field(default_factory=dict)         # seq -> JPEG (or PNG) as recorded
    frame_times: list[tuple[int, int]] = field(default_factory=list)   # (log ns, seq), in file order
    events: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    frame_bytes: int = 0
    frames_left_out: int = 0      # frames past MAX_FRAME_BYTES: listed on the timeline, not held

    def as_json(self) -> dict[str, Any]:
        times = [t for t, _ in self.frame_times] + [e["t_ns"] for e in self.events]
        return {"name": self.name, "subject": self.metadata.get("subject", ""),
                "session_id": self.metadata.get("session_id", ""), "profile": self.metadata.get("profile", ""),
                "start_ns": min(times, default=0), "end_ns": max(times, default=0), "truncated": self.truncated,
                "frames_left_out": self.frames_left_out,
                "frames": [{"t_ns": t, "seq": seq} for t, seq in self.frame_times], "events": self.events}


def list_recordings(folder: Path) -> list[RecordingEntry]:
    """Every recording in ``folder``, newest first, with the metadata that says whose it is. Blocking."""
    entries = []
    paths = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in paths:
        metadata = _metadata_only(path)
        entries.append(RecordingEntry(path.stem, path, path.stat().st_size, metadata.get("subject", ""),
                                      metadata.get("session_id", ""), metadata.get("profile", "")))
    return entries


def recording_path(folder: Path, name: str) -> Path | None:
    """The recording called ``name`` in ``folder``; None for a name that is not one (no path tricks)."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or not name.isprintable():
        return None
    path = folder / f"{name}{SUFFIX}"
    return path if path.is_file() else None


def recording_owner(path: Path) -> str:
    """The subject a recording names ("" for none or an unreadable start). Blocking."""
    return _metadata_only(path).get("subject", "")


def read_playback(path: Path, *, accept_truncated: bool = False) -> Playback:
    """The whole recording, frames and timeline. Blocking and CPU work: call it in a worker."""
    playback = Playback(path.stem, {})
    reader = _Reader(path, playback)
    try:
        reader.read()
    except TruncatedPlaybackError:
        if not accept_truncated:
            raise
        playback.truncated = True
    return playback


def _metadata_only(path: Path) -> dict[str, str]:
    """The recording's metadata, read from its start (it is written right after the header)."""
    try:
        with path.open("rb") as stream:
            for record in StreamReader(stream, validate_crcs=False).records:
                if isinstance(record, Metadata) and record.name == layout.METADATA_NAME:
                    return dict(record.metadata)
                if isinstance(record, Message):
                    break
    except (McapError, struct.error, EOFError, OSError, ValueError):
        pass
    return {}


class _Reader:
    def __init__(self, path: Path, playback: Playback) -> None:
        self._path = path
        self._playback = playback
        self._schemas: dict[int, str] = {}
        self._topics: dict[int, str] = {}
        self._count = 0

    def read(self) -> None:
        with self._path.open("rb") as stream:
            if stream.read(len(_MAGIC)) != _MAGIC:
                raise PlaybackError(f"{self._path.name} is not an MCAP recording")
            stream.seek(0)
            try:
                for record in StreamReader(stream, validate_crcs=True).records:
                    self._accept(record)
            except (EndOfFile, struct.error, EOFError) as exc:
                raise TruncatedPlaybackError(
                    f"recording {self._path.name} ends mid-record after {self._count} messages (its writer "
                    f"stopped); ask with ?partial=1 for the complete part", self._count) from exc
            except (McapError, DecodeError, ValueError) as exc:
                raise PlaybackError(f"recording {self._path.name} is corrupt after {self._count} messages: "
                                    f"{exc}") from exc

    def _accept(self, record: object) -> None:
        match record:
            case Header() if record.profile != layout.PROFILE:
                raise PlaybackError(f"{self._path.name} is an MCAP file but not an Eyeline recording")
            case Metadata(name=layout.METADATA_NAME):
                self._playback.metadata = dict(record.metadata)
            case Schema():
                self._schemas[record.id] = record.name
            case Channel():
                self._topics[record.id] = record.topic
            case Message():
                self._message(record)

    def _message(self, record: Message) -> None:
        topic = self._topics.get(record.channel_id, "")
        schema = layout.SCHEMAS.get(topic)
        if schema is None:
            return
        message = MESSAGE_CLASSES[schema].FromString(record.data)
        self._count += 1
        self._place(topic, record.log_time, record.sequence, message)

    def _place(self, topic: str, t_ns: int, sequence: int, message: ProtoMessage) -> None:
        playback = self._playback
        if topic == layout.CAMERA:
            data = bytes(getattr(message, "data", b""))
            if playback.frame_bytes + len(data) <= MAX_FRAME_BYTES:
                playback.frames[sequence] = data
                playback.frame_bytes += len(data)
            else:
                playback.frames_left_out += 1
            playback.frame_times.append((t_ns, sequence))
        elif topic == layout.QUERIES:
            assert isinstance(message, pb.Query)
            playback.events.append({"t_ns": t_ns, "kind": "question", "query_id": message.query_id,
                                    "text": message.text, "mode": pb.Mode.Name(message.mode)})
        elif (field_name := _AS_CLOUD_MESSAGE.get(topic)) is not None:
            wrapped = pb.CloudMessage()
            getattr(wrapped, field_name).CopyFrom(message)
            playback.events.append({"t_ns": t_ns, "kind": "message",
                                    "message": base64.b64encode(wrapped.SerializeToString()).decode("ascii")})
