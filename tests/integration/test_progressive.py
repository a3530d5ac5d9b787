"""Progressive answers over a real session: provisional answers replaced in place by the deeper pass."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from eyeline.cloud.knowledge import demo_pack
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.ocr import OcrEngine
from eyeline.cloud.skills.base import Keyframe, SkillContext
from eyeline.cloud.skills.shelf.agents import AgentPool, contemplate
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer, OverlayArrival, TraceStep
from eyeline.edge.overlays import Overlay
from eyeline.edge.transport.wire import QueryOut
from eyeline.tools.bench_modes import SessionLines
from tests.integration.helpers import jpeg_frame

QUESTION = "which of these has the most protein?"


async def test_thinking_sends_provisional_answers_then_the_final_one_with_the_same_ids(connect) -> None:  # type: ignore[no-untyped-def]
    session = await connect()
    await session.uplink.push_frame(jpeg_frame(1))  # nothing to read: confidence stays low, every pass is spent
    await session.uplink.ask(QueryOut("q1", QUESTION, mode="thinking", frame_seq=1))
    answers: list[Answer] = []
    overlays: list[Overlay] = []
    steps: list[TraceStep] = []
    while not answers or not answers[-1].final:
        event = await session.next(object)
        if isinstance(event, Answer):
            answers.append(event)
        elif isinstance(event, OverlayArrival):
            overlays.append(event.overlay)
        elif isinstance(event, TraceStep):
            steps.append(event)
    assert [a.final for a in answers] == [False, False, True]
    assert [o.final for o in overlays] == [False, False, True]
    assert {o.overlay_id for o in overlays} == {"answer-q1"} and {a.query_id for a in answers} == {"q1"}
    assert {a.overlay_id for a in answers} == {"answer-q1"}   # each pass's answer names the overlay it replaces
    assert [s.index for s in steps] == list(range(len(steps)))
    planner = [s.text for s in steps if s.agent == "planner"]
    assert any("confirmed" in text for text in planner) and "stopped after 3 passes" in planner[-1]


@pytest.mark.slow
async def test_contemplating_sub_agents_run_in_processes_and_agree_on_the_true_best() -> None:
    scene = make_shelf_scene(3)
    image, truth = render_shelf_frame(scene, 0.0, 640, 360)
    earlier, _ = render_shelf_frame(scene, 0.3, 640, 360)
    pool = AgentPool(2)
    try:
        image = np.ascontiguousarray(image)
        lines = await asyncio.to_thread(OcrEngine().read, image)   # what the earlier passes read
        ctx = SkillContext(question=QUESTION, mode=Mode.CONTEMPLATING, image=image,
                           frame_seq=5, ocr=SessionLines(image, lines), recent=(Keyframe(4, earlier),))
        result = await contemplate(ctx, demo_pack().products, pool.executor)
    finally:
        pool.close()
    assert result.answer.lower().startswith(truth.best_product().display_name.lower())
    assert "4 of 4 agents agreed" in result.answer
    agents = {step.agent for step in result.steps}
    assert {"frame", "scale-1.5x", "views-5+4", "knowledge", "orchestrator"} <= agents
    assert "the catalog agrees with the panels" in result.steps[-1].text
    assert all(step.cost_us >= 0 for step in result.steps) and result.steps[-1].evidence


