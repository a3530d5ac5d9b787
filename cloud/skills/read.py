"""Read the text in view aloud: "read this", "what does the label say".

The answer is every confidently read line in reading order, and each line is boxed in the overlay. Reading
order is by blocks: lines that sit together (stacked under one another in one column, a few text heights
apart at most, or side by side on one row) form a block, like a package's label or a paragraph; blocks
that share rows form a band and are read left to right, bands top to bottom; inside a block, rows top to
bottom and words left to right. So the labels of a shelf are read one package at a time rather than
across all of them row by row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eyeline.cloud.model import BoxItem, Mode, NormBox, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import Pass, SkillContext
from eyeline.protos.clock import elapsed_us

AGENT = "reader"
# Lines the recogniser is less sure of than this are left out (and counted), never read out as fact.
MIN_SCORE = 0.5
# How far, in text heights, the next line of one block may be: below, as far as from a package's name to its
# panel; beside, a word space (so the labels of neighbouring packages stay apart).
_LINE_BREAK = 4.0
_WORD_SPACE = 1.5
_BOX_RGB = 0x40C0FF

_READ_QUESTION = re.compile(
    r"\bread\b|\bwhat(?:'s| is| does)\b.{0,30}\b(?:say|says|written|printed)\b|\bwhat(?:'s| is) on (?:the|this|that)\b"
    r".{0,20}\b(?:label|sign|chart|screen|page)\b", re.IGNORECASE)


def reading_order(lines: Sequence[TextLine], aspect: float = 16 / 9) -> tuple[TextLine, ...]:
    """``lines`` in the order a person reads them: by band, block, row, then left to right.

    ``aspect`` (width / height) puts horizontal distances in units of frame height, like text heights.
    """
    blocks = _blocks(lines, aspect)
    ordered: list[TextLine] = []
    for band in _bands(blocks):
        for block in sorted(band, key=lambda b: _span(b).x0):
            ordered.extend(_rows_in_order(block))
    return tuple(ordered)


def _blocks(lines: Sequence[TextLine], aspect: float) -> list[list[TextLine]]:
    """Connected groups of lines that continue one another (union of pairwise neighbours)."""
    parent = list(range(len(lines)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for i, a in enumerate(lines):
        for j in range(i + 1, len(lines)):
            if _neighbours(a, lines[j], aspect):
                parent[root(i)] = root(j)
    groups: dict[int, list[TextLine]] = {}
    for index, line in enumerate(lines):
        groups.setdefault(root(index), []).append(line)
    return list(groups.values())


def _neighbours(a: TextLine, b: TextLine, aspect: float) -> bool:
    height = max(min(a.height, b.height), 1e-6)
    vertical_gap = max(a.box.y0, b.box.y0) - min(a.box.y1, b.box.y1)
    horizontal_gap = (max(a.box.x0, b.box.x0) - min(a.box.x1, b.box.x1)) * aspect
    narrower = min(a.width, b.width)
    stacked = horizontal_gap < -0.3 * narrower * aspect and vertical_gap <= _LINE_BREAK * height
    beside = _same_row(a.box, b.box) and horizontal_gap <= _WORD_SPACE * height
    return stacked or beside


def _same_row(a: NormBox, b: NormBox) -> bool:
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    return overlap >= 0.5 * min(a.y1 - a.y0, b.y1 - b.y0)


def _span(block: Sequence[TextLine]) -> NormBox:
    return NormBox(min(line.box.x0 for line in block), min(line.box.y0 for line in block),
                   max(line.box.x1 for line in block), max(line.box.y1 for line in block))


def _bands(blocks: list[list[TextLine]]) -> list[list[list[TextLine]]]:
    """Blocks whose vertical extents overlap, chained, top band first."""
    bands: list[tuple[float, float, list[list[TextLine]]]] = []
    for block in sorted(blocks, key=lambda b: _span(b).y0):
        span = _span(block)
        if bands and span.y0 < bands[-1][1]:
            top, bottom, members = bands[-1]
            bands[-1] = (top, max(bottom, span.y1), [*members, block])
        else:
            bands.append((span.y0, span.y1, [block]))
    return [members for _, _, members in bands]


def _rows_in_order(block: Sequence[TextLine]) -> list[TextLine]:
    rows: list[list[TextLine]] = []
    for line in sorted(block, key=lambda line: line.box.center[1]):
        if rows and _same_row(rows[-1][0].box, line.box):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda line: line.box.x0)]


class ReadTextSkill:
    """Reads out the text, label or chart in view, in reading order, and boxes each line it read."""

    name = "read"
    examples = ("read this", "what does the label say?")

    def matches(self, question: str) -> bool:
        return bool(_READ_QUESTION.search(question))

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    async def answer(self, ctx: SkillContext) -> SkillResult:
        started = ctx.clock.now_ns()
        lines = await ctx.ocr.read(ctx.image)
        steps = [TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines",
                           evidence=tuple(line.box for line in lines), cost_us=elapsed_us(ctx.clock, started),
                           agent=AGENT)]
        started = ctx.clock.now_ns()
        sure = [line for line in lines if line.score >= MIN_SCORE]
        ordered = reading_order(sure, ctx.image.shape[1] / ctx.image.shape[0])
        confidence = min((line.score for line in ordered), default=0.0)
        steps.append(TraceStep(StepKind.READ, _read_summary(len(ordered), len(lines) - len(sure)),
                               evidence=tuple(line.box for line in ordered), confidence=confidence,
                               cost_us=elapsed_us(ctx.clock, started), agent=AGENT))
        text = "\n".join(line.text for line in ordered) if ordered else "I can't see any text I can read here."
        steps.append(TraceStep(StepKind.ANSWER, f"read out {len(ordered)} lines", confidence=confidence, agent=AGENT))
        items = tuple(BoxItem(id=f"line-{index}", box=line.box, caption=str(index + 1), rgb=_BOX_RGB)
                      for index, line in enumerate(ordered))
        return SkillResult(answer=text, items=items, steps=tuple(steps))


def _read_summary(read: int, doubtful: int) -> str:
    text = f"{read} lines in reading order"
    return text + (f"; {doubtful} too unsure to read out" if doubtful else "")

