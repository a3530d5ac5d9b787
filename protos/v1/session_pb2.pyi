from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_INSTANT: _ClassVar[Mode]
    MODE_THINKING: _ClassVar[Mode]
    MODE_CONTEMPLATING: _ClassVar[Mode]

class ThermalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THERMAL_STATE_UNSPECIFIED: _ClassVar[ThermalState]
    THERMAL_STATE_NOMINAL: _ClassVar[ThermalState]
    THERMAL_STATE_FAIR: _ClassVar[ThermalState]
    THERMAL_STATE_SERIOUS: _ClassVar[ThermalState]
    THERMAL_STATE_CRITICAL: _ClassVar[ThermalState]

class ImageEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_ENCODING_UNSPECIFIED: _ClassVar[ImageEncoding]
    IMAGE_ENCODING_JPEG: _ClassVar[ImageEncoding]
    IMAGE_ENCODING_PNG: _ClassVar[ImageEncoding]

class StepKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_KIND_UNSPECIFIED: _ClassVar[StepKind]
    STEP_KIND_PERCEIVE: _ClassVar[StepKind]
    STEP_KIND_GROUP: _ClassVar[StepKind]
    STEP_KIND_READ: _ClassVar[StepKind]
    STEP_KIND_GROUND: _ClassVar[StepKind]
    STEP_KIND_COMPARE: _ClassVar[StepKind]
    STEP_KIND_VERIFY: _ClassVar[StepKind]
    STEP_KIND_ANSWER: _ClassVar[StepKind]
    STEP_KIND_REFUSE: _ClassVar[StepKind]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    ERROR_CODE_UNAUTHENTICATED: _ClassVar[ErrorCode]
    ERROR_CODE_PROTOCOL: _ClassVar[ErrorCode]
    ERROR_CODE_MALFORMED_MESSAGE: _ClassVar[ErrorCode]
    ERROR_CODE_FRAME_TOO_LARGE: _ClassVar[ErrorCode]
    ERROR_CODE_UNDECODABLE_IMAGE: _ClassVar[ErrorCode]
    ERROR_CODE_NO_FRAME: _ClassVar[ErrorCode]
    ERROR_CODE_UNSUPPORTED: _ClassVar[ErrorCode]
    ERROR_CODE_OVERLOADED: _ClassVar[ErrorCode]
    ERROR_CODE_INTERNAL: _ClassVar[ErrorCode]
    ERROR_CODE_SHUTTING_DOWN: _ClassVar[ErrorCode]
    ERROR_CODE_UNAVAILABLE: _ClassVar[ErrorCode]
MODE_UNSPECIFIED: Mode
MODE_INSTANT: Mode
MODE_THINKING: Mode
MODE_CONTEMPLATING: Mode
THERMAL_STATE_UNSPECIFIED: ThermalState
THERMAL_STATE_NOMINAL: ThermalState
THERMAL_STATE_FAIR: ThermalState
THERMAL_STATE_SERIOUS: ThermalState
THERMAL_STATE_CRITICAL: ThermalState
IMAGE_ENCODING_UNSPECIFIED: ImageEncoding
IMAGE_ENCODING_JPEG: ImageEncoding
IMAGE_ENCODING_PNG: ImageEncoding
STEP_KIND_UNSPECIFIED: StepKind
STEP_KIND_PERCEIVE: StepKind
STEP_KIND_GROUP: StepKind
STEP_KIND_READ: StepKind
STEP_KIND_GROUND: StepKind
STEP_KIND_COMPARE: StepKind
STEP_KIND_VERIFY: StepKind
STEP_KIND_ANSWER: StepKind
STEP_KIND_REFUSE: StepKind
ERROR_CODE_UNSPECIFIED: ErrorCode
ERROR_CODE_UNAUTHENTICATED: ErrorCode
ERROR_CODE_PROTOCOL: ErrorCode
ERROR_CODE_MALFORMED_MESSAGE: ErrorCode
ERROR_CODE_FRAME_TOO_LARGE: ErrorCode
ERROR_CODE_UNDECODABLE_IMAGE: ErrorCode
ERROR_CODE_NO_FRAME: ErrorCode
ERROR_CODE_UNSUPPORTED: ErrorCode
ERROR_CODE_OVERLOADED: ErrorCode
ERROR_CODE_INTERNAL: ErrorCode
ERROR_CODE_SHUTTING_DOWN: ErrorCode
ERROR_CODE_UNAVAILABLE: ErrorCode

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x0", "y0", "x1", "y1")
    X0_FIELD_NUMBER: _ClassVar[int]
    Y0_FIELD_NUMBER: _ClassVar[int]
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    x0: float
    y0: float
    x1: float
    y1: float
    def __init__(self, x0: _Optional[float] = ..., y0: _Optional[float] = ..., x1: _Optional[float] = ..., y1: _Optional[float] = ...) -> None: ...

class HopTimes(_message.Message):
    __slots__ = ("capture_ns", "sent_ns", "received_ns", "reasoned_ns", "overlay_sent_ns", "rendered_ns")
    CAPTURE_NS_FIELD_NUMBER: _ClassVar[int]
    SENT_NS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_NS_FIELD_NUMBER: _ClassVar[int]
    REASONED_NS_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_SENT_NS_FIELD_NUMBER: _ClassVar[int]
    RENDERED_NS_FIELD_NUMBER: _ClassVar[int]
    capture_ns: int
    sent_ns: int
    received_ns: int
    reasoned_ns: int
    overlay_sent_ns: int
    rendered_ns: int
    def __init__(self, capture_ns: _Optional[int] = ..., sent_ns: _Optional[int] = ..., received_ns: _Optional[int] = ..., reasoned_ns: _Optional[int] = ..., overlay_sent_ns: _Optional[int] = ..., rendered_ns: _Optional[int] = ...) -> None: ...

class EdgeMessage(_message.Message):
    __slots__ = ("hello", "frame", "audio", "utterance", "query", "ack", "device_status", "goodbye")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    DEVICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    frame: Frame
    audio: AudioChunk
    utterance: Utterance
    query: Query
    ack: Ack
    device_status: DeviceStatus
    goodbye: Goodbye
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., frame: _Optional[_Union[Frame, _Mapping]] = ..., audio: _Optional[_Union[AudioChunk, _Mapping]] = ..., utterance: _Optional[_Union[Utterance, _Mapping]] = ..., query: _Optional[_Union[Query, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., device_status: _Optional[_Union[DeviceStatus, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ...) -> None: ...

class DeviceStatus(_message.Message):
    __slots__ = ("battery_percent", "charging", "thermal", "reported_ns")
    BATTERY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CHARGING_FIELD_NUMBER: _ClassVar[int]
    THERMAL_FIELD_NUMBER: _ClassVar[int]
    REPORTED_NS_FIELD_NUMBER: _ClassVar[int]
    battery_percent: float
    charging: bool
    thermal: ThermalState
    reported_ns: int
    def __init__(self, battery_percent: _Optional[float] = ..., charging: _Optional[bool] = ..., thermal: _Optional[_Union[ThermalState, str]] = ..., reported_ns: _Optional[int] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeviceProfile(_message.Message):
    __slots__ = ("name", "width", "height", "fps", "horizontal_fov_deg", "uplink_budget_kbps", "has_display")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    HORIZONTAL_FOV_DEG_FIELD_NUMBER: _ClassVar[int]
    UPLINK_BUDGET_KBPS_FIELD_NUMBER: _ClassVar[int]
    HAS_DISPLAY_FIELD_NUMBER: _ClassVar[int]
    name: str
    width: int
    height: int
    fps: float
    horizontal_fov_deg: float
    uplink_budget_kbps: int
    has_display: bool
    def __init__(self, name: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., fps: _Optional[float] = ..., horizontal_fov_deg: _Optional[float] = ..., uplink_budget_kbps: _Optional[int] = ..., has_display: _Optional[bool] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("token", "profile", "mode", "capabilities", "client_version", "resume_session_id", "last_frame_seq")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESUME_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    token: str
    profile: DeviceProfile
    mode: Mode
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    client_version: str
    resume_session_id: str
    last_frame_seq: int
    def __init__(self, token: _Optional[str] = ..., profile: _Optional[_Union[DeviceProfile, _Mapping]] = ..., mode: _Optional[_Union[Mode, str]] = ..., capabilities: _Optional[_Iterable[str]] = ..., client_version: _Optional[str] = ..., resume_session_id: _Optional[str] = ..., last_frame_seq: _Optional[int] = ...) -> None: ...

class CameraIntrinsics(_message.Message):
    __slots__ = ("fx", "fy", "cx", "cy")
    FX_FIELD_NUMBER: _ClassVar[int]
    FY_FIELD_NUMBER: _ClassVar[int]
    CX_FIELD_NUMBER: _ClassVar[int]
    CY_FIELD_NUMBER: _ClassVar[int]
    fx: float
    fy: float
    cx: float
    cy: float
    def __init__(self, fx: _Optional[float] = ..., fy: _Optional[float] = ..., cx: _Optional[float] = ..., cy: _Optional[float] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("seq", "trace_id", "hops", "encoding", "data", "width", "height", "intrinsics", "redacted", "keyframe")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INTRINSICS_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    KEYFRAME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    trace_id: str
    hops: HopTimes
    encoding: ImageEncoding
    data: bytes
    width: int
    height: int
    intrinsics: CameraIntrinsics
    redacted: _containers.RepeatedCompositeFieldContainer[Box]
    keyframe: bool
    def __init__(self, seq: _Optional[int] = ..., trace_id: _Optional[str] = ..., hops: _Optional[_Union[HopTimes, _Mapping]] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ..., data: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., intrinsics: _Optional[_Union[CameraIntrinsics, _Mapping]] = ..., redacted: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., keyframe: _Optional[bool] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("seq", "capture_ns", "sample_rate", "channels", "pcm_s16le", "utterance_id", "last")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_NS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    PCM_S16LE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    seq: int
    capture_ns: int
    sample_rate: int
    channels: int
    pcm_s16le: bytes
    utterance_id: str
    last: bool
    def __init__(self, seq: _Optional[int] = ..., capture_ns: _Optional[int] = ..., sample_rate: _Optional[int] = ..., channels: _Optional[int] = ..., pcm_s16le: _Optional[bytes] = ..., utterance_id: _Optional[str] = ..., last: _Optional[bool] = ...) -> None: ...

class Utterance(_message.Message):
    __slots__ = ("text", "start_ns", "end_ns", "confidence", "language", "utterance_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    start_ns: int
    end_ns: int
    confidence: float
    language: str
    utterance_id: str
    def __init__(self, text: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., confidence: _Optional[float] = ..., language: _Optional[str] = ..., utterance_id: _Optional[str] = ...) -> None: ...

class Query(_message.Message):
    __slots__ = ("query_id", "text", "mode", "frame_seq", "utterance", "asked_ns")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    ASKED_NS_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    text: str
    mode: Mode
    frame_seq: int
    utterance: Utterance
    asked_ns: int
    def __init__(self, query_id: _Optional[str] = ..., text: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., frame_seq: _Optional[int] = ..., utterance: _Optional[_Union[Utterance, _Mapping]] = ..., asked_ns: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("frames_captured", "frames_sent", "frames_dropped", "overlays_rendered", "rendered", "sent_ns")
    FRAMES_CAPTURED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SENT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    OVERLAYS_RENDERED_FIELD_NUMBER: _ClassVar[int]
    RENDERED_FIELD_NUMBER: _ClassVar[int]
    SENT_NS_FIELD_NUMBER: _ClassVar[int]
    frames_captured: int
    frames_sent: int
    frames_dropped: int
    overlays_rendered: int
    rendered: _containers.RepeatedCompositeFieldContainer[RenderedOverlay]
    sent_ns: int
    def __init__(self, frames_captured: _Optional[int] = ..., frames_sent: _Optional[int] = ..., frames_dropped: _Optional[int] = ..., overlays_rendered: _Optional[int] = ..., rendered: _Optional[_Iterable[_Union[RenderedOverlay, _Mapping]]] = ..., sent_ns: _Optional[int] = ...) -> None: ...

class RenderedOverlay(_message.Message):
    __slots__ = ("trace_id", "overlay_id", "hops", "arrived_ns")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_ID_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    ARRIVED_NS_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    overlay_id: str
    hops: HopTimes
    arrived_ns: int
    def __init__(self, trace_id: _Optional[str] = ..., overlay_id: _Optional[str] = ..., hops: _Optional[_Union[HopTimes, _Mapping]] = ..., arrived_ns: _Optional[int] = ...) -> None: ...

class CloudMessage(_message.Message):
    __slots__ = ("welcome", "overlay", "answer", "trace", "flow", "error", "utterance")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    overlay: Overlay
    answer: Answer
    trace: TraceStep
    flow: FlowControl
    error: Error
    utterance: Utterance
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., overlay: _Optional[_Union[Overlay, _Mapping]] = ..., answer: _Optional[_Union[Answer, _Mapping]] = ..., trace: _Optional[_Union[TraceStep, _Mapping]] = ..., flow: _Optional[_Union[FlowControl, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., utterance: _Optional[_Union[Utterance, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("session_id", "server_version", "max_frame_bytes", "max_frame_pixels", "mode", "skills", "resumed", "state_lost")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    STATE_LOST_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    server_version: str
    max_frame_bytes: int
    max_frame_pixels: int
    mode: Mode
    skills: _containers.RepeatedScalarFieldContainer[str]
    resumed: bool
    state_lost: bool
    def __init__(self, session_id: _Optional[str] = ..., server_version: _Optional[str] = ..., max_frame_bytes: _Optional[int] = ..., max_frame_pixels: _Optional[int] = ..., mode: _Optional[_Union[Mode, str]] = ..., skills: _Optional[_Iterable[str]] = ..., resumed: _Optional[bool] = ..., state_lost: _Optional[bool] = ...) -> None: ...

class Overlay(_message.Message):
    __slots__ = ("overlay_id", "query_id", "frame_seq", "trace_id", "hops", "items", "final")
    OVERLAY_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    overlay_id: str
    query_id: str
    frame_seq: int
    trace_id: str
    hops: HopTimes
    items: _containers.RepeatedCompositeFieldContainer[OverlayItem]
    final: bool
    def __init__(self, overlay_id: _Optional[str] = ..., query_id: _Optional[str] = ..., frame_seq: _Optional[int] = ..., trace_id: _Optional[str] = ..., hops: _Optional[_Union[HopTimes, _Mapping]] = ..., items: _Optional[_Iterable[_Union[OverlayItem, _Mapping]]] = ..., final: _Optional[bool] = ...) -> None: ...

class OverlayItem(_message.Message):
    __slots__ = ("id", "rgb", "box", "outline", "badge", "arrow", "label", "panel", "step_card", "notice")
    ID_FIELD_NUMBER: _ClassVar[int]
    RGB_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    BADGE_FIELD_NUMBER: _ClassVar[int]
    ARROW_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PANEL_FIELD_NUMBER: _ClassVar[int]
    STEP_CARD_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    rgb: int
    box: BoxItem
    outline: OutlineItem
    badge: BadgeItem
    arrow: ArrowItem
    label: LabelItem
    panel: PanelItem
    step_card: StepCardItem
    notice: NoticeItem
    def __init__(self, id: _Optional[str] = ..., rgb: _Optional[int] = ..., box: _Optional[_Union[BoxItem, _Mapping]] = ..., outline: _Optional[_Union[OutlineItem, _Mapping]] = ..., badge: _Optional[_Union[BadgeItem, _Mapping]] = ..., arrow: _Optional[_Union[ArrowItem, _Mapping]] = ..., label: _Optional[_Union[LabelItem, _Mapping]] = ..., panel: _Optional[_Union[PanelItem, _Mapping]] = ..., step_card: _Optional[_Union[StepCardItem, _Mapping]] = ..., notice: _Optional[_Union[NoticeItem, _Mapping]] = ...) -> None: ...

class BoxItem(_message.Message):
    __slots__ = ("box", "caption")
    BOX_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    box: Box
    caption: str
    def __init__(self, box: _Optional[_Union[Box, _Mapping]] = ..., caption: _Optional[str] = ...) -> None: ...

class OutlineItem(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Point]
    def __init__(self, points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ...) -> None: ...

class BadgeItem(_message.Message):
    __slots__ = ("center", "text")
    CENTER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    center: Point
    text: str
    def __init__(self, center: _Optional[_Union[Point, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class ArrowItem(_message.Message):
    __slots__ = ("tail", "head", "text")
    TAIL_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    tail: Point
    head: Point
    text: str
    def __init__(self, tail: _Optional[_Union[Point, _Mapping]] = ..., head: _Optional[_Union[Point, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class LabelItem(_message.Message):
    __slots__ = ("anchor", "text")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    anchor: Point
    text: str
    def __init__(self, anchor: _Optional[_Union[Point, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class PanelRow(_message.Message):
    __slots__ = ("rank", "text", "value")
    RANK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    rank: str
    text: str
    value: str
    def __init__(self, rank: _Optional[str] = ..., text: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class PanelItem(_message.Message):
    __slots__ = ("title", "rows")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    title: str
    rows: _containers.RepeatedCompositeFieldContainer[PanelRow]
    def __init__(self, title: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[PanelRow, _Mapping]]] = ...) -> None: ...

class StepCardItem(_message.Message):
    __slots__ = ("step", "total", "instruction", "target_item_id", "warning")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    step: int
    total: int
    instruction: str
    target_item_id: str
    warning: str
    def __init__(self, step: _Optional[int] = ..., total: _Optional[int] = ..., instruction: _Optional[str] = ..., target_item_id: _Optional[str] = ..., warning: _Optional[str] = ...) -> None: ...

class NoticeItem(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("query_id", "text", "frame_seq", "trace_id", "mode", "final", "speech", "speech_mime", "proactive", "offer", "overlay_id", "timing", "facts")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    SPEECH_FIELD_NUMBER: _ClassVar[int]
    SPEECH_MIME_FIELD_NUMBER: _ClassVar[int]
    PROACTIVE_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_ID_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    text: str
    frame_seq: int
    trace_id: str
    mode: Mode
    final: bool
    speech: bytes
    speech_mime: str
    proactive: bool
    offer: str
    overlay_id: str
    timing: AnswerTiming
    facts: _containers.RepeatedCompositeFieldContainer[AnswerFact]
    def __init__(self, query_id: _Optional[str] = ..., text: _Optional[str] = ..., frame_seq: _Optional[int] = ..., trace_id: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., final: _Optional[bool] = ..., speech: _Optional[bytes] = ..., speech_mime: _Optional[str] = ..., proactive: _Optional[bool] = ..., offer: _Optional[str] = ..., overlay_id: _Optional[str] = ..., timing: _Optional[_Union[AnswerTiming, _Mapping]] = ..., facts: _Optional[_Iterable[_Union[AnswerFact, _Mapping]]] = ...) -> None: ...

class AnswerTiming(_message.Message):
    __slots__ = ("stages", "total_us", "warm", "frame_decode_us", "ocr_parts", "segmentation_us", "query_sent_ns", "query_received_ns", "answer_sent_ns")
    STAGES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    WARM_FIELD_NUMBER: _ClassVar[int]
    FRAME_DECODE_US_FIELD_NUMBER: _ClassVar[int]
    OCR_PARTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_US_FIELD_NUMBER: _ClassVar[int]
    QUERY_SENT_NS_FIELD_NUMBER: _ClassVar[int]
    QUERY_RECEIVED_NS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_SENT_NS_FIELD_NUMBER: _ClassVar[int]
    stages: _containers.RepeatedCompositeFieldContainer[StageTime]
    total_us: int
    warm: bool
    frame_decode_us: int
    ocr_parts: _containers.RepeatedCompositeFieldContainer[StageTime]
    segmentation_us: int
    query_sent_ns: int
    query_received_ns: int
    answer_sent_ns: int
    def __init__(self, stages: _Optional[_Iterable[_Union[StageTime, _Mapping]]] = ..., total_us: _Optional[int] = ..., warm: _Optional[bool] = ..., frame_decode_us: _Optional[int] = ..., ocr_parts: _Optional[_Iterable[_Union[StageTime, _Mapping]]] = ..., segmentation_us: _Optional[int] = ..., query_sent_ns: _Optional[int] = ..., query_received_ns: _Optional[int] = ..., answer_sent_ns: _Optional[int] = ...) -> None: ...

class AnswerFact(_message.Message):
    __slots__ = ("product", "nutrient", "amount", "unit", "basis", "serving_g", "computed")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    NUTRIENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SERVING_G_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_FIELD_NUMBER: _ClassVar[int]
    product: str
    nutrient: str
    amount: float
    unit: str
    basis: str
    serving_g: float
    computed: bool
    def __init__(self, product: _Optional[str] = ..., nutrient: _Optional[str] = ..., amount: _Optional[float] = ..., unit: _Optional[str] = ..., basis: _Optional[str] = ..., serving_g: _Optional[float] = ..., computed: _Optional[bool] = ...) -> None: ...

class StageTime(_message.Message):
    __slots__ = ("stage", "us")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    US_FIELD_NUMBER: _ClassVar[int]
    stage: str
    us: int
    def __init__(self, stage: _Optional[str] = ..., us: _Optional[int] = ...) -> None: ...

class TraceStep(_message.Message):
    __slots__ = ("query_id", "index", "kind", "text", "evidence", "confidence", "cost_us", "agent", "frame_seq")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    COST_US_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    index: int
    kind: StepKind
    text: str
    evidence: _containers.RepeatedCompositeFieldContainer[Box]
    confidence: float
    cost_us: int
    agent: str
    frame_seq: int
    def __init__(self, query_id: _Optional[str] = ..., index: _Optional[int] = ..., kind: _Optional[_Union[StepKind, str]] = ..., text: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., confidence: _Optional[float] = ..., cost_us: _Optional[int] = ..., agent: _Optional[str] = ..., frame_seq: _Optional[int] = ...) -> None: ...

class FlowControl(_message.Message):
    __slots__ = ("max_keyframes_per_s", "max_width", "keyframe_wanted")
    MAX_KEYFRAMES_PER_S_FIELD_NUMBER: _ClassVar[int]
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    KEYFRAME_WANTED_FIELD_NUMBER: _ClassVar[int]
    max_keyframes_per_s: float
    max_width: int
    keyframe_wanted: bool
    def __init__(self, max_keyframes_per_s: _Optional[float] = ..., max_width: _Optional[int] = ..., keyframe_wanted: _Optional[bool] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "retryable", "frame_seq", "query_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    retryable: bool
    frame_seq: int
    query_id: str
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ..., frame_seq: _Optional[int] = ..., query_id: _Optional[str] = ...) -> None: ...
