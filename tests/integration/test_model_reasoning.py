"""The model reasoner end to end: an edge streams a real photo over gRPC to a cloud configured with
``--model-url``; the "model" is a scripted OpenAI-compatible server on loopback that answers from the evidence
the reasoner sends (no vision model ships in a package). Contemplating's parallelism is timed against a server
that delays every call; a dead and a garbage endpoint still leave the wearer with an answer."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.model import Image, Mode, StepKind
from eyeline.cloud.perception.ocr import AsyncTextReader, TextLine
from eyeline.cloud.reasoning.budgets import ModelConfig, parse_token_use
from eyeline.cloud.reasoning.model import ModelReasoner
from eyeline.cloud.skills.base import Keyframe, SkillContext
from eyeline.cloud.skills.scope import ScopeSkill
from eyeline.protos.clock import MonotonicClock
from eyeline.tools.ask import run_ask
from tests.model_helpers import ScriptedModel, completion, evidence_lines, grounded_reply, question_of

PHOTO = "package_fronts/off_8414192311936_15.40.jpg"      # a tub of peanut butter on a table
OPEN_QUESTION = "what is this and what is it used for?"

pytestmark = pytest.mark.slow


def _model(url: str) -> ModelConfig:
    return ModelConfig(base_url=url, model="scripted-vl", backoff_s=0.01)


async def test_an_open_question_about_a_real_photo_is_answered_by_the_model_with_grounded_steps(
        cloud: CloudServer, shared_data: Path) -> None:
    # No embedded skill answers it: only the catch-all that says what is in view and what can be asked takes it.
    assert isinstance(cloud.cloud.embedded_router.route(OPEN_QUESTION), ScopeSkill)
    async with ScriptedModel(grounded_reply) as model:
        result = await run_ask(image=shared_data / PHOTO, question=OPEN_QUESTION, mode="thinking",
                               model=_model(model.url), timeout_s=120)
    assert len(model.requests) == 1
    request = model.requests[0]
    assert question_of(request) == OPEN_QUESTION and request["model"] == "scripted-vl"
    assert request["response_format"]["type"] == "json_schema"
    image_url = request["messages"][1]["content"][1]["image_url"]["url"]
    assert image_url.startswith("data:image/jpeg;base64,")
    sent = cv2.imdecode(np.frombuffer(base64.b64decode(image_url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert sent is not None and sent.shape[:2] == (400, 300)      # the keyframe the edge sent, as it was
    lines = evidence_lines(request)
    assert lines, "the OCR lines reach the model as evidence"
    surest = max(lines, key=lambda line: line[1])[0]

    assert result.answer.final and surest in result.answer.text and "eaten" in result.answer.text
    model_steps = [s for s in result.steps if s.agent == "model:scripted-vl"]
    read = [s for s in model_steps if s.kind == "read" and surest in s.text]
    assert read and read[0].evidence, "the read step carries the OCR line's region"
    assert any(parse_token_use(s.text) is not None for s in result.steps)
    assert result.interim and "Asking the model" in result.interim[0].text   # the embedded interim, replaced
    assert result.overlay is not None and any(item.id == "label" for item in result.overlay.items)


@pytest.mark.parametrize("kind", ["dead", "garbage", "slow"])
async def test_a_dead_garbage_or_slow_endpoint_still_gives_an_answer_with_a_notice(
        kind: str, shared_data: Path) -> None:
    async with ScriptedModel(lambda request: completion("   "), delay_s=30.0 if kind == "slow" else 0.0) as model:
        url = "http://127.0.0.1:9/v1" if kind == "dead" else model.url
        config = _model(url)
        if kind == "slow":
            budgets = dict(config.budgets)
            budgets[Mode.INSTANT] = type(budgets[Mode.INSTANT])(max_tokens=64, deadline_s=1.0, reasoning=False)
            config = ModelConfig(base_url=url, model="scripted-vl", budgets=budgets)
        started = time.perf_counter()
        result = await run_ask(image=shared_data / PHOTO, question=OPEN_QUESTION, mode="instant", model=config,
                               timeout_s=60)
    # The embedded engine's best: what it reads in view and what it can be asked, with a notice.
    assert result.answer.final and "In view I can read" in result.answer.text
    assert "I can answer questions like" in result.answer.text
    assert any("did not answer" in s.text for s in result.steps)
    assert result.overlay is not None and any(item.id == "model-notice" for item in result.overlay.items)
    assert time.perf_counter() - started < 25.0


class _ReadOnce:
    """The real OCR pool, read once per image: the timing below measures the model calls alone."""

    def __init__(self, reader: AsyncTextReader) -> None:
        self._reader = reader
        self._seen: dict[int, tuple[TextLine, ...]] = {}

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        key = id(image_bgr)
        if key not in self._seen:
            self._seen[key] = await self._reader.read(image_bgr)
        return self._seen[key]


async def test_contemplating_runs_sub_agents_in_parallel_then_a_synthesis_faster_than_one_after_another(
        cloud: CloudServer, shared_data: Path) -> None:
    delay_s = 0.6

    def script(request: dict[str, Any]) -> dict[str, Any]:
        return grounded_reply(request, agreed=True) if "Sub-agents' answers" in json.dumps(request) \
            else grounded_reply(request)

    image = np.asarray(cv2.imread(str(shared_data / PHOTO)), dtype=np.uint8)
    earlier = np.ascontiguousarray(image[:, ::-1])
    reader = _ReadOnce(cloud.cloud.ocr)
    await reader.read(image)
    ctx = SkillContext(question=OPEN_QUESTION, mode=Mode.CONTEMPLATING, image=image, frame_seq=2, ocr=reader,
                       recent=(Keyframe(1, earlier),))
    async with ScriptedModel(script, delay_s=delay_s) as model:
        reasoner = ModelReasoner(_model(model.url), MonotonicClock())
        started = time.perf_counter()
        result = await reasoner.answer(ctx, Mode.CONTEMPLATING)
        elapsed = time.perf_counter() - started
        await reasoner.aclose()
    calls = len(model.requests)
    assert calls == 4                                    # full frame, close crop, earlier view, synthesis
    sub_agents, synthesis = model.started[:3], model.started[3]
    assert max(sub_agents) - min(sub_agents) < delay_s / 2, "the sub-agents were asked together"
    assert synthesis - max(sub_agents) >= delay_s * 0.9, "the synthesis waited for them"
    assert elapsed < calls * delay_s * 0.8, f"{elapsed:.2f} s is not faster than {calls} calls in a row"
    synthesis_text = json.dumps(model.requests[3])
    assert synthesis_text.count("sub-agent on") == 3
    assert any("sub-agents agreed" in s.text for s in result.steps)
    agents = {s.agent for s in result.steps}
    assert {"model:scripted-vl/full", "model:scripted-vl/crop", "model:scripted-vl/earlier",
            "model:scripted-vl/synthesis"} <= agents
    crop_steps = [s for s in result.steps if s.agent == "model:scripted-vl/crop" and s.evidence]
    assert crop_steps and all(0.0 <= v <= 1.0 for s in crop_steps for b in s.evidence
                              for v in (b.x0, b.y0, b.x1, b.y1))
    earlier_steps = [s for s in result.steps if s.agent == "model:scripted-vl/earlier"]
    assert earlier_steps and not any(s.evidence for s in earlier_steps)
    use = next(u for s in result.steps if (u := parse_token_use(s.text)) is not None)
    assert use.calls == 4 and use.prompt == 4 * 900 and use.completion == 4 * 120
    assert result.steps[-1].kind is StepKind.ANSWER


async def test_contemplating_with_one_sub_agent_failing_still_synthesizes(cloud: CloudServer,
                                                                         shared_data: Path) -> None:
    def script(request: dict[str, Any]) -> Any:
        if "close-up" in json.dumps(request["messages"][0]):
            return 500, '{"error": {"message": "crashed"}}'
        return grounded_reply(request)

    image = np.asarray(cv2.imread(str(shared_data / PHOTO)), dtype=np.uint8)
    ctx = SkillContext(question=OPEN_QUESTION, mode=Mode.CONTEMPLATING, image=image, frame_seq=1,
                       ocr=cloud.cloud.ocr)
    async with ScriptedModel(script) as model:
        config = ModelConfig(base_url=model.url, model="scripted-vl", retries=0, breaker_failures=10)
        reasoner = ModelReasoner(config, MonotonicClock())
        result = await asyncio.wait_for(reasoner.answer(ctx, Mode.CONTEMPLATING), 60)
        await reasoner.aclose()
    assert any("2 sub-agents asked in parallel (full, crop); 1 answered" in s.text for s in result.steps)
    assert "eaten" in result.answer


async def test_contemplating_keeps_a_sub_agents_answer_when_the_synthesis_fails(cloud: CloudServer,
                                                                               shared_data: Path) -> None:
    def script(request: dict[str, Any]) -> Any:
        if "Sub-agents' answers" in json.dumps(request):
            return completion("")                         # garbage from the synthesis call
        return grounded_reply(request)

    image = np.asarray(cv2.imread(str(shared_data / PHOTO)), dtype=np.uint8)
    ctx = SkillContext(question=OPEN_QUESTION, mode=Mode.CONTEMPLATING, image=image, frame_seq=1,
                       ocr=cloud.cloud.ocr)
    async with ScriptedModel(script) as model:
        reasoner = ModelReasoner(_model(model.url), MonotonicClock())
        answers = [result async for result in reasoner.answers(ctx, Mode.CONTEMPLATING)]
        await reasoner.aclose()
    assert [result.final for result in answers] == [False, True]
    assert "eaten" in answers[-1].answer
    assert any("the synthesis failed" in s.text and "full sub-agent's answer stands" in s.text
               for s in answers[-1].steps)


async def test_eyeline_ask_with_model_flags_prints_the_models_grounded_answer(
        shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from eyeline.tools.cli import main

    key = tmp_path / "key"
    key.write_text("sk-test-key\n")
    monkeypatch.delenv("EYELINE_MODEL_KEY", raising=False)
    async with ScriptedModel(grounded_reply) as model:
        code = await asyncio.to_thread(main, ["ask", "--image", str(shared_data / PHOTO), "--question",
                                              OPEN_QUESTION, "--mode", "thinking", "--json", "--model-url",
                                              model.url, "--model", "scripted-vl", "--model-key-file", str(key)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert "eaten" in printed["answer"]["text"] and printed["interim_answers"]
    assert any(step["agent"] == "model:scripted-vl" and step["evidence"] for step in printed["trace"])
    assert model.requests and model.headers[0].get("Authorization") == "Bearer sk-test-key"
