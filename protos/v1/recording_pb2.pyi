from eyeline.protos.v1 import session_pb2 as _session_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HopRecord(_message.Message):
    __slots__ = ("trace_id", "frame_seq", "overlay_id", "hops")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_ID_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    frame_seq: int
    overlay_id: str
    hops: _session_pb2.HopTimes
    def __init__(self, trace_id: _Optional[str] = ..., frame_seq: _Optional[int] = ..., overlay_id: _Optional[str] = ..., hops: _Optional[_Union[_session_pb2.HopTimes, _Mapping]] = ...) -> None: ...

class KeyframeRecord(_message.Message):
    __slots__ = ("seq", "capture_ns", "keyframe", "reason", "max_width", "quality", "data_bytes")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_NS_FIELD_NUMBER: _ClassVar[int]
    KEYFRAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    DATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    capture_ns: int
    keyframe: bool
    reason: str
    max_width: int
    quality: int
    data_bytes: int
    def __init__(self, seq: _Optional[int] = ..., capture_ns: _Optional[int] = ..., keyframe: _Optional[bool] = ..., reason: _Optional[str] = ..., max_width: _Optional[int] = ..., quality: _Optional[int] = ..., data_bytes: _Optional[int] = ...) -> None: ...

class ProductTruthRecord(_message.Message):
    __slots__ = ("brand", "name", "protein_g", "serving_g", "kcal", "color_bgr", "box", "quad", "visible_fraction")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROTEIN_G_FIELD_NUMBER: _ClassVar[int]
    SERVING_G_FIELD_NUMBER: _ClassVar[int]
    KCAL_FIELD_NUMBER: _ClassVar[int]
    COLOR_BGR_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    QUAD_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    brand: str
    name: str
    protein_g: float
    serving_g: int
    kcal: int
    color_bgr: _containers.RepeatedScalarFieldContainer[int]
    box: _session_pb2.Box
    quad: _containers.RepeatedCompositeFieldContainer[_session_pb2.Point]
    visible_fraction: float
    def __init__(self, brand: _Optional[str] = ..., name: _Optional[str] = ..., protein_g: _Optional[float] = ..., serving_g: _Optional[int] = ..., kcal: _Optional[int] = ..., color_bgr: _Optional[_Iterable[int]] = ..., box: _Optional[_Union[_session_pb2.Box, _Mapping]] = ..., quad: _Optional[_Iterable[_Union[_session_pb2.Point, _Mapping]]] = ..., visible_fraction: _Optional[float] = ...) -> None: ...

class FrameTruthRecord(_message.Message):
    __slots__ = ("seq", "capture_ns", "products", "world_to_frame", "motion", "yaw_deg", "pitch_deg", "roll_deg", "best_product", "scene", "components", "display_text")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_NS_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    WORLD_TO_FRAME_FIELD_NUMBER: _ClassVar[int]
    MOTION_FIELD_NUMBER: _ClassVar[int]
    YAW_DEG_FIELD_NUMBER: _ClassVar[int]
    PITCH_DEG_FIELD_NUMBER: _ClassVar[int]
    ROLL_DEG_FIELD_NUMBER: _ClassVar[int]
    BEST_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_TEXT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    capture_ns: int
    products: _containers.RepeatedCompositeFieldContainer[ProductTruthRecord]
    world_to_frame: _containers.RepeatedScalarFieldContainer[float]
    motion: _containers.RepeatedScalarFieldContainer[float]
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    best_product: str
    scene: str
    components: _containers.RepeatedCompositeFieldContainer[ComponentTruthRecord]
    display_text: str
    def __init__(self, seq: _Optional[int] = ..., capture_ns: _Optional[int] = ..., products: _Optional[_Iterable[_Union[ProductTruthRecord, _Mapping]]] = ..., world_to_frame: _Optional[_Iterable[float]] = ..., motion: _Optional[_Iterable[float]] = ..., yaw_deg: _Optional[float] = ..., pitch_deg: _Optional[float] = ..., roll_deg: _Optional[float] = ..., best_product: _Optional[str] = ..., scene: _Optional[str] = ..., components: _Optional[_Iterable[_Union[ComponentTruthRecord, _Mapping]]] = ..., display_text: _Optional[str] = ...) -> None: ...

class ComponentTruthRecord(_message.Message):
    __slots__ = ("id", "name", "box", "quad", "center", "visible_fraction")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    QUAD_FIELD_NUMBER: _ClassVar[int]
    CENTER_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    box: _session_pb2.Box
    quad: _containers.RepeatedCompositeFieldContainer[_session_pb2.Point]
    center: _session_pb2.Point
    visible_fraction: float
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., box: _Optional[_Union[_session_pb2.Box, _Mapping]] = ..., quad: _Optional[_Iterable[_Union[_session_pb2.Point, _Mapping]]] = ..., center: _Optional[_Union[_session_pb2.Point, _Mapping]] = ..., visible_fraction: _Optional[float] = ...) -> None: ...
