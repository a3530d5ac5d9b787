"""The cloud's domain values: what skills produce, before ``cloud.ingress.wire`` turns them into protobuf.

Coordinates are normalized to [0, 1] in the frame the skill reasoned over.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# A decoded frame or crop: BGR pixels, height x width x 3.
Image = npt.NDArray[np.uint8]
Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class NormBox:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def center(self) -> Point:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def union(self, other: NormBox) -> NormBox:
        return NormBox(min(self.x0, other.x0), min(self.y0, other.y0),
                       max(self.x1, other.x1), max(self.y1, other.y1))


class Mode(enum.Enum):
    INSTANT = "instant"
    THINKING = "thinking"
    CONTEMPLATING = "contemplating"


class StepKind(enum.Enum):
    PERCEIVE = "perceive"
    GROUP = "group"
    READ = "read"
    GROUND = "ground"
    COMPARE = "compare"
    VERIFY = "verify"
    ANSWER = "answer"
    REFUSE = "refuse"


# ------------------------------------------------------------------ overlay items

@dataclass(frozen=True, slots=True)
class BoxItem:
    id: str
    box: NormBox
    caption: str = ""
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class OutlineItem:
    id: str
    points: tuple[Point, ...]
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class BadgeItem:
    id: str
    center: Point
    text: str
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class ArrowItem:
    id: str
    tail: Point
    head: Point
    text: str = ""
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class LabelItem:
    id: str
    anchor: Point
    text: str
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class PanelRow:
    rank: str
    text: str
    value: str


@dataclass(frozen=True, slots=True)
class PanelItem:
    id: str
    title: str
    rows: tuple[PanelRow, ...]
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class StepCardItem:
    id: str
    step: int
    total: int
    instruction: str
    target_item_id: str = ""
    warning: str = ""
    rgb: int = 0


@dataclass(frozen=True, slots=True)
class NoticeItem:
    id: str
    text: str
    rgb: int = 0


OverlayItem = (BoxItem | OutlineItem | BadgeItem | ArrowItem | LabelItem | PanelItem
               | StepCardItem | NoticeItem)


# ------------------------------------------------------------------ reasoning output

@dataclass(frozen=True, slots=True)
class TraceStep:
    kind: StepKind
    text: str
    evidence: tuple[NormBox, ...] = ()
    confidence: float = 1.0
    cost_us: int = 0
    agent: str = ""


@dataclass(frozen=True, slots=True)
class StatedFact:
    """A figure an answer states, for programs that read numbers rather than prose (``eyeline ask --json``)."""

    product: str              # "" when the product's name is not in view
    nutrient: str             # "protein", "energy", "saturated fat", ...
    amount: float
    unit: str                 # "g", "mg", "kcal", "kJ"
    basis: str                # "per 100 g", "per serving", "per package", "in 30 g", "in 2 servings"
    serving_g: float | None = None
    computed: bool = False    # worked out from printed figures (the sum is in the trace), not printed as is


@dataclass(frozen=True, slots=True)
class SkillResult:
    """A skill's whole answer to one query over one frame."""

    answer: str
    items: tuple[OverlayItem, ...] = ()
    steps: tuple[TraceStep, ...] = field(default=())
    final: bool = True
    # How sure the skill is of the answer as a whole (its least sure deciding reading); the planner spends
    # deeper passes only while this is low.
    confidence: float = 1.0
    facts: tuple[StatedFact, ...] = ()
