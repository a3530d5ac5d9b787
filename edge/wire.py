"""The edge's boundary with the wire: domain values to protobuf and back.

Nothing else in ``eyeline.edge`` touches protobuf message classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eyeline.edge import overlays as ov
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import (
    Answer,
    CloudErrorReport,
    CloudEvent,
    FlowControl,
    HeardInCloud,
    HopTimes,
    OverlayArrival,
    TraceStep,
    Welcome,
)
from eyeline.protos.v1 import session_pb2 as pb

MODES = {"instant": pb.MODE_INSTANT, "thinking": pb.MODE_THINKING, "contemplating": pb.MODE_CONTEMPLATING}
_MODE_NAMES = {value: name for name, value in MODES.items()}


class ProtocolError(EdgeError):
    """The cloud sent something the contract does not allow."""


@dataclass(frozen=True, slots=True)
class HelloOut:
    token: str
    profile_name: str
    width: int
    height: int
    fps: float
    horizontal_fov_deg: float
    uplink_budget_kbps: int
    has_display: bool
    mode: str = "instant"
    capabilities: tuple[str, ...] = ("overlay",)
    client_version: str = "eyeline-edge/0.1"
    resume_session_id: str = ""     # reconnecting: the session to continue
    last_frame_seq: int = 0         # ... and the last frame seq sent on it


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    seq: int
    trace_id: str
    capture_ns: int
    data: bytes = field(repr=False)
    width: int
    height: int
    keyframe: bool = True
    redacted: tuple[ov.Box, ...] = ()   # regions (normalized) whose faces were destroyed before sending


@dataclass(frozen=True, slots=True)
class UtteranceOut:
    """What was said, when (capture times of its first and last speech sample), as the edge recognised it."""

    text: str
    start_ns: int
    end_ns: int
    confidence: float = 0.0
    language: str = ""


@dataclass(frozen=True, slots=True)
class QueryOut:
    query_id: str
    text: str
    mode: str = ""       # "" = the session's mode
    frame_seq: int | None = None  # None = the latest keyframe
    asked_ns: int = 0
    utterance: UtteranceOut | None = None  # set when the query was spoken


@dataclass(frozen=True, slots=True)
class RenderedOut:
    """An overlay the edge drew: the hops it arrived with (``rendered_ns`` filled in), and when it arrived."""

    trace_id: str
    overlay_id: str
    hops: HopTimes
    arrived_ns: int


def goodbye_message() -> pb.EdgeMessage:
    return pb.EdgeMessage(goodbye=pb.Goodbye())


def hello_message(hello: HelloOut) -> pb.EdgeMessage:
    profile = pb.DeviceProfile(name=hello.profile_name, width=hello.width, height=hello.height, fps=hello.fps,
                               horizontal_fov_deg=hello.horizontal_fov_deg,
                               uplink_budget_kbps=hello.uplink_budget_kbps, has_display=hello.has_display)
    return pb.EdgeMessage(hello=pb.Hello(token=hello.token, profile=profile, mode=MODES[hello.mode],
                                         capabilities=list(hello.capabilities),
                                         client_version=hello.client_version,
                                         resume_session_id=hello.resume_session_id,
                                         last_frame_seq=hello.last_frame_seq))


def frame_message(frame: EncodedFrame, sent_ns: int) -> pb.EdgeMessage:
    return pb.EdgeMessage(frame=pb.Frame(
        seq=frame.seq, trace_id=frame.trace_id, hops=pb.HopTimes(capture_ns=frame.capture_ns, sent_ns=sent_ns),
        encoding=pb.IMAGE_ENCODING_JPEG, data=frame.data, width=frame.width, height=frame.height,
        keyframe=frame.keyframe, redacted=[pb.Box(x0=b.x0, y0=b.y0, x1=b.x1, y1=b.y1) for b in frame.redacted]))


def query_message(query: QueryOut) -> pb.EdgeMessage:
    mode = MODES[query.mode] if query.mode else pb.MODE_UNSPECIFIED
    spoken = query.utterance
    utterance = None if spoken is None else pb.Utterance(
        text=spoken.text, start_ns=spoken.start_ns, end_ns=spoken.end_ns, confidence=spoken.confidence,
        language=spoken.language)
    return pb.EdgeMessage(query=pb.Query(query_id=query.query_id, text=query.text, mode=mode,
                                         frame_seq=query.frame_seq, asked_ns=query.asked_ns, utterance=utterance))


def audio_messages(utterance_id: str, pcm_s16le: bytes, capture_ns: int, sample_rate: int,
                   chunk_bytes: int) -> list[pb.EdgeMessage]:
    """One utterance's mono 16-bit audio as AudioChunks of at most ``chunk_bytes``, the last one marked."""
    step = max(2, chunk_bytes - chunk_bytes % 2)
    starts = range(0, max(1, len(pcm_s16le)), step)
    return [pb.EdgeMessage(audio=pb.AudioChunk(
        seq=seq, capture_ns=capture_ns + start // 2 * 1_000_000_000 // sample_rate, sample_rate=sample_rate,
        channels=1, pcm_s16le=pcm_s16le[start:start + step], utterance_id=utterance_id,
        last=seq == len(starts) - 1)) for seq, start in enumerate(starts)]


def ack_message(rendered: Sequence[RenderedOut], sent_ns: int) -> pb.EdgeMessage:
    """The periodic report of what was drawn, for the cloud's per-hop latency (``sent_ns``: edge clock, now)."""
    return pb.EdgeMessage(ack=pb.Ack(overlays_rendered=len(rendered), sent_ns=sent_ns, rendered=[
        pb.RenderedOverlay(trace_id=r.trace_id, overlay_id=r.overlay_id, hops=_hops_to_wire(r.hops),
                           arrived_ns=r.arrived_ns) for r in rendered]))


def _hops_to_wire(h: HopTimes) -> pb.HopTimes:
    return pb.HopTimes(capture_ns=h.capture_ns, sent_ns=h.sent_ns, received_ns=h.received_ns,
                       reasoned_ns=h.reasoned_ns, overlay_sent_ns=h.overlay_sent_ns, rendered_ns=h.rendered_ns)


def cloud_event(message: pb.CloudMessage) -> CloudEvent:
    kind = message.WhichOneof("kind")
    match kind:
        case "welcome":
            w = message.welcome
            return Welcome(w.session_id, w.server_version, w.max_frame_bytes, w.max_frame_pixels, tuple(w.skills),
                           resumed=w.resumed, state_lost=w.state_lost)
        case "overlay":
            return OverlayArrival(overlay_from_wire(message.overlay), _hops(message.overlay.hops))
        case "answer":
            a = message.answer
            return Answer(a.query_id, a.text, a.frame_seq, a.trace_id, _MODE_NAMES.get(a.mode, ""), a.final,
                          a.proactive, a.offer)
        case "trace":
            return _trace_step(message.trace)
        case "flow":
            f = message.flow
            return FlowControl(f.max_keyframes_per_s, f.max_width, f.keyframe_wanted)
        case "utterance":
            u = message.utterance
            return HeardInCloud(u.utterance_id, u.text, u.start_ns, u.end_ns, u.confidence, u.language)
        case "error":
            e = message.error
            code = pb.ErrorCode.Name(e.code).removeprefix("ERROR_CODE_").lower()
            return CloudErrorReport(code, e.message, e.retryable, e.frame_seq, e.query_id)
    raise ProtocolError(f"the cloud sent a CloudMessage with no known content ({kind!r})")


def _hops(h: pb.HopTimes) -> HopTimes:
    return HopTimes(h.capture_ns, h.sent_ns, h.received_ns, h.reasoned_ns, h.overlay_sent_ns, h.rendered_ns)


def _trace_step(t: pb.TraceStep) -> TraceStep:
    kind = pb.StepKind.Name(t.kind).removeprefix("STEP_KIND_").lower()
    return TraceStep(t.query_id, t.index, kind, t.text, tuple(_box(b) for b in t.evidence), t.confidence,
                     t.cost_us, t.agent, t.frame_seq)


def _box(b: pb.Box) -> ov.Box:
    return ov.Box(b.x0, b.y0, b.x1, b.y1)


def _point(p: pb.Point) -> ov.Point:
    return (p.x, p.y)


def overlay_from_wire(o: pb.Overlay) -> ov.Overlay:
    items = tuple(ov.Item(i.id, _shape(i), i.rgb) for i in o.items if i.WhichOneof("shape") is not None)
    return ov.Overlay(o.overlay_id, o.query_id, o.frame_seq, o.trace_id, o.hops.capture_ns, items, o.final)


def _shape(item: pb.OverlayItem) -> ov.Shape:  # one branch per item kind
    match item.WhichOneof("shape"):
        case "box":
            return ov.BoxShape(_box(item.box.box), item.box.caption)
        case "outline":
            return ov.OutlineShape(tuple(_point(p) for p in item.outline.points))
        case "badge":
            return ov.BadgeShape(_point(item.badge.center), item.badge.text)
        case "arrow":
            return ov.ArrowShape(_point(item.arrow.tail), _point(item.arrow.head), item.arrow.text)
        case "label":
            return ov.LabelShape(_point(item.label.anchor), item.label.text)
        case "panel":
            rows = tuple(ov.PanelRow(r.rank, r.text, r.value) for r in item.panel.rows)
            return ov.PanelShape(item.panel.title, rows)
        case "step_card":
            s = item.step_card
            return ov.StepCardShape(s.step, s.total, s.instruction, s.target_item_id, s.warning)
        case "notice":
            return ov.NoticeShape(item.notice.text)
    raise ProtocolError(f"overlay item {item.id!r} has no shape")
