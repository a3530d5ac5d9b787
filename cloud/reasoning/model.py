"""The model reasoner: a vision-language model behind an OpenAI-compatible endpoint, asked under a mode's budget.

It sends the keyframe, redacted once more here (the edge redacts before sending, but an edge may have turned its
privacy stage off, and a third party's model must never see a bystander's face), the question, the session's
context and the embedded perception's evidence (OCR lines with boxes), and grounds what comes back
(``model_ground``). Instant and Thinking are one call each, with the budget of their mode; Contemplating runs one
sub-agent per view in parallel (full frame, a close crop of the text, the keyframe before this one), then a
synthesis call that reconciles them and says whether they agreed. Every answer's trace names the model and counts
the tokens it cost. Any failure is a ``ModelError``: the caller (``model_skill``) answers from the embedded engine
instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

from eyeline.cloud.model import Mode, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.reasoning.budgets import ModeBudget, ModelConfig, TokenUse, View
from eyeline.cloud.reasoning.model_client import ModelEndpoint
from eyeline.cloud.reasoning.model_ground import Grounded, ground
from eyeline.cloud.reasoning.model_parse import ModelError, ModelReply
from eyeline.cloud.reasoning.model_prompt import (
    Shown,
    context_text,
    crop,
    evidence_text,
    jpeg_data_url,
    messages,
    response_format,
    sub_agent_role,
    synthesis_messages,
    text_window,
)
from eyeline.cloud.skills.base import SkillContext
from eyeline.protos.clock import Clock, elapsed_us
from eyeline.protos.privacy import FaceRedactor, Redactor

HISTORY_KEY = "_model_history"     # the session's recent questions and answers (names with "_" stay private)
_HISTORY = 4
USAGE_AGENT = "model-usage"


@dataclass(frozen=True, slots=True)
class _SubAgent:
    view: str
    shown: Shown
    url: str
    lines: tuple[TextLine, ...]    # the evidence it is given (none for an earlier keyframe: it was not read)


class ModelReasoner:
    """Answers one question over one keyframe with the configured model, within the mode's budget."""

    def __init__(self, config: ModelConfig, clock: Clock, *, endpoint: ModelEndpoint | None = None,
                 redactor: Redactor | None = None) -> None:
        self.config = config
        self._clock = clock
        self.endpoint = endpoint or ModelEndpoint(config, clock)
        self._redactor: Redactor = redactor or FaceRedactor()

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def agent(self) -> str:
        return f"model:{self.config.model}"

    async def aclose(self) -> None:
        await self.endpoint.aclose()

    async def answer(self, ctx: SkillContext, mode: Mode) -> SkillResult:
        """The model's grounded answer in ``mode``, with its whole trace; ``ModelError`` when it gave none."""
        steps: list[TraceStep] = []
        final: SkillResult | None = None
        async for result in self.answers(ctx, mode):
            steps += result.steps
            final = result
        assert final is not None
        return replace(final, steps=tuple(steps))

    async def answers(self, ctx: SkillContext, mode: Mode) -> AsyncIterator[SkillResult]:
        """The model's answers in ``mode`` as they come (Contemplating: the sub-agents' before the synthesis);
        each trace holds only the steps new since the answer before. ``ModelError`` when it gave none in time."""
        budget = self.config.budgets[mode]
        started = self._clock.now_ns()
        deadline_ns = started + int(budget.deadline_s * 1e9)
        lines = await ctx.ocr.read(ctx.image)
        perceive = TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines, sent to {self.agent} as "
                             "evidence with the redacted keyframe", evidence=tuple(line.box for line in lines),
                             cost_us=elapsed_us(self._clock, started), agent=self.agent)
        if mode is Mode.CONTEMPLATING:
            outcomes = self._contemplate(ctx, budget, lines, deadline_ns)
        else:
            outcomes = self._single(ctx, budget, lines, deadline_ns)
        first = True
        async for result, usage, final in outcomes:
            steps = (perceive, *result.steps) if first else result.steps
            first = False
            if final:
                _remember(ctx, result.answer)
                usage_step = TraceStep(StepKind.VERIFY, usage.describe(self.name), agent=USAGE_AGENT)
                steps = (*steps[:-1], usage_step, steps[-1])
            yield replace(result, steps=steps, final=final)

    async def _single(self, ctx: SkillContext, budget: ModeBudget, lines: Sequence[TextLine],
                      deadline_ns: int) -> AsyncIterator[tuple[SkillResult, TokenUse, bool]]:
        shown = Shown(ctx.image)
        url = await asyncio.to_thread(self._encode, shown)
        chat = messages(ctx.question, [(shown, url)], _context(ctx), evidence_text(lines),
                        reasoning=budget.reasoning)
        started = self._clock.now_ns()
        reply = await self.endpoint.complete(chat, max_tokens=budget.max_tokens, deadline_ns=deadline_ns,
                                             response_format=response_format())
        grounded = ground(reply, lines, agent=self.agent, cost_us=elapsed_us(self._clock, started))
        yield grounded.result, reply.usage, True

    async def _contemplate(self, ctx: SkillContext, budget: ModeBudget, lines: Sequence[TextLine],
                           deadline_ns: int) -> AsyncIterator[tuple[SkillResult, TokenUse, bool]]:
        """The sub-agents' answers (the first one's as an interim), then the synthesis'; when the synthesis
        fails, the first sub-agent's answer stands, with a note."""
        agents = await asyncio.to_thread(self._sub_agents, ctx, budget.views, tuple(lines))
        started = self._clock.now_ns()
        outcomes = await asyncio.gather(*(self._ask_sub_agent(ctx, agent, budget, deadline_ns) for agent in agents),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, ModelError):
                raise outcome
        done = [(agent, outcome) for agent, outcome in zip(agents, outcomes, strict=True)
                if isinstance(outcome, ModelReply)]
        usage = sum((reply.usage for _, reply in done), TokenUse())
        if not done:
            reasons = "; ".join(str(outcome) for outcome in outcomes)
            raise ModelError(f"no sub-agent answered: {reasons}")
        views = ", ".join(agent.view for agent in agents)
        steps = [TraceStep(StepKind.COMPARE, f"{len(agents)} sub-agents asked in parallel ({views}); {len(done)} "
                           "answered", cost_us=elapsed_us(self._clock, started), agent=self.agent)]
        first: SkillResult | None = None
        for agent, reply in done:
            grounded = ground(reply, [] if agent.view == View.EARLIER else agent.lines,
                              agent=f"{self.agent}/{agent.view}", window=agent.shown.window)
            first = first or grounded.result
            steps += _without_regions(grounded.result.steps) if agent.view == View.EARLIER else grounded.result.steps
        assert first is not None
        steps.append(TraceStep(StepKind.VERIFY, f"interim: the {done[0][0].view} sub-agent's answer while the "
                               "synthesis reconciles them", confidence=first.confidence, agent=self.agent))
        yield replace(first, steps=tuple(steps)), usage, False
        try:
            synthesis, synthesis_usage = await self._synthesize(ctx, budget, agents[0], done, lines, deadline_ns)
        except ModelError as exc:
            note = TraceStep(StepKind.VERIFY, f"the synthesis failed ({exc}); the {done[0][0].view} sub-agent's "
                             "answer stands", confidence=first.confidence, agent=self.agent)
            yield replace(first, steps=(note, first.steps[-1])), usage, True
            return
        agreement = _agreement(synthesis.reply, [reply for _, reply in done])
        result = synthesis.grounded.result
        verdict = TraceStep(StepKind.VERIFY, agreement, confidence=result.confidence, agent=self.agent)
        yield replace(result, steps=(verdict, *result.steps)), usage + synthesis_usage, True

    async def _ask_sub_agent(self, ctx: SkillContext, agent: _SubAgent, budget: ModeBudget,
                             deadline_ns: int) -> ModelReply:
        evidence = (evidence_text(agent.lines, agent.shown.window) if agent.view != View.EARLIER
                    else "OCR evidence: none for this view (it is an earlier keyframe)")
        chat = messages(ctx.question, [(agent.shown, agent.url)], _context(ctx), evidence,
                        reasoning=budget.reasoning, role=sub_agent_role(agent.shown))
        return await self.endpoint.complete(chat, max_tokens=budget.max_tokens, deadline_ns=deadline_ns,
                                            response_format=response_format())

    async def _synthesize(self, ctx: SkillContext, budget: ModeBudget, full: _SubAgent,
                          done: Sequence[tuple[_SubAgent, ModelReply]], lines: Sequence[TextLine],
                          deadline_ns: int) -> tuple[_Synthesis, TokenUse]:
        findings = [(agent.shown.caption, reply.answer) for agent, reply in done]
        chat = synthesis_messages(ctx.question, (full.shown, full.url), findings, evidence_text(lines))
        started = self._clock.now_ns()
        reply = await self.endpoint.complete(chat, max_tokens=budget.synthesis_tokens or budget.max_tokens,
                                             deadline_ns=deadline_ns, response_format=response_format(synthesis=True),
                                             model=self.config.synthesis_model)
        grounded = ground(reply, lines, agent=f"{self.agent}/synthesis", cost_us=elapsed_us(self._clock, started))
        return _Synthesis(reply, grounded), reply.usage

    def _sub_agents(self, ctx: SkillContext, views: Sequence[str], lines: tuple[TextLine, ...]) -> list[_SubAgent]:
        """One sub-agent per view the session can give (CPU work: crops and JPEG, in a worker thread)."""
        agents = []
        for view in views:
            if view == View.FULL:
                shown = Shown(ctx.image, caption="the full frame")
            elif view == View.CROP:
                window = text_window(lines)
                shown = Shown(crop(ctx.image, window), window, caption="a close-up of the region with text")
            elif view == View.EARLIER and ctx.recent:
                shown = Shown(ctx.recent[0].image, caption="the view a moment earlier")
            else:
                continue
            agents.append(_SubAgent(view, shown, self._encode(shown), lines))
        return agents

    def _encode(self, shown: Shown) -> str:
        """The view as the model receives it: faces redacted, then JPEG (CPU work, in a worker thread)."""
        redacted = self._redactor.redact(shown.image).image
        return jpeg_data_url(redacted, quality=self.config.jpeg_quality, max_side=self.config.max_image_side)


@dataclass(frozen=True, slots=True)
class _Synthesis:
    reply: ModelReply
    grounded: Grounded


def _context(ctx: SkillContext) -> str:
    history = ctx.state.get(HISTORY_KEY)
    pairs = [pair for pair in history if isinstance(pair, tuple)] if isinstance(history, list) else []
    return context_text(ctx.state, pairs)


def _remember(ctx: SkillContext, answer: str) -> None:
    history = ctx.state.get(HISTORY_KEY)
    pairs = history if isinstance(history, list) else []
    ctx.state[HISTORY_KEY] = [*pairs, (ctx.question, answer)][-_HISTORY:]


def _without_regions(steps: Sequence[TraceStep]) -> tuple[TraceStep, ...]:
    """An earlier keyframe's steps, their regions left out: they lie in another frame than the one answered."""
    return tuple(replace(step, evidence=()) for step in steps if step.kind is not StepKind.ANSWER)


def _agreement(synthesis: ModelReply, replies: Sequence[ModelReply]) -> str:
    if synthesis.agreed is not None:
        verdict = "agreed" if synthesis.agreed else "did not agree"
        return f"synthesis: the {len(replies)} sub-agents {verdict} (the synthesis model's judgement)"
    same = len({_normal(reply.answer) for reply in replies}) == 1
    return (f"synthesis: the {len(replies)} sub-agents {'gave the same answer' if same else 'answered differently'} "
            "(the synthesis did not say)")


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")
