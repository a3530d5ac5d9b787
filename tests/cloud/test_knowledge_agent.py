"""The knowledge-only sub-agent of Contemplating: names read, figures from the catalog, cross-checked."""

from __future__ import annotations

import pytest

from eyeline.cloud.knowledge.packs import demo_pack
from eyeline.cloud.model import Mode, NormBox, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.agents import (
    KNOWLEDGE_AGENT,
    AgentJob,
    AgentReport,
    agent_jobs,
    answer_from_knowledge,
    orchestrate,
)
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.devices.synthetic import LabelLayout, make_shelf_scene, render_shelf_frame
from eyeline.protos.clock import VirtualClock

QUESTION = "which of these has the most protein?"


def hidden_shelf(seed: int = 4) -> tuple[AgentJob, str]:
    scene = make_shelf_scene(seed, 4, layouts=(LabelLayout.HIDDEN,) * 4)
    image, truth = render_shelf_frame(scene, 0.0, motion_scale=0.0)
    job = AgentJob(KNOWLEDGE_AGENT, QUESTION, image, 1, catalog=demo_pack().products, knowledge_only=True)
    return job, truth.best_product().display_name


def report(agent: str, answer: str, confidence: float) -> AgentReport:
    step = TraceStep(StepKind.ANSWER, answer, evidence=(NormBox(0.1, 0.1, 0.2, 0.2),), confidence=confidence,
                     cost_us=5, agent=agent)
    return AgentReport(agent, SkillResult(answer=answer, steps=(step,), confidence=confidence), wall_us=10)


def test_the_knowledge_agent_is_one_of_the_hypotheses_only_when_there_is_a_catalog() -> None:
    job, _ = hidden_shelf()
    ctx = SkillContext(QUESTION, Mode.CONTEMPLATING, job.image, 1, ocr=None)  # type: ignore[arg-type]
    with_catalog = agent_jobs(ctx, demo_pack().products)
    assert [j.agent for j in with_catalog if j.knowledge_only] == [KNOWLEDGE_AGENT]
    assert not any(j.knowledge_only for j in agent_jobs(ctx, ()))


@pytest.mark.slow
async def test_the_knowledge_agent_rescues_a_shelf_whose_panels_are_all_hidden(real_ocr: OcrPool) -> None:
    job, best = hidden_shelf()
    panels_only = await ProteinRankingSkill().answer(SkillContext(QUESTION, Mode.THINKING, job.image, 1, real_ocr))
    assert panels_only.confidence == 0.0                      # no panel, no catalog: nothing to rank
    knowledge = await answer_from_knowledge(job, real_ocr, clock=VirtualClock())
    assert knowledge.answer.startswith(best)
    assert 0.5 < knowledge.confidence < 1.0                    # a name match, trusted less than a read panel
    assert {step.agent for step in knowledge.steps} == {KNOWLEDGE_AGENT}
    assert all(step.evidence and step.cost_us >= 0 for step in knowledge.steps)
    grounded = [step for step in knowledge.steps if step.kind is StepKind.GROUND]
    assert len(grounded) == 4 and all(step.confidence > 0.8 for step in grounded)
    result = orchestrate([AgentReport("frame", panels_only, 10), AgentReport(KNOWLEDGE_AGENT, knowledge, 10)],
                         VirtualClock())
    assert result.answer.startswith(best) and "1 of 2 agents agreed" in result.answer


def test_a_knowledge_agent_that_disagrees_lowers_the_reported_agreement() -> None:
    panel = "Alpha Bar has the most protein: 20 g per serving (of 3 products read)."
    other = "Beta Bite has the most protein: 25 g per serving (of 3 products read)."
    readers = [report("frame", panel, 0.95), report("scale-1.5x", panel, 0.9)]
    agreeing = orchestrate([*readers, report(KNOWLEDGE_AGENT, panel, 0.85)], VirtualClock())
    disagreeing = orchestrate([*readers, report(KNOWLEDGE_AGENT, other, 0.85)], VirtualClock())
    assert "3 of 3 agents agreed" in agreeing.answer and "2 of 3 agents agreed" in disagreeing.answer
    assert disagreeing.confidence < agreeing.confidence
    assert "the catalog agrees with the panels" in agreeing.steps[-1].text
    assert "the catalog disagrees with the panels" in disagreeing.steps[-1].text
    assert disagreeing.answer.startswith("Alpha Bar")          # the panels, two to one, carry the answer


class NoPixels:
    async def read(self, image_bgr: object) -> tuple[TextLine, ...]:
        raise AssertionError("given the session's lines, the knowledge agent reads no pixels")


@pytest.mark.slow
async def test_given_the_lines_the_session_read_the_knowledge_agent_spends_no_ocr(real_ocr: OcrPool) -> None:
    job, best = hidden_shelf()
    lines = await real_ocr.read(job.image)
    (given,) = [j for j in agent_jobs(SkillContext(QUESTION, Mode.CONTEMPLATING, job.image, 1, real_ocr),
                                      demo_pack().products, lines) if j.knowledge_only]
    knowledge = await answer_from_knowledge(given, NoPixels(), clock=VirtualClock())
    assert knowledge.answer.startswith(best)
