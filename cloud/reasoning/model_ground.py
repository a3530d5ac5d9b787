"""Grounding a model's reply: its steps become trace steps with evidence boxes, checked against what OCR read.

Every region the model gives is checked: four finite numbers, inside 0..1, with some width and height.
Others are dropped and counted (a step in the trace says how many). Regions the model gave in a view's
coordinates (a crop) are mapped back into the frame. A step that quotes text or a quantity in a region where
OCR read something else gets a ``verify`` step that says so, and the answer's confidence drops. Guardrails
apply to the answer as to a question: a model answer that reads as a dose or a diagnosis is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eyeline.cloud.model import (
    ArrowItem,
    BadgeItem,
    BoxItem,
    LabelItem,
    NormBox,
    NoticeItem,
    OverlayItem,
    Point,
    SkillResult,
    StepKind,
    TraceStep,
)
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.reasoning.model_parse import ModelReply
from eyeline.cloud.skills.guardrails import check_question

# The narrowest region worth drawing: a thousandth of the frame in either direction is a point, not a region.
MIN_SIDE = 0.002
# Each contradiction with OCR costs this share of the confidence.
CONTRADICTION_PENALTY = 0.5
DEFAULT_CONFIDENCE = 0.8          # a model that states none
_MODEL_RGB = 0xB070FF
_FULL = NormBox(0.0, 0.0, 1.0, 1.0)
_STEP_KINDS = {"perceive": StepKind.PERCEIVE, "read": StepKind.READ, "ground": StepKind.GROUND,
               "compare": StepKind.COMPARE, "verify": StepKind.VERIFY, "answer": StepKind.ANSWER}
_QUOTED = re.compile(r"[\"“']([^\"”']{2,60})[\"”']")
# Quantities worth checking: a number with a unit, or with decimals (a bare "step 3" is not a reading).
_QUANTITY = re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:%|(?:g|mg|kg|ml|kcal|cal|oz)\b)|\b\d+[.,]\d+\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Grounded:
    result: SkillResult
    dropped_regions: int
    contradictions: int


def region(raw: object, window: NormBox = _FULL) -> NormBox | None:
    """A model's ``[x0, y0, x1, y1]`` (in ``window``'s coordinates) as a frame box, or None when it is not one."""
    if isinstance(raw, Mapping):
        raw = [raw.get(key) for key in ("x0", "y0", "x1", "y1")]
    if not isinstance(raw, list | tuple) or len(raw) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in raw):
        return None
    x0, y0, x1, y1 = (float(v) for v in raw)
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0) or x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        return None
    return _from_window(NormBox(x0, y0, x1, y1), window)


def point(raw: object, window: NormBox = _FULL) -> Point | None:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in raw):
        return None
    w, h = window.x1 - window.x0, window.y1 - window.y0
    return (window.x0 + float(raw[0]) * w, window.y0 + float(raw[1]) * h)


def _from_window(box: NormBox, window: NormBox) -> NormBox:
    w, h = window.x1 - window.x0, window.y1 - window.y0
    return NormBox(window.x0 + box.x0 * w, window.y0 + box.y0 * h, window.x0 + box.x1 * w, window.y0 + box.y1 * h)


def ground(reply: ModelReply, lines: Sequence[TextLine], *, agent: str, window: NormBox = _FULL,
           cost_us: int = 0) -> Grounded:
    """The reply as a skill result: grounded trace steps, checked overlay items, confidence after checks."""
    steps: list[TraceStep] = []
    dropped = contradictions = 0
    confidence = reply.confidence if reply.confidence is not None else DEFAULT_CONFIDENCE
    for index, step in enumerate(reply.steps):
        boxes = [region(raw, window) for raw in step.regions]
        kept = tuple(box for box in boxes if box is not None)
        dropped += len(boxes) - len(kept)
        steps.append(TraceStep(_STEP_KINDS.get(step.kind, StepKind.COMPARE), step.text, evidence=kept,
                               confidence=confidence, cost_us=cost_us if index == 0 else 0, agent=agent))
        conflict = contradiction(step.text, kept, lines)
        if conflict is not None:
            contradictions += 1
            confidence *= CONTRADICTION_PENALTY
            steps.append(TraceStep(StepKind.VERIFY, conflict, evidence=kept, confidence=confidence, agent=agent))
    items, dropped_items = overlay_items(reply.overlay, window)
    dropped += dropped_items
    if dropped:
        steps.append(TraceStep(StepKind.VERIFY, f"dropped {dropped} region{'s' if dropped != 1 else ''} the model "
                               "gave: out of range or degenerate", confidence=confidence, agent=agent))
    if not reply.structured:
        steps.append(TraceStep(StepKind.VERIFY, "the model ignored the answer schema: a plain answer, no regions "
                               "and no overlay", confidence=confidence, agent=agent))
    answer = reply.answer
    refusal = check_question(answer)
    if refusal is not None:
        steps.append(TraceStep(StepKind.REFUSE, f"the model's answer was withheld ({refusal.kind.value}): "
                               f"{refusal.answer}", agent="guardrail"))
        answer, items, confidence = refusal.answer, (NoticeItem(id="notice", text=refusal.answer),), 1.0
    steps.append(TraceStep(StepKind.ANSWER, answer, evidence=_all_evidence(steps), confidence=confidence,
                           agent=agent))
    return Grounded(SkillResult(answer=answer, items=items, steps=tuple(steps), confidence=confidence),
                    dropped, contradictions)


def _all_evidence(steps: Sequence[TraceStep]) -> tuple[NormBox, ...]:
    return tuple(dict.fromkeys(box for step in steps for box in step.evidence))[:16]


def contradiction(claim: str, boxes: Sequence[NormBox], lines: Sequence[TextLine]) -> str | None:
    """What is wrong with ``claim`` about ``boxes`` given the OCR lines read there, or None when nothing is.

    A claim contradicts OCR when it quotes text or states a quantity that none of the lines read inside its
    regions holds, while some line was read there (OCR silent about a region contradicts nothing)."""
    if not boxes:
        return None
    inside = [line for line in lines if any(_covers(box, line.box) for box in boxes)]
    if not inside:
        return None
    read = _normal(" ".join(line.text for line in inside))
    said = [quote for quote in _QUOTED.findall(claim)] + [q.strip() for q in _QUANTITY.findall(claim)
                                                           if any(c.isdigit() for c in q)]
    missing = [s for s in said if _normal(s) and _normal(s) not in read]
    if not missing:
        return None
    seen = "; ".join(f"{line.text!r}" for line in inside[:4])
    return f"the model says {', '.join(repr(m) for m in missing[:3])} there, but OCR read {seen} in that region"


def _covers(region_box: NormBox, line_box: NormBox) -> bool:
    """Whether most of ``line_box`` lies inside ``region_box``."""
    w = min(region_box.x1, line_box.x1) - max(region_box.x0, line_box.x0)
    h = min(region_box.y1, line_box.y1) - max(region_box.y0, line_box.y0)
    area = (line_box.x1 - line_box.x0) * (line_box.y1 - line_box.y0)
    return w > 0 and h > 0 and area > 0 and w * h >= 0.5 * area


def _normal(text: str) -> str:
    return re.sub(r"[^0-9a-z.%]+", "", text.lower().replace(",", "."))


def overlay_items(raw_items: Sequence[Mapping[str, Any]], window: NormBox = _FULL) -> tuple[tuple[OverlayItem, ...],
                                                                                             int]:
    """The overlay items the model asked for, in frame coordinates, and how many were dropped as unusable."""
    items: list[OverlayItem] = []
    dropped = 0
    for index, raw in enumerate(raw_items):
        item = _item(raw, _item_id(raw.get("id"), index), window)
        if item is None:
            dropped += 1
        else:
            items.append(item)
    return tuple(items), dropped


def _item_id(raw: object, index: int) -> str:
    text = re.sub(r"[^\w.-]", "", raw)[:40] if isinstance(raw, str) else ""
    return text or f"model-{index}"


def _item(raw: Mapping[str, Any], item_id: str, window: NormBox) -> OverlayItem | None:
    text = str(raw.get("text") or "")[:120]
    match raw.get("kind"):
        case "box":
            box = region(raw.get("box"), window)
            return None if box is None else BoxItem(item_id, box, text, _MODEL_RGB)
        case "arrow":
            tail, head = point(raw.get("tail"), window), point(raw.get("head"), window)
            return None if tail is None or head is None else ArrowItem(item_id, tail, head, text, _MODEL_RGB)
        case "badge":
            at = point(raw.get("at"), window)
            return None if at is None or not text else BadgeItem(item_id, at, text, _MODEL_RGB)
        case "label":
            at = point(raw.get("at"), window)
            return None if at is None or not text else LabelItem(item_id, at, text, _MODEL_RGB)
        case "notice":
            return NoticeItem(item_id, text) if text else None
    return None
