"""The planner spends passes only while confidence is low; the orchestrator reports agreement."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from eyeline.cloud.model import Image, Mode, NormBox, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.skills.base import Pass, SkillContext
from eyeline.cloud.skills.shelf.agents import AgentReport, orchestrate
from eyeline.protos.clock import VirtualClock


class NoReader:
    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return ()


class ScriptedSkill:
    """Answers with a scripted confidence per pass, counting the passes it was asked for."""

    name = "scripted"

    def __init__(self, confidences: list[float]) -> None:
        self.confidences = confidences
        self.calls: list[Mode] = []

    def matches(self, question: str) -> bool:
        return True

    def deeper_passes(self, mode: Mode) -> list[Pass]:
        """Two deeper passes in any mode: the planner, not the skill, keeps Instant to one."""
        thinking = Pass("deeper", lambda ctx: self.answer(replace(ctx, mode=Mode.THINKING)))
        return [thinking, replace(thinking, name="deepest")]

    async def answer(self, ctx: SkillContext) -> SkillResult:
        self.calls.append(ctx.mode)
        confidence = self.confidences[len(self.calls) - 1]
        step = TraceStep(StepKind.ANSWER, f"pass {len(self.calls)}", confidence=confidence, agent="scripted")
        return SkillResult(answer=f"answer {len(self.calls)}", steps=(step,), confidence=confidence)


def _ctx(mode: Mode) -> SkillContext:
    return SkillContext(question="q", mode=mode, image=np.zeros((8, 8, 3), np.uint8), frame_seq=1, ocr=NoReader())


async def _answers(skill: ScriptedSkill, mode: Mode) -> list[SkillResult]:
    return [result async for result in Planner().answers(skill, _ctx(mode))]


async def test_a_confident_instant_answer_stops_the_planner_in_any_mode() -> None:
    skill = ScriptedSkill([0.95, 0.99, 0.99])
    results = await _answers(skill, Mode.THINKING)
    assert len(skill.calls) == 1 and [r.final for r in results] == [True]
    assert "confidence 0.95 reached" in results[0].steps[-2].text and results[0].steps[-1].kind is StepKind.ANSWER


async def test_low_confidence_spends_passes_until_confident_and_each_but_the_last_is_provisional() -> None:
    skill = ScriptedSkill([0.3, 0.92, 0.99])
    results = await _answers(skill, Mode.THINKING)
    assert skill.calls == [Mode.INSTANT, Mode.THINKING]
    assert [r.final for r in results] == [False, True]
    change = next(s for s in results[1].steps if s.agent == "planner" and "replaced" in s.text)
    assert "'answer 1'" in change.text and "'answer 2'" in change.text


async def test_the_budget_bounds_the_passes_however_low_confidence_stays() -> None:
    thinking = ScriptedSkill([0.1, 0.1, 0.1])
    assert len(await _answers(thinking, Mode.THINKING)) == 3
    instant = ScriptedSkill([0.1])
    results = await _answers(instant, Mode.INSTANT)
    assert len(instant.calls) == 1 and results[0].final and results[0].confidence == 0.1


def _report(agent: str, answer: str, confidence: float) -> AgentReport:
    box = NormBox(0.1, 0.1, 0.2, 0.2)
    step = TraceStep(StepKind.ANSWER, answer, evidence=(box,), confidence=confidence, cost_us=5, agent=agent)
    return AgentReport(agent, SkillResult(answer=answer, steps=(step,), confidence=confidence), wall_us=10)


def test_the_orchestrator_answers_with_the_majority_and_says_how_many_agreed() -> None:
    reports = [_report("frame", "Alpha Bar has the most protein: 20 g per serving (of 3 products read).", 0.8),
               _report("scale-1.5x", "Beta Bite has the most protein: 25 g per serving (of 2 products read).", 0.99),
               _report("views-3+2", "Alpha Bar has the most protein: 20 g per serving (of 4 products read).", 0.95)]
    result = orchestrate(reports, VirtualClock())
    assert result.answer.startswith("Alpha Bar") and "2 of 3 agents agreed" in result.answer
    verify = result.steps[-1]
    assert verify.agent == "orchestrator" and "views-3+2" in verify.text and verify.evidence
    assert {step.agent for step in result.steps[:-1]} == {"frame", "scale-1.5x", "views-3+2"}
    assert abs(result.confidence - 0.95 * 2 / 3) < 1e-6
