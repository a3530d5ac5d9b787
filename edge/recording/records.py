"""The recording-only records: camera images and annotations in Foxglove's schemas, audio, keyframe choices and
per-hop times. Contract messages (queries, overlays, answers...) come from ``edge.transport.wire``.
"""

from __future__ import annotations

import numpy as np
from foxglove_schemas_protobuf.Color_pb2 import Color
from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.ImageAnnotations_pb2 import ImageAnnotations
from foxglove_schemas_protobuf.Point2_pb2 import Point2
from foxglove_schemas_protobuf.PointsAnnotation_pb2 import PointsAnnotation
from foxglove_schemas_protobuf.TextAnnotation_pb2 import TextAnnotation
from google.protobuf.timestamp_pb2 import Timestamp

from eyeline.devices.audio import AudioChunk
from eyeline.edge import overlays as ov
from eyeline.edge.frames.sampler import KeyframeChoice
from eyeline.edge.messages import HopTimes
from eyeline.edge.transport.wire import hops_to_wire
from eyeline.protos import recording as layout
from eyeline.protos.v1 import recording_pb2 as rpb
from eyeline.protos.v1 import session_pb2 as pb

_DEFAULT_RGB = 0x34C759


def timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def compressed_image(capture_ns: int, data: bytes, image_format: str) -> CompressedImage:
    return CompressedImage(timestamp=timestamp(capture_ns), frame_id=layout.CAMERA_FRAME_ID, data=data,
                           format=image_format)


def audio_record(chunk: AudioChunk) -> pb.AudioChunk:
    """A chunk as 16-bit PCM: float samples in [-1, 1] scaled by 32768, the inverse of how audio files decode."""
    pcm = np.clip(np.rint(chunk.samples * 32768.0), -32768, 32767).astype("<i2")
    return pb.AudioChunk(seq=chunk.seq, capture_ns=chunk.capture_ns, sample_rate=chunk.sample_rate, channels=1,
                         pcm_s16le=pcm.tobytes())


def keyframe_record(choice: KeyframeChoice, nbytes: int) -> rpb.KeyframeRecord:
    return rpb.KeyframeRecord(seq=choice.frame.seq, capture_ns=choice.frame.capture_ns, keyframe=choice.keyframe,
                              reason=choice.reason, max_width=choice.encoding.max_width,
                              quality=choice.encoding.quality, data_bytes=nbytes)


def hop_record(overlay: ov.Overlay, hops: HopTimes) -> rpb.HopRecord:
    return rpb.HopRecord(trace_id=overlay.trace_id, frame_seq=overlay.frame_seq, overlay_id=overlay.overlay_id,
                         hops=hops_to_wire(hops))


# ------------------------------------------------------------------ the Foxglove view


def image_annotations(overlay: ov.Overlay, size: tuple[int, int], capture_ns: int) -> ImageAnnotations:
    """The overlay's anchored items in pixels of its frame (``size`` = width, height), stamped like that frame.

    Foxglove pairs annotations with the image of the same timestamp; screen-space items (panels, step cards,
    notices) have no place in the image and become text in its top-left corner.
    """
    stamp = timestamp(capture_ns)
    annotations = ImageAnnotations()
    corner = 0
    for item in overlay.items:
        color = _color(item.rgb)
        match item.shape:
            case ov.BoxShape(box=b, caption=caption):
                corners = ((b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1))
                annotations.points.append(_polygon(stamp, corners, size, color))
                if caption:
                    annotations.texts.append(_text(stamp, (b.x0, b.y0), size, caption, color))
            case ov.OutlineShape(points=points):
                annotations.points.append(_polygon(stamp, points, size, color))
            case ov.BadgeShape(center=p, text=text) | ov.LabelShape(anchor=p, text=text):
                annotations.texts.append(_text(stamp, p, size, text, color))
            case ov.ArrowShape(tail=tail, head=head, text=text):
                annotations.points.append(_polygon(stamp, (tail, head), size, color, PointsAnnotation.LINE_STRIP))
                annotations.texts.append(_text(stamp, tail, size, text, color))
            case _:
                corner += 1
                annotations.texts.append(_text(stamp, (0.01, 0.04 * corner), size, _screen_text(item.shape), color))
    return annotations


def _screen_text(shape: ov.Shape) -> str:
    match shape:
        case ov.PanelShape(title=title, rows=rows):
            return "; ".join([title, *(f"{r.rank} {r.text} {r.value}".strip() for r in rows)])
        case ov.StepCardShape(step=step, total=total, instruction=instruction):
            return f"{step}/{total} {instruction}"
        case ov.NoticeShape(text=text):
            return text
    return ""


def _pixel(p: ov.Point, size: tuple[int, int]) -> Point2:
    return Point2(x=p[0] * size[0], y=p[1] * size[1])


def _color(rgb: int) -> Color:
    rgb = rgb or _DEFAULT_RGB
    return Color(r=((rgb >> 16) & 0xFF) / 255, g=((rgb >> 8) & 0xFF) / 255, b=(rgb & 0xFF) / 255, a=1.0)


def _polygon(stamp: Timestamp, points: tuple[ov.Point, ...], size: tuple[int, int], color: Color,
             kind: PointsAnnotation.Type.ValueType = PointsAnnotation.LINE_LOOP) -> PointsAnnotation:
    return PointsAnnotation(timestamp=stamp, type=kind, points=[_pixel(p, size) for p in points],
                            outline_color=color, thickness=3.0)


def _text(stamp: Timestamp, p: ov.Point, size: tuple[int, int], text: str, color: Color) -> TextAnnotation:
    return TextAnnotation(timestamp=stamp, position=_pixel(p, size), text=text, font_size=18.0, text_color=color,
                          background_color=Color(r=0, g=0, b=0, a=0.6))
