"""Writing the recording layout of :mod:`eyeline.protos.recording`: the classes behind its schemas and the
channel table, shared by the edge's recorder, the cloud's recorder and the repair tool so that every writer
produces the very same file layout."""

from __future__ import annotations

from typing import IO

from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.ImageAnnotations_pb2 import ImageAnnotations
from google.protobuf.message import Message as ProtoMessage
from mcap.writer import CompressionType, Writer
from mcap_protobuf.schema import build_file_descriptor_set

from eyeline.protos import recording as layout
from eyeline.protos.v1 import recording_pb2 as rpb
from eyeline.protos.v1 import session_pb2 as pb

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
    """

    def __init__(self, writer: Writer, upfront: tuple[str, ...] = (layout.CAMERA,)) -> None:
        self._writer = writer
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        for topic in upfront:
            self[topic]

    def __getitem__(self, topic: str) -> int:
        channel = self._channels.get(topic)
        if channel is None:
            channel = self._channels[topic] = self._writer.register_channel(topic, "protobuf", self._schema(topic))
        return channel

    def _schema(self, topic: str) -> int:
        name = layout.SCHEMAS[topic]
        schema = self._schemas.get(name)
        if schema is None:
            descriptors = build_file_descriptor_set(MESSAGE_CLASSES[name]).SerializeToString()
            schema = self._schemas[name] = self._writer.register_schema(name, "protobuf", descriptors)
        return schema
