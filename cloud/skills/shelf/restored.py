"""Thinking's look at a restored view: the frame turned upright, enlarged, sharpened or its contrast restored
(``perception.restore``), read again, and the answer shown where its packages are in the frame.

A frame the first read found nothing wrong with is not restored, and this pass then answers as Thinking's
close re-read does. The restored answer replaces the frame's only when it is at least as sure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from eyeline.cloud.model import (
    ArrowItem,
    BadgeItem,
    BoxItem,
    LabelItem,
    Mode,
    OutlineItem,
    OverlayItem,
    SkillResult,
    StepKind,
    TraceStep,
)
from eyeline.cloud.perception.restore import RestoredView, restore
from eyeline.cloud.skills.base import Skill, SkillContext
from eyeline.protos.clock import elapsed_us

AGENT = "shelf"


async def answer_restored(skill: Skill, ctx: SkillContext,
                          over_frame: Callable[[], Awaitable[SkillResult]] | None = None) -> SkillResult:
    """``skill``'s Thinking answer over the restored frame, or ``over_frame``'s (default: the skill's Thinking
    answer over the frame itself) when the frame needs no restoring or the restored view reads no better."""
    frame_answer = await (over_frame() if over_frame is not None else skill.answer(replace(ctx, mode=Mode.THINKING)))
    started = ctx.clock.now_ns()
    lines = await ctx.ocr.read(ctx.image)
    view = await asyncio.to_thread(restore, ctx.image, lines)
    if not view.changed:
        return frame_answer
    step = TraceStep(StepKind.PERCEIVE, f"restored the view: {', '.join(view.done)}",
                     cost_us=elapsed_us(ctx.clock, started), agent=AGENT)
    restored = in_frame(await skill.answer(replace(ctx, mode=Mode.THINKING, image=view.image)), view)
    if restored.confidence < frame_answer.confidence:
        note = TraceStep(StepKind.VERIFY, f"the restored view read less surely ({restored.confidence:.2f} < "
                         f"{frame_answer.confidence:.2f}); kept the frame's answer", agent=AGENT)
        return _with_steps(frame_answer, (step, note))
    return _with_steps(restored, (step,), before=True)


def in_frame(result: SkillResult, view: RestoredView) -> SkillResult:
    """A result found on the restored view, its boxes and points placed in the frame."""
    steps = tuple(replace(s, evidence=tuple(view.box(box) for box in s.evidence)) for s in result.steps)
    return replace(result, steps=steps, items=tuple(_item_in_frame(item, view) for item in result.items))


def _item_in_frame(item: OverlayItem, view: RestoredView) -> OverlayItem:
    if isinstance(item, BoxItem):
        return replace(item, box=view.box(item.box))
    if isinstance(item, BadgeItem):
        return replace(item, center=view.point(item.center))
    if isinstance(item, LabelItem):
        return replace(item, anchor=view.point(item.anchor))
    if isinstance(item, ArrowItem):
        return replace(item, tail=view.point(item.tail), head=view.point(item.head))
    if isinstance(item, OutlineItem):
        return replace(item, points=tuple(view.point(p) for p in item.points))
    return item


def _with_steps(result: SkillResult, extra: tuple[TraceStep, ...], *, before: bool = False) -> SkillResult:
    steps = (*extra, *result.steps) if before else (*result.steps[:-1], *extra, *result.steps[-1:])
    return replace(result, steps=steps)
