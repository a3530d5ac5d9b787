"""What the cloud tells the edge, as ``edge.transport.wire`` decodes it (overlays live in ``edge.overlays``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eyeline.edge.overlays import Box, Overlay


@dataclass(frozen=True, slots=True)
class Welcome:
    session_id: str
    server_version: str
    max_frame_bytes: int
    max_frame_pixels: int
    skills: tuple[str, ...]
    resumed: bool = False       # the session named in Hello.resume_session_id continues
    state_lost: bool = False    # ... but the cloud lost its frames and in-flight work (it restarted)


@dataclass(frozen=True, slots=True)
class StageTime:
    stage: str      # queue, ocr, reasoning, overlay: in the order they happen
    us: int


@dataclass(frozen=True, slots=True)
class AnswerTiming:
    """Where an answer's time went on the cloud, from the question's arrival to its overlay leaving."""

    stages: tuple[StageTime, ...]
    total_us: int
    warm: bool                 # the cloud's OCR models were loaded before the question came
    frame_decode_us: int = 0   # the asked frame's decode, paid before the question
    ocr_parts: tuple[StageTime, ...] = ()   # the ocr stage split: registration, detection, orientation, recognition
    segmentation_us: int = 0   # package segmentation, run alongside the ocr stage
    query_sent_ns: int = 0     # the edge's clock: when the question was sent
    query_received_ns: int = 0  # the cloud's clock: when it arrived
    answer_sent_ns: int = 0    # the cloud's clock: when the answer left

    def uplink_us(self) -> int | None:
        """The question's trip to the cloud; meaningful where both clocks share a base (loopback, one host)."""
        if not self.query_sent_ns or not self.query_received_ns:
            return None
        return max(0, self.query_received_ns - self.query_sent_ns) // 1000

    def return_us(self, arrived_ns: int) -> int | None:
        """The answer's trip back, given its arrival on the edge's clock (same caveat as ``uplink_us``)."""
        if not self.answer_sent_ns or not arrived_ns:
            return None
        return max(0, arrived_ns - self.answer_sent_ns) // 1000


@dataclass(frozen=True, slots=True)
class Answer:
    query_id: str
    text: str
    frame_seq: int
    trace_id: str
    mode: str
    final: bool
    proactive: bool = False   # offered unasked (the session asked for proactive turns); query_id names the offer
    offer: str = ""           # the line that introduces a proactive answer
    overlay_id: str = ""      # the overlay that shows this answer (OverlayArrival.overlay.overlay_id); "" = none
    timing: AnswerTiming | None = None   # where its time went on the cloud; None when the cloud did not say
    facts: tuple[AnswerFact, ...] = ()   # the figures the answer states, structured


@dataclass(frozen=True, slots=True)
class AnswerFact:
    """One figure an answer states (the contract's AnswerFact); serving_g 0 when not stated."""

    product: str
    nutrient: str
    amount: float
    unit: str
    basis: str
    serving_g: float = 0.0
    computed: bool = False


@dataclass(frozen=True, slots=True)
class TraceStep:
    query_id: str
    index: int
    kind: str          # perceive, group, read, ground, compare, verify, answer, refuse
    text: str
    evidence: tuple[Box, ...]
    confidence: float
    cost_us: int
    agent: str
    frame_seq: int


@dataclass(frozen=True, slots=True)
class FlowControl:
    max_keyframes_per_s: float   # 0 = no limit
    max_width: int               # 0 = no limit
    keyframe_wanted: bool


@dataclass(frozen=True, slots=True)
class CloudErrorReport:
    """A typed error the cloud sent on the stream; the session goes on unless the stream ends."""

    code: str          # e.g. "frame_too_large", "undecodable_image", "malformed_message"
    message: str
    retryable: bool
    frame_seq: int = 0
    query_id: str = ""


@dataclass(frozen=True, slots=True)
class HeardInCloud:
    """What the cloud heard in audio the edge sent it (``EdgeConfig``/``--asr cloud``)."""

    utterance_id: str
    text: str
    start_ns: int
    end_ns: int
    confidence: float
    language: str


@dataclass(frozen=True, slots=True)
class HopTimes:
    """Per-hop timestamps of one frame, in integer ns (edge clock for capture/sent/rendered)."""

    capture_ns: int = 0
    sent_ns: int = 0
    received_ns: int = 0
    reasoned_ns: int = 0
    overlay_sent_ns: int = 0
    rendered_ns: int = 0


@dataclass(frozen=True, slots=True)
class OverlayArrival:
    overlay: Overlay
    hops: HopTimes = field(default_factory=HopTimes)


CloudEvent = Welcome | OverlayArrival | Answer | TraceStep | FlowControl | CloudErrorReport | HeardInCloud
