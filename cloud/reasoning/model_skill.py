"""Skills backed by a configured model, and the embedded engine's answer whenever the model gives none.

With a model configured, every embedded skill is wrapped (guardrails are not: they are asked first and a
refused question never reaches a model), and a catch-all skill takes the open questions no embedded skill
matches ("what is this and what is it used for?"). Per mode:

- Instant: the embedded skill's answer when it is confident (no call), else one small model call.
- Thinking and Contemplating: the embedded answer first, as a quick interim replaced in place, then the
  model's answer in that mode's budget, which always has the last word.

A model that is down, slow, rate-limited past its retries or returns garbage never leaves the wearer without
an answer: the embedded engine's (for an open question, the text it can read) comes back with a notice.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace

from eyeline.cloud.model import Mode, NoticeItem, SkillResult, StepKind, TraceStep
from eyeline.cloud.reasoning.model import ModelReasoner
from eyeline.cloud.reasoning.model_parse import ModelError
from eyeline.cloud.reasoning.planner import CONFIDENT
from eyeline.cloud.skills.base import Pass, Skill, SkillContext
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.read import ReadTextSkill

log = logging.getLogger(__name__)

OPEN_QUESTION_EXAMPLE = "what is this and what is it used for?"
_NOTICE_RGB = 0xFFB040
_QUESTIONS_KEPT = 16      # questions in flight whose embedded answer a later pass may still need


class ModelBackedSkill:
    """An embedded skill with the model behind it, or (``embedded=None``) the catch-all for open questions."""

    def __init__(self, reasoner: ModelReasoner, embedded: Skill | None, *, confident: float = CONFIDENT,
                 open_fallback: Skill | None = None) -> None:
        self._reasoner = reasoner
        self._embedded = embedded
        self._open = OpenQuestionFallback(open_fallback)
        self._confident = confident
        self._asked: OrderedDict[int, tuple[SkillContext, SkillResult]] = OrderedDict()
        self.name = embedded.name if embedded is not None else "model"
        examples = getattr(embedded, "examples", None) if embedded is not None else (OPEN_QUESTION_EXAMPLE,)
        self.examples: tuple[str, ...] = tuple(examples) if isinstance(examples, tuple) else ()

    def matches(self, question: str) -> bool:
        return self._embedded.matches(question) if self._embedded is not None else bool(question.strip())

    async def answer(self, ctx: SkillContext) -> SkillResult:
        """Instant: the embedded answer if it is confident, else one small model call."""
        if self._embedded is not None:
            embedded = await self._fallback(ctx)
            if embedded.confidence >= self._confident:
                return _noted(embedded, f"the embedded answer is confident ({embedded.confidence:.2f}): "
                              f"{self._reasoner.agent} not asked")
        return await self._model(ctx, Mode.INSTANT)

    def first_pass(self, mode: Mode) -> Pass:
        if mode is Mode.INSTANT:
            return Pass("instant", self.answer)
        return Pass("embedded", self._interim)

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        if mode is Mode.INSTANT:
            return ()
        return (Pass(f"model-{mode.value}", lambda ctx: self._model(ctx, mode), always=True,
                     stream=lambda ctx: self._model_answers(ctx, mode)),)

    async def _interim(self, ctx: SkillContext) -> SkillResult:
        """The embedded answer, at once, while the model is asked."""
        result = await self._fallback(ctx, pending=True)
        return _noted(result, f"interim: the embedded engine's answer while {self._reasoner.agent} is asked")

    async def _model(self, ctx: SkillContext, mode: Mode) -> SkillResult:
        try:
            return await self._reasoner.answer(replace(ctx, mode=mode), mode)
        except Exception as exc:  # whatever went wrong with the model, the wearer still gets an answer
            return await self._instead(ctx, exc)

    async def _model_answers(self, ctx: SkillContext, mode: Mode) -> AsyncIterator[SkillResult]:
        """The model's answers as they come; the embedded answer with a notice if it fails, even midway."""
        try:
            async for result in self._reasoner.answers(replace(ctx, mode=mode), mode):
                yield result
        except Exception as exc:  # whatever went wrong with the model, the wearer still gets an answer
            yield await self._instead(ctx, exc)

    async def _instead(self, ctx: SkillContext, exc: Exception) -> SkillResult:
        if not isinstance(exc, ModelError):
            log.error("the model reasoner failed unexpectedly; answering from the embedded engine", exc_info=exc)
        result = await self._fallback(ctx)
        notice = (f"The model {self._reasoner.name} did not answer ({_short(exc)}); this is the embedded "
                  "engine's answer.")
        step = TraceStep(StepKind.VERIFY, notice, confidence=0.0, agent=self._reasoner.agent)
        return replace(_with_step(result, step),
                       items=(*result.items, NoticeItem(id="model-notice", text=notice, rgb=_NOTICE_RGB)))

    async def _fallback(self, ctx: SkillContext, *, pending: bool = False) -> SkillResult:
        """The embedded answer to this question, computed once per question: a skill that remembers (a repair
        moved on by "next") must not move twice because the model failed after its interim."""
        if self._embedded is None:
            return await self._open.answer(replace(ctx, mode=Mode.INSTANT), pending=pending)
        kept = self._asked.get(id(ctx))
        if kept is not None and kept[0] is ctx:
            return kept[1]
        result = await self._embedded.answer(replace(ctx, mode=Mode.INSTANT))
        self._asked[id(ctx)] = (ctx, result)      # holding ctx keeps its id from being reused while kept
        while len(self._asked) > _QUESTIONS_KEPT:
            self._asked.popitem(last=False)
        return result


class OpenQuestionFallback:
    """The embedded engine's best for a question only a model can answer: ``skill``'s answer when given (it says
    what is in view and what can be asked), else say so and read out the text."""

    name = "open-question"

    def __init__(self, skill: Skill | None = None) -> None:
        self._skill = skill
        self._reader = ReadTextSkill()

    async def answer(self, ctx: SkillContext, *, pending: bool = False) -> SkillResult:
        """``pending``: the model is being asked, and this is only what to show meanwhile."""
        if self._skill is not None:
            result = await self._skill.answer(ctx)
            return replace(result, answer=f"Asking the model; meanwhile: {result.answer}") if pending else result
        read = await self._reader.answer(ctx)
        lead = "Asking the model; meanwhile" if pending else "I can't answer that without the model"
        if not read.items:
            answer = f"{lead}: I can't read any text here."
        else:
            answer = f"{lead}. The text I can read here: " + read.answer.replace("\n", " / ")
        steps = (*read.steps[:-1], TraceStep(StepKind.ANSWER, answer, confidence=0.3, agent="open-question"))
        return SkillResult(answer=answer, items=read.items, steps=steps, confidence=0.3)


def model_backed(skills: Iterable[Skill], reasoner: ModelReasoner, *,
                 open_fallback: Skill | None = None) -> list[Skill]:
    """``skills`` with the model behind each (guardrails left as they are, first), and the open-question
    catch-all last, whose embedded answer is ``open_fallback``'s (what is in view and what can be asked) or,
    without one, the text in view."""
    wrapped: list[Skill] = [skill if isinstance(skill, GuardrailSkill) else ModelBackedSkill(reasoner, skill)
                            for skill in skills]
    return [*wrapped, ModelBackedSkill(reasoner, None, open_fallback=open_fallback)]


def _noted(result: SkillResult, text: str) -> SkillResult:
    return _with_step(result, TraceStep(StepKind.VERIFY, text, confidence=result.confidence, agent="planner"))


def _with_step(result: SkillResult, step: TraceStep) -> SkillResult:
    """``step`` added before the answer step, so the trace still ends with the answer."""
    steps = result.steps
    if steps and steps[-1].kind is StepKind.ANSWER:
        return replace(result, steps=(*steps[:-1], step, steps[-1]))
    return replace(result, steps=(*steps, step))


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
