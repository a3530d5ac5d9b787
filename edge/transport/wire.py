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
    AnswerFact,
    AnswerTiming,
    CloudErrorReport,
    CloudEvent,
    FlowControl,
    HeardInCloud,
    HopTimes,
    OverlayArrival,
    StageTime,
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


# What an uplink queues to send: frames and queries as values, anything else as a ready message.
Outgoing = EncodedFrame | QueryOut | pb.EdgeMessage


def outgoing_message(item: Outgoing, now_ns: int) -> pb.EdgeMessage:
    """``item`` as it goes on the wire; a frame is stamped sent at ``now_ns`` (edge clock)."""
    if isinstance(item, EncodedFrame):
        return frame_message(item, sent_ns=now_ns)
    if isinstance(item, QueryOut):
        return query_message(item)
    return item


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
    return pb.EdgeMessage(query=query_to_wire(query))


def query_to_wire(query: QueryOut) -> pb.Query:
    mode = MODES[query.mode] if query.mode else pb.MODE_UNSPECIFIED
    spoken = query.utterance
    return pb.Query(query_id=query.query_id, text=query.text, mode=mode, frame_seq=query.frame_seq,
                    asked_ns=query.asked_ns, utterance=None if spoken is None else utterance_to_wire(spoken))


def utterance_to_wire(utterance: UtteranceOut) -> pb.Utterance:
    return pb.Utterance(text=utterance.text, start_ns=utterance.start_ns, end_ns=utterance.end_ns,
                        confidence=utterance.confidence, language=utterance.language)


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
        pb.RenderedOverlay(trace_id=r.trace_id, overlay_id=r.overlay_id, hops=hops_to_wire(r.hops),
                           arrived_ns=r.arrived_ns) for r in rendered]))


def hops_to_wire(h: HopTimes) -> pb.HopTimes:
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
                          a.proactive, a.offer, a.overlay_id,
                          timing=_timing(a.timing) if a.HasField("timing") else None,
                          facts=tuple(AnswerFact(f.product, f.nutrient, f.amount, f.unit, f.basis, f.serving_g,
                                                 f.computed) for f in a.facts))
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


def _timing(t: pb.AnswerTiming) -> AnswerTiming:
    return AnswerTiming(tuple(StageTime(s.stage, s.us) for s in t.stages), t.total_us, t.warm, t.frame_decode_us,
                        ocr_parts=tuple(StageTime(s.stage, s.us) for s in t.ocr_parts),
                        segmentation_us=t.segmentation_us, query_sent_ns=t.query_sent_ns,
                        query_received_ns=t.query_received_ns, answer_sent_ns=t.answer_sent_ns)


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


# ------------------------------------------------------------------ what the cloud sent, as protobuf again
# (the recorder stores it; the push-ingest relays it to a phone)


def answer_to_wire(answer: Answer) -> pb.Answer:
    return pb.Answer(query_id=answer.query_id, text=answer.text, frame_seq=answer.frame_seq,
                     trace_id=answer.trace_id, mode=MODES.get(answer.mode, pb.MODE_UNSPECIFIED), final=answer.final,
                     proactive=answer.proactive, offer=answer.offer, overlay_id=answer.overlay_id,
                     timing=_timing_to_wire(answer.timing) if answer.timing is not None else None,
                     facts=[pb.AnswerFact(product=f.product, nutrient=f.nutrient, amount=f.amount, unit=f.unit,
                                          basis=f.basis, serving_g=f.serving_g, computed=f.computed)
                            for f in answer.facts])


def _timing_to_wire(t: AnswerTiming) -> pb.AnswerTiming:
    return pb.AnswerTiming(stages=[pb.StageTime(stage=s.stage, us=s.us) for s in t.stages], total_us=t.total_us,
                           warm=t.warm, frame_decode_us=t.frame_decode_us,
                           ocr_parts=[pb.StageTime(stage=s.stage, us=s.us) for s in t.ocr_parts],
                           segmentation_us=t.segmentation_us, query_sent_ns=t.query_sent_ns,
                           query_received_ns=t.query_received_ns, answer_sent_ns=t.answer_sent_ns)


def trace_to_wire(step: TraceStep) -> pb.TraceStep:
    return pb.TraceStep(query_id=step.query_id, index=step.index, kind=f"STEP_KIND_{step.kind.upper()}",
                        text=step.text, evidence=[_box_to_wire(b) for b in step.evidence], confidence=step.confidence,
                        cost_us=step.cost_us, agent=step.agent, frame_seq=step.frame_seq)


def error_to_wire(report: CloudErrorReport) -> pb.Error:
    code = f"ERROR_CODE_{report.code.upper()}" if report.code else "ERROR_CODE_UNSPECIFIED"
    return pb.Error(code=code, message=report.message, retryable=report.retryable, frame_seq=report.frame_seq,
                    query_id=report.query_id)


def overlay_to_wire(overlay: ov.Overlay, hops: HopTimes) -> pb.Overlay:
    return pb.Overlay(overlay_id=overlay.overlay_id, query_id=overlay.query_id, frame_seq=overlay.frame_seq,
                      trace_id=overlay.trace_id, hops=hops_to_wire(hops),
                      items=[_item_to_wire(item) for item in overlay.items], final=overlay.final)


def _box_to_wire(b: ov.Box) -> pb.Box:
    return pb.Box(x0=b.x0, y0=b.y0, x1=b.x1, y1=b.y1)


def _point_to_wire(p: ov.Point) -> pb.Point:
    return pb.Point(x=p[0], y=p[1])


def _item_to_wire(item: ov.Item) -> pb.OverlayItem:  # one branch per item kind
    out = pb.OverlayItem(id=item.id, rgb=item.rgb)
    match item.shape:
        case ov.BoxShape(box=box, caption=caption):
            out.box.CopyFrom(pb.BoxItem(box=_box_to_wire(box), caption=caption))
        case ov.OutlineShape(points=points):
            out.outline.CopyFrom(pb.OutlineItem(points=[_point_to_wire(p) for p in points]))
        case ov.BadgeShape(center=center, text=text):
            out.badge.CopyFrom(pb.BadgeItem(center=_point_to_wire(center), text=text))
        case ov.ArrowShape(tail=tail, head=head, text=text):
            out.arrow.CopyFrom(pb.ArrowItem(tail=_point_to_wire(tail), head=_point_to_wire(head), text=text))
        case ov.LabelShape(anchor=anchor, text=text):
            out.label.CopyFrom(pb.LabelItem(anchor=_point_to_wire(anchor), text=text))
        case ov.PanelShape(title=title, rows=rows):
            out.panel.CopyFrom(pb.PanelItem(title=title, rows=[pb.PanelRow(rank=r.rank, text=r.text, value=r.value)
                                                               for r in rows]))
        case ov.StepCardShape():
            s = item.shape
            out.step_card.CopyFrom(pb.StepCardItem(step=s.step, total=s.total, instruction=s.instruction,
                                                   target_item_id=s.target_item_id, warning=s.warning))
        case ov.NoticeShape(text=text):
            out.notice.CopyFrom(pb.NoticeItem(text=text))
    return out
