"""The cloud's boundary with the wire: protobuf in, domain values out, and back.

Nothing else in ``eyeline.cloud`` touches protobuf message classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from eyeline.cloud import model
from eyeline.cloud.model import Mode, NormBox, SkillResult, StatedFact, StepKind
from eyeline.cloud.perception.speech import AudioPiece, CloudTranscript
from eyeline.cloud.session.latency import RenderedIn
from eyeline.cloud.session.timing import AnswerTiming
from eyeline.protos.v1 import session_pb2 as pb

_MODE_FROM_WIRE = {pb.MODE_INSTANT: Mode.INSTANT, pb.MODE_THINKING: Mode.THINKING,
                   pb.MODE_CONTEMPLATING: Mode.CONTEMPLATING}
_MODE_TO_WIRE = {mode: wire for wire, mode in _MODE_FROM_WIRE.items()}
_STEP_TO_WIRE = {kind: getattr(pb, f"STEP_KIND_{kind.name}") for kind in StepKind}
ERROR_CODES = {name.removeprefix("ERROR_CODE_").lower(): name
               for name in pb.ErrorCode.keys() if name != "ERROR_CODE_UNSPECIFIED"}


# ------------------------------------------------------------------ edge -> cloud

@dataclass(frozen=True, slots=True)
class HelloIn:
    token: str
    profile_name: str
    width: int
    height: int
    mode: Mode | None
    capabilities: frozenset[str] = frozenset()   # what the edge can take, e.g. "overlay", "proactive"
    resume_session_id: str = ""                  # the session a reconnecting edge wants to continue
    last_frame_seq: int = 0


@dataclass(frozen=True, slots=True)
class FrameIn:
    seq: int
    trace_id: str
    data: bytes
    capture_ns: int
    sent_ns: int
    keyframe: bool
    redacted: tuple[NormBox, ...] = ()


@dataclass(frozen=True, slots=True)
class QueryIn:
    query_id: str
    text: str
    mode: Mode | None
    frame_seq: int | None  # None = the latest keyframe
    asked_ns: int = 0      # when the edge sent it, on the edge's clock (0: not said)


@dataclass(frozen=True, slots=True)
class OtherIn:
    """A message the session accepts but does not act on (an edge's own utterance outside a query)."""

    kind: str


@dataclass(frozen=True, slots=True)
class GoodbyeIn:
    """The edge is leaving on purpose: the session ends at once, with nothing to resume."""


@dataclass(frozen=True, slots=True)
class MalformedIn:
    """Bytes that did not parse, or a message with nothing in it."""

    reason: str
    size: int = 0          # bytes received, when known


@dataclass(frozen=True, slots=True)
class AckIn:
    """The edge's periodic report: what it drew since the last one, and when it sent this (edge clock)."""

    sent_ns: int
    rendered: tuple[RenderedIn, ...]


EdgeEvent = HelloIn | FrameIn | QueryIn | AckIn | AudioPiece | GoodbyeIn | OtherIn | MalformedIn


def parse_edge_message(raw: bytes) -> pb.EdgeMessage | MalformedIn:
    """gRPC request deserializer that never raises, so one bad message does not end the stream."""
    try:
        return pb.EdgeMessage.FromString(raw)
    except DecodeError as exc:
        return MalformedIn(f"{len(raw)} bytes that are not an EdgeMessage ({exc})", len(raw))


def message_size(message: pb.EdgeMessage | MalformedIn) -> int:
    """Bytes the message took on the wire (what the bandwidth graph counts)."""
    return message.size if isinstance(message, MalformedIn) else message.ByteSize()


def edge_event(message: pb.EdgeMessage | MalformedIn) -> EdgeEvent:
    if isinstance(message, MalformedIn):
        return message
    kind = message.WhichOneof("kind")
    if kind == "hello":
        return _hello(message.hello)
    if kind == "frame":
        return _frame(message.frame)
    if kind == "query":
        return _query(message.query)
    if kind == "ack":
        return _ack(message.ack)
    if kind == "audio":
        a = message.audio
        return AudioPiece(a.utterance_id, a.seq, a.capture_ns, a.sample_rate, a.channels, a.pcm_s16le, a.last)
    if kind == "goodbye":
        return GoodbyeIn()
    if kind is None:
        return MalformedIn("EdgeMessage with no message inside")
    return OtherIn(kind)


def _hello(hello: pb.Hello) -> HelloIn:
    return HelloIn(token=hello.token, profile_name=hello.profile.name, width=hello.profile.width,
                   height=hello.profile.height, mode=_MODE_FROM_WIRE.get(hello.mode),
                   capabilities=frozenset(hello.capabilities), resume_session_id=hello.resume_session_id,
                   last_frame_seq=hello.last_frame_seq)


def _frame(frame: pb.Frame) -> FrameIn:
    return FrameIn(seq=frame.seq, trace_id=frame.trace_id, data=frame.data,
                   capture_ns=frame.hops.capture_ns, sent_ns=frame.hops.sent_ns, keyframe=frame.keyframe,
                   redacted=tuple(NormBox(b.x0, b.y0, b.x1, b.y1) for b in frame.redacted))


def _query(query: pb.Query) -> QueryIn | MalformedIn:
    if not query.text.strip():
        return MalformedIn("Query with no text")
    return QueryIn(query_id=query.query_id, text=query.text, mode=_MODE_FROM_WIRE.get(query.mode),
                   frame_seq=query.frame_seq if query.HasField("frame_seq") else None, asked_ns=query.asked_ns)


def _ack(ack: pb.Ack) -> AckIn:
    rendered = tuple(RenderedIn(r.trace_id, r.overlay_id, r.hops.capture_ns, r.hops.sent_ns, r.hops.received_ns,
                                r.hops.reasoned_ns, r.hops.overlay_sent_ns, r.arrived_ns, r.hops.rendered_ns)
                     for r in ack.rendered)
    return AckIn(ack.sent_ns, rendered)


# ------------------------------------------------------------------ cloud -> edge

@dataclass(frozen=True, slots=True)
class Hops:
    capture_ns: int
    sent_ns: int
    received_ns: int
    reasoned_ns: int
    overlay_sent_ns: int

    def to_wire(self) -> pb.HopTimes:
        return pb.HopTimes(capture_ns=self.capture_ns, sent_ns=self.sent_ns, received_ns=self.received_ns,
                           reasoned_ns=self.reasoned_ns, overlay_sent_ns=self.overlay_sent_ns)


def welcome(session_id: str, server_version: str, max_frame_bytes: int, max_frame_pixels: int,
            mode: Mode, skills: list[str], *, resumed: bool = False, state_lost: bool = False) -> pb.CloudMessage:
    return pb.CloudMessage(welcome=pb.Welcome(
        session_id=session_id, server_version=server_version, max_frame_bytes=max_frame_bytes,
        max_frame_pixels=max_frame_pixels, mode=_MODE_TO_WIRE[mode], skills=skills, resumed=resumed,
        state_lost=state_lost))


def error(code: str, message: str, *, retryable: bool = False, frame_seq: int = 0,
          query_id: str = "") -> pb.CloudMessage:
    return pb.CloudMessage(error=pb.Error(code=ERROR_CODES[code], message=message, retryable=retryable,
                                          frame_seq=frame_seq, query_id=query_id))


def utterance(utterance_id: str, transcript: CloudTranscript, *, start_ns: int, end_ns: int) -> pb.CloudMessage:
    return pb.CloudMessage(utterance=pb.Utterance(
        text=transcript.text, start_ns=start_ns, end_ns=end_ns, confidence=transcript.confidence,
        language=transcript.language, utterance_id=utterance_id))


def overlay(result: SkillResult, *, overlay_id: str, query_id: str, frame_seq: int, trace_id: str,
            hops: Hops) -> pb.CloudMessage:
    return pb.CloudMessage(overlay=pb.Overlay(
        overlay_id=overlay_id, query_id=query_id, frame_seq=frame_seq, trace_id=trace_id,
        hops=hops.to_wire(), items=[overlay_item(item) for item in result.items], final=result.final))


def answer(result: SkillResult, *, query_id: str, frame_seq: int, trace_id: str,
           mode: Mode, overlay_id: str = "", offer: str = "", timing: AnswerTiming | None = None) -> pb.CloudMessage:
    """The answer to a query, shown by the overlay ``overlay_id`` (if any); with ``offer``, an unasked (proactive)
    one that ``offer`` introduces; with ``timing``, where its time went."""
    return pb.CloudMessage(answer=pb.Answer(query_id=query_id, text=result.answer, frame_seq=frame_seq,
                                            trace_id=trace_id, mode=_MODE_TO_WIRE[mode], final=result.final,
                                            proactive=bool(offer), offer=offer, overlay_id=overlay_id,
                                            timing=_timing(timing) if timing is not None else None,
                                            facts=[_fact(fact) for fact in result.facts]))


def _timing(timing: AnswerTiming) -> pb.AnswerTiming:
    return pb.AnswerTiming(stages=[pb.StageTime(stage=s.stage, us=s.us) for s in timing.stages],
                           total_us=timing.total_us, warm=timing.warm, frame_decode_us=timing.frame_decode_us,
                           ocr_parts=[pb.StageTime(stage=s.stage, us=s.us) for s in timing.ocr_parts],
                           segmentation_us=timing.segmentation_us, query_sent_ns=timing.query_sent_ns,
                           query_received_ns=timing.query_received_ns, answer_sent_ns=timing.answer_sent_ns)


def _fact(fact: StatedFact) -> pb.AnswerFact:
    return pb.AnswerFact(product=fact.product, nutrient=fact.nutrient, amount=fact.amount, unit=fact.unit,
                         basis=fact.basis, serving_g=fact.serving_g or 0.0, computed=fact.computed)


def trace_step(step: model.TraceStep, *, index: int, query_id: str, frame_seq: int) -> pb.CloudMessage:
    return pb.CloudMessage(trace=pb.TraceStep(
        query_id=query_id, index=index, kind=_STEP_TO_WIRE[step.kind], text=step.text,
        evidence=[_box(b) for b in step.evidence], confidence=step.confidence, cost_us=step.cost_us,
        agent=step.agent, frame_seq=frame_seq))


def _point(p: model.Point) -> pb.Point:
    return pb.Point(x=p[0], y=p[1])


def _box(b: NormBox) -> pb.Box:
    return pb.Box(x0=b.x0, y0=b.y0, x1=b.x1, y1=b.y1)


def overlay_item(item: model.OverlayItem) -> pb.OverlayItem:
    out = pb.OverlayItem(id=item.id, rgb=item.rgb)
    match item:
        case model.BoxItem():
            out.box.CopyFrom(pb.BoxItem(box=_box(item.box), caption=item.caption))
        case model.OutlineItem():
            out.outline.CopyFrom(pb.OutlineItem(points=[_point(p) for p in item.points]))
        case model.BadgeItem():
            out.badge.CopyFrom(pb.BadgeItem(center=_point(item.center), text=item.text))
        case model.ArrowItem():
            out.arrow.CopyFrom(pb.ArrowItem(tail=_point(item.tail), head=_point(item.head), text=item.text))
        case model.LabelItem():
            out.label.CopyFrom(pb.LabelItem(anchor=_point(item.anchor), text=item.text))
        case model.PanelItem():
            rows = [pb.PanelRow(rank=r.rank, text=r.text, value=r.value) for r in item.rows]
            out.panel.CopyFrom(pb.PanelItem(title=item.title, rows=rows))
        case model.StepCardItem():
            out.step_card.CopyFrom(pb.StepCardItem(step=item.step, total=item.total,
                                                   instruction=item.instruction,
                                                   target_item_id=item.target_item_id, warning=item.warning))
        case model.NoticeItem():
            out.notice.CopyFrom(pb.NoticeItem(text=item.text))
    return out
