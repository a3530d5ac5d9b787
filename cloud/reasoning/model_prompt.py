"""What the model reasoner sends: the messages of one chat completion and the schema it asks the answer in.

The user message is in parts, in a fixed order: the question alone (so any server, Eyeline's own ``/v1``
among them, can tell the question from the evidence), then the redacted keyframe (and any extra view) as JPEG
data URLs, then the session's context and the embedded perception's evidence: every OCR line with its box in
normalized coordinates. Coordinates the model gives back are in the same frame: x right, y down, 0 to 1.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Image, NormBox
from eyeline.cloud.perception.ocr import TextLine

MAX_EVIDENCE_LINES = 80
MAX_CONTEXT_ITEMS = 4
_MIN_CROP_SIDE = 448
FULL_FRAME = NormBox(0.0, 0.0, 1.0, 1.0)

STEP_KINDS = ("perceive", "read", "ground", "compare", "reason", "verify", "answer")
OVERLAY_KINDS = ("box", "arrow", "badge", "label", "notice")

_BOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "description": "what the wearer hears: one or two short sentences"},
        "steps": {"type": "array", "items": {
            "type": "object",
            "properties": {"kind": {"type": "string", "enum": list(STEP_KINDS)},
                           "text": {"type": "string"},
                           "regions": {"type": "array", "items": _BOX,
                                       "description": "[x0, y0, x1, y1] in 0..1 of the image this step rests on"}},
            "required": ["kind", "text", "regions"]}},
        "overlay": {"type": "array", "items": {
            "type": "object",
            "properties": {"kind": {"type": "string", "enum": list(OVERLAY_KINDS)}, "id": {"type": "string"},
                           "box": _BOX, "tail": _POINT, "head": _POINT, "at": _POINT, "text": {"type": "string"}},
            "required": ["kind"]}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["answer", "steps", "overlay"],
}
SYNTHESIS_SCHEMA: dict[str, Any] = {
    **ANSWER_SCHEMA,
    "properties": {**ANSWER_SCHEMA["properties"],
                   "agreed": {"type": "boolean", "description": "whether the sub-agents' answers agree"}},
    "required": [*ANSWER_SCHEMA["required"], "agreed"],
}

_SYSTEM = (
    "You are the visual reasoner of a smart-glasses assistant. You see what the wearer sees (faces are blurred "
    "for privacy) and answer their question about it. Ground every claim in the image: each step names the "
    "regions it rests on as [x0, y0, x1, y1] with x to the right and y down, both from 0 to 1 over the image. "
    "The OCR evidence gives the text read in the image with the box of each line: quote it exactly when a step "
    "rests on text. Do not diagnose, recommend doses, or help make anything dangerous. Reply with one JSON "
    "object only: {\"answer\": str, \"steps\": [{\"kind\", \"text\", \"regions\"}], \"overlay\": [{\"kind\": "
    "box|arrow|badge|label|notice, \"box\" or \"tail\"/\"head\" or \"at\", \"text\"}], \"confidence\": 0..1}.")
_INSTANT = "Answer at once: at most two steps, no deliberation."
_THINKING = "Think it through step by step: look, read, compare, check against the OCR evidence, then answer."
_SUB_AGENT = "You are one of several sub-agents; you see {view}. Answer from what this view shows."
_SYNTHESIS = (
    "You reconcile the answers of sub-agents that looked at different views of one scene. Say in \"agreed\" "
    "whether they agree; where they differ, prefer the one whose steps rest on the OCR evidence. Regions are in "
    "the coordinates of the full image shown.")


class PromptError(CloudError):
    """An image could not be encoded for the model."""


@dataclass(frozen=True, slots=True)
class Shown:
    """One image the model is shown, and where it lies in the frame it reasons over (the whole frame: 0..1)."""

    image: Image
    window: NormBox = FULL_FRAME
    caption: str = "the wearer's current view"


def jpeg_data_url(image: Image, *, quality: int = 85, max_side: int = 1280) -> str:
    """``image`` as a JPEG data URL, scaled down so its longer side is at most ``max_side``. CPU work: call it
    from a worker thread."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width, 1))
    if scale < 1.0:
        image = np.asarray(cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                                      interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise PromptError(f"could not encode a {width}x{height} image as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def evidence_text(lines: Sequence[TextLine], window: NormBox = FULL_FRAME) -> str:
    """OCR lines as evidence, each with its box in the coordinates of ``window`` (lines outside it left out)."""
    rows = []
    for line in sorted(lines, key=lambda line: (line.box.y0, line.box.x0))[:MAX_EVIDENCE_LINES]:
        box = into_window(line.box, window)
        if box is not None:
            rows.append(f"- \"{line.text}\" (confidence {line.score:.2f}) at "
                        f"[{box.x0:.3f}, {box.y0:.3f}, {box.x1:.3f}, {box.y1:.3f}]")
    return "OCR evidence:\n" + ("\n".join(rows) if rows else "- no text was read")


def into_window(box: NormBox, window: NormBox) -> NormBox | None:
    """``box`` (frame coordinates) in ``window``'s coordinates, clipped; None if it lies outside."""
    w, h = window.x1 - window.x0, window.y1 - window.y0
    x0, y0 = max(box.x0, window.x0), max(box.y0, window.y0)
    x1, y1 = min(box.x1, window.x1), min(box.y1, window.y1)
    if x1 <= x0 or y1 <= y0 or w <= 0 or h <= 0:
        return None
    return NormBox((x0 - window.x0) / w, (y0 - window.y0) / h, (x1 - window.x0) / w, (y1 - window.y0) / h)


def context_text(state: Mapping[str, object], history: Sequence[tuple[str, str]]) -> str:
    """The session's context: its recent questions and answers, and what skills remember (a repair's step)."""
    rows = [f"- asked {question!r}, answered {answer!r}" for question, answer in history[-MAX_CONTEXT_ITEMS:]]
    rows += [f"- {name}: {str(value)[:160]}" for name, value in state.items() if not name.startswith("_")]
    return "Session context:\n" + ("\n".join(rows) if rows else "- none (first question)")


def messages(question: str, shown: Sequence[tuple[Shown, str]], context: str, evidence: str, *,
             reasoning: bool, role: str = "") -> list[dict[str, Any]]:
    """The chat messages of one call: ``shown`` pairs each image with its data URL, in the order given."""
    system = " ".join(part for part in (_SYSTEM, _THINKING if reasoning else _INSTANT, role) if part)
    parts: list[dict[str, Any]] = [{"type": "text", "text": question}]
    for view, url in shown:
        parts.append({"type": "image_url", "image_url": {"url": url}})
        if len(shown) > 1:
            parts.append({"type": "text", "text": f"(above: {view.caption})"})
    parts.append({"type": "text", "text": f"{context}\n\n{evidence}"})
    return [{"role": "system", "content": system}, {"role": "user", "content": parts}]


def sub_agent_role(view: Shown) -> str:
    return _SUB_AGENT.format(view=view.caption)


def synthesis_messages(question: str, full: tuple[Shown, str], findings: Sequence[tuple[str, str]],
                       evidence: str) -> list[dict[str, Any]]:
    """The synthesis call: the question, the full frame, each sub-agent's view and answer, the evidence."""
    reports = "\n".join(f"- sub-agent on {view}: {answer}" for view, answer in findings)
    parts: list[dict[str, Any]] = [{"type": "text", "text": question},
                                   {"type": "image_url", "image_url": {"url": full[1]}},
                                   {"type": "text", "text": f"Sub-agents' answers:\n{reports}\n\n{evidence}"}]
    return [{"role": "system", "content": f"{_SYSTEM} {_SYNTHESIS}"}, {"role": "user", "content": parts}]


def response_format(*, synthesis: bool = False) -> dict[str, Any]:
    schema = SYNTHESIS_SCHEMA if synthesis else ANSWER_SCHEMA
    return {"type": "json_schema", "json_schema": {"name": "eyeline_synthesis" if synthesis else "eyeline_answer",
                                                   "schema": schema}}


def text_window(lines: Sequence[TextLine], margin: float = 0.08) -> NormBox:
    """Where the text is, with a margin: the crop a sub-agent looks at closely (the centre when no text)."""
    if not lines:
        return NormBox(0.2, 0.2, 0.8, 0.8)
    x0, y0 = min(line.box.x0 for line in lines), min(line.box.y0 for line in lines)
    x1, y1 = max(line.box.x1 for line in lines), max(line.box.y1 for line in lines)
    box = NormBox(max(0.0, x0 - margin), max(0.0, y0 - margin), min(1.0, x1 + margin), min(1.0, y1 + margin))
    if (box.x1 - box.x0) * (box.y1 - box.y0) > 0.8:        # text everywhere: the centre is the closer look
        return NormBox(0.15, 0.15, 0.85, 0.85)
    return box


def crop(image: Image, window: NormBox) -> Image:
    """The pixels of ``window``, enlarged so the shorter side is at least ``_MIN_CROP_SIDE``. CPU work."""
    rows, cols = image.shape[:2]
    y0, y1 = int(window.y0 * rows), max(int(window.y1 * rows), int(window.y0 * rows) + 1)
    x0, x1 = int(window.x0 * cols), max(int(window.x1 * cols), int(window.x0 * cols) + 1)
    piece = image[y0:y1, x0:x1]
    scale = max(1.0, _MIN_CROP_SIDE / max(1, min(piece.shape[:2])))
    if scale > 1.0:
        piece = np.asarray(cv2.resize(piece, None, fx=min(scale, 3.0), fy=min(scale, 3.0),
                                      interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    return np.ascontiguousarray(piece, dtype=np.uint8)
