"""The edge's view of the overlays the cloud sent, as ``edge.transport.wire`` decodes them.

Coordinates are normalized to [0, 1] in the frame named by ``Overlay.frame_seq``; renderers scale them to
the image they draw on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True, slots=True)
class BoxShape:
    box: Box
    caption: str = ""


@dataclass(frozen=True, slots=True)
class OutlineShape:
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class BadgeShape:
    center: Point
    text: str


@dataclass(frozen=True, slots=True)
class ArrowShape:
    tail: Point
    head: Point
    text: str = ""


@dataclass(frozen=True, slots=True)
class LabelShape:
    anchor: Point
    text: str


@dataclass(frozen=True, slots=True)
class PanelRow:
    rank: str
    text: str
    value: str


@dataclass(frozen=True, slots=True)
class PanelShape:
    title: str
    rows: tuple[PanelRow, ...]


@dataclass(frozen=True, slots=True)
class StepCardShape:
    step: int
    total: int
    instruction: str
    target_item_id: str = ""
    warning: str = ""


@dataclass(frozen=True, slots=True)
class NoticeShape:
    text: str


Shape = (BoxShape | OutlineShape | BadgeShape | ArrowShape | LabelShape | PanelShape
         | StepCardShape | NoticeShape)


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    shape: Shape
    rgb: int = 0  # 0xRRGGBB; 0 means the renderer's default for the shape


@dataclass(frozen=True, slots=True)
class Overlay:
    """One overlay: a set of items computed on one frame, replaced whole by a later overlay with its id."""

    overlay_id: str
    query_id: str
    frame_seq: int
    trace_id: str
    capture_ns: int
    items: tuple[Item, ...] = field(default=())
    final: bool = True
