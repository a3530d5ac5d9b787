"""The planner: how much to spend on an answer. Modes are budgets of passes; confidence decides when to stop.

Every mode starts with the Instant pass (one OCR pass, or the session's tracked cache). Thinking may add a
close re-read of doubtful packages, then a fusion of recent keyframes; Contemplating adds the sub-agents and
their orchestrator. After each pass the planner stops if the answer is confident, so an easy frame costs one
pass in any mode. Each answer it yields but the last is provisional (``final=False``), to be replaced in place;
a planner step in the trace says what the deeper pass changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from eyeline.cloud.model import Mode, SkillResult, StepKind, TraceStep
from eyeline.cloud.skills.base import Pass, Skill, SkillContext
from eyeline.protos.clock import Clock, elapsed_us

AGENT = "planner"
# An answer this sure is not worth another pass.
CONFIDENT = 0.9


@runtime_checkable
class FirstPass(Protocol):
    """Optional: a skill whose first pass depends on the mode asked (a model-backed skill's Instant call, or
    its embedded answer as a quick interim before the model's)."""

    def first_pass(self, mode: Mode) -> Pass: ...


@dataclass(frozen=True, slots=True)
class Budget:
    """The passes a mode may spend, cheapest first."""

    passes: tuple[Pass, ...]


class Planner:
    """Runs a skill's passes for a mode until the answer is confident or the budget is spent."""

    def __init__(self, confident: float = CONFIDENT) -> None:
        self._confident = confident

    def budget(self, skill: Skill, mode: Mode) -> Budget:
        """The Instant pass, then what the skill itself declares for deeper modes."""
        if isinstance(skill, FirstPass):
            instant = skill.first_pass(mode)
        else:
            instant = Pass("instant", lambda ctx: skill.answer(replace(ctx, mode=Mode.INSTANT)))
        return Budget((instant, *skill.deeper_passes(mode)) if mode is not Mode.INSTANT else (instant,))

    async def answers(self, skill: Skill, ctx: SkillContext) -> AsyncIterator[SkillResult]:
        """The answer after each pass spent; only the last has ``final=True``."""
        passes = self.budget(skill, ctx.mode).passes
        previous: SkillResult | None = None
        for index, step in enumerate(passes):
            if step.stream is None:
                result = await step.run(ctx)
            else:
                # A pass that shows its progress: each of its answers but the last goes out as an interim.
                partial: SkillResult | None = None
                async for latest in step.stream(ctx):
                    if partial is not None:
                        yield replace(partial, final=False)
                    partial = latest
                if partial is None:
                    raise RuntimeError(f"the {step.name} pass gave no answer")
                result = partial
            if previous is not None:
                result = _noted(result, _change_step(step.name, previous, result, ctx.clock))
            must_go_on = any(later.always for later in passes[index + 1:])
            last = index == len(passes) - 1 or (result.confidence >= self._confident and not must_go_on)
            if last:
                if len(passes) > 1:
                    result = _noted(result, _stop_step(step.name, index, result, len(passes), self._confident))
                yield replace(result, final=True)
                return
            yield replace(result, final=False)
            previous = result


def _noted(result: SkillResult, note: TraceStep) -> SkillResult:
    """``note`` added to the trace, before the answer step so the trace still ends with the answer."""
    steps = result.steps
    if steps and steps[-1].kind is StepKind.ANSWER:
        return replace(result, steps=(*steps[:-1], note, steps[-1]))
    return replace(result, steps=(*steps, note))


def _change_step(name: str, before: SkillResult, after: SkillResult, clock: Clock) -> TraceStep:
    started = clock.now_ns()
    if before.answer == after.answer:
        text = f"the {name} pass confirmed the earlier answer"
    else:
        text = f"the {name} pass replaced the earlier answer {before.answer!r} with {after.answer!r}"
    return TraceStep(StepKind.VERIFY, text, confidence=after.confidence,
                     cost_us=elapsed_us(clock, started), agent=AGENT)


def _stop_step(name: str, index: int, result: SkillResult, total: int, confident: float) -> TraceStep:
    if result.confidence >= confident:
        why = f"confidence {result.confidence:.2f} reached {confident:.2f}"
    else:
        why = f"the budget of {total} pass{'es' if total != 1 else ''} is spent at confidence {result.confidence:.2f}"
    return TraceStep(StepKind.VERIFY, f"stopped after {index + 1} pass{'es' if index else ''} ({name}): {why}",
                     confidence=result.confidence, agent=AGENT)
