"""Model-backed skills under the planner: who answers in which mode, interim answers, and the embedded answer
with a notice when the model fails (a scripted endpoint in place of the HTTP one: this is the logic alone)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from eyeline.cloud.model import Mode, NoticeItem, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model import ModelReasoner
from eyeline.cloud.reasoning.model_client import ModelUnavailableError
from eyeline.cloud.reasoning.model_parse import ModelReply, parse_completion
from eyeline.cloud.reasoning.model_skill import ModelBackedSkill, model_backed
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.skills.base import Pass, SkillContext, SkillRouter
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.protos.clock import VirtualClock
from eyeline.protos.privacy import CenterFaceDetector
from tests.model_helpers import completion

MODEL_ANSWER = {"answer": "the model's answer", "steps": [{"kind": "compare", "text": "looked", "regions": []}],
                "overlay": []}


class Endpoint:
    def __init__(self, fail: bool = False, error: Exception | None = None) -> None:
        self.fail = fail
        self.error = error
        self.calls: list[int] = []
        self.models: list[str] = []

    async def complete(self, messages: Sequence[dict[str, Any]], *, max_tokens: int, deadline_ns: int,
                       response_format: Any = None, model: str = "") -> ModelReply:
        self.calls.append(max_tokens)
        self.models.append(model)
        if self.error is not None:
            raise self.error
        if self.fail:
            raise ModelUnavailableError("cannot reach the model endpoint")
        return parse_completion(completion(json.dumps(MODEL_ANSWER)))

    async def aclose(self) -> None:
        pass


class Embedded:
    name = "shelf"
    examples = ("which has the most protein?",)

    def __init__(self, confidence: float) -> None:
        self.confidence = confidence
        self.asked = 0

    def matches(self, question: str) -> bool:
        return "protein" in question

    async def answer(self, ctx: SkillContext) -> SkillResult:
        self.asked += 1
        return SkillResult("the embedded answer", steps=(TraceStep(StepKind.ANSWER, "embedded"),),
                           confidence=self.confidence)

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()


class NoText:
    async def read(self, image: Any) -> tuple[TextLine, ...]:
        return ()


def _ctx(mode: Mode, question: str = "which has the most protein?") -> SkillContext:
    return SkillContext(question=question, mode=mode, image=np.zeros((48, 64, 3), np.uint8), frame_seq=1,
                        ocr=NoText(), clock=VirtualClock())


def _skill(endpoint: Endpoint, embedded: Embedded | None) -> ModelBackedSkill:
    reasoner = ModelReasoner(ModelConfig(base_url="http://model/v1", model="vl"), VirtualClock(), endpoint=endpoint)  # type: ignore[arg-type]
    return ModelBackedSkill(reasoner, embedded)


async def _answers(skill: ModelBackedSkill, mode: Mode, question: str = "which has the most protein?") -> list[
        SkillResult]:
    return [result async for result in Planner().answers(skill, _ctx(mode, question))]


async def test_instant_keeps_a_confident_embedded_answer_without_asking_the_model() -> None:
    endpoint = Endpoint()
    [result] = await _answers(_skill(endpoint, Embedded(0.95)), Mode.INSTANT)
    assert result.answer == "the embedded answer" and result.final and endpoint.calls == []
    assert any("not asked" in step.text for step in result.steps)


async def test_instant_asks_the_model_once_with_a_small_budget_when_the_embedded_answer_is_unsure() -> None:
    endpoint = Endpoint()
    [result] = await _answers(_skill(endpoint, Embedded(0.4)), Mode.INSTANT)
    assert result.answer == "the model's answer" and endpoint.calls == [384]


@pytest.mark.parametrize(("mode", "calls", "interims"), [
    (Mode.THINKING, [1536], ["the embedded answer"]),
    (Mode.CONTEMPLATING, [1536, 1536, 1024], ["the embedded answer", "the model's answer"]),   # + a sub-agent's
])
async def test_deeper_modes_show_the_embedded_answer_first_then_the_model_has_the_last_word(
        mode: Mode, calls: list[int], interims: list[str]) -> None:
    endpoint = Endpoint()
    *interim, final = await _answers(_skill(endpoint, Embedded(0.99)), mode)
    assert [(r.answer, r.final) for r in interim] == [(answer, False) for answer in interims]
    assert (final.answer, final.final) == ("the model's answer", True)
    assert endpoint.calls == calls       # Contemplating: full frame and crop in parallel, then the synthesis
    assert any(step.agent == "model:vl" for step in final.steps)
    steps = [step for result in (*interim, final) for step in result.steps]
    assert len(steps) == len(set(map(id, steps))) and steps[-1].kind is StepKind.ANSWER
    assert sum("calls, tokens" in step.text or "call, tokens" in step.text for step in steps) == 1


@pytest.mark.parametrize("mode", list(Mode))
async def test_a_failing_model_leaves_the_embedded_answer_with_a_notice(mode: Mode) -> None:
    embedded = Embedded(0.4)
    results = await _answers(_skill(Endpoint(fail=True), embedded), mode)
    assert embedded.asked == 1          # asked once per question, however many passes need its answer
    final = results[-1]
    assert final.final and final.answer == "the embedded answer"
    assert any(isinstance(item, NoticeItem) and "did not answer" in item.text for item in final.items)


async def test_the_synthesis_may_run_on_another_model() -> None:
    endpoint = Endpoint()
    config = ModelConfig(base_url="http://model/v1", model="vl", synthesis_model="vl-large")
    reasoner = ModelReasoner(config, VirtualClock(), endpoint=endpoint)  # type: ignore[arg-type]
    await reasoner.answer(_ctx(Mode.CONTEMPLATING), Mode.CONTEMPLATING)
    assert endpoint.models == ["", "", "vl-large"]       # "": the configured model


async def test_even_an_unexpected_failure_of_the_reasoner_leaves_an_answer() -> None:
    [result] = await _answers(_skill(Endpoint(error=KeyError("choices")), Embedded(0.4)), Mode.INSTANT)
    assert result.answer == "the embedded answer"
    assert any(isinstance(item, NoticeItem) and "KeyError" not in item.text and "choices" in item.text
               for item in result.items)


async def test_an_open_question_without_a_model_answer_says_so_and_reads_what_it_can() -> None:
    [result] = await _answers(_skill(Endpoint(fail=True), None), Mode.INSTANT, "what is this used for?")
    assert "without the model" in result.answer


async def test_an_open_question_falls_back_to_what_is_in_view_and_what_can_be_asked() -> None:
    in_view = Embedded(0.5)
    config = ModelConfig(base_url="http://model/v1", model="vl")
    reasoner = ModelReasoner(config, VirtualClock(), endpoint=Endpoint(fail=True))  # type: ignore[arg-type]
    catch_all = model_backed([], reasoner, open_fallback=in_view)[-1]
    [result] = [r async for r in Planner().answers(catch_all, _ctx(Mode.INSTANT, "what is this used for?"))]
    assert result.answer == "the embedded answer" and in_view.asked == 1
    assert any(isinstance(item, NoticeItem) for item in result.items)
    interim, final = [r async for r in Planner().answers(catch_all, _ctx(Mode.THINKING, "what is this used for?"))]
    assert interim.answer.startswith("Asking the model; meanwhile: the embedded answer") and not interim.final
    assert final.answer == "the embedded answer" and final.final


def test_guardrails_stay_first_and_the_catch_all_comes_last() -> None:
    reasoner = ModelReasoner(ModelConfig(base_url="http://model/v1", model="vl"), VirtualClock(), endpoint=Endpoint())  # type: ignore[arg-type]
    router = SkillRouter(model_backed([GuardrailSkill(), ReadTextSkill()], reasoner))
    assert router.names() == ["guardrail", "read", "model"]
    assert router.route("how many pills should I take?").name == "guardrail"
    assert router.route("read this").name == "read"
    assert router.route("what is this and what is it used for?").name == "model"


@pytest.mark.parametrize("mode", [Mode.THINKING, Mode.CONTEMPLATING])
async def test_the_model_never_sees_a_face_even_from_an_edge_that_did_not_redact(mode: Mode) -> None:
    from tests.integration.faces import bystander_frame, decoded, surviving_faces

    class Seeing(Endpoint):
        def __init__(self) -> None:
            super().__init__()
            self.images: list[bytes] = []

        async def complete(self, messages: Sequence[dict[str, Any]], **kwargs: Any) -> ModelReply:
            for message in messages:
                for part in message["content"] if isinstance(message["content"], list) else ():
                    if part.get("type") == "image_url":
                        self.images.append(base64.b64decode(part["image_url"]["url"].split(",", 1)[1]))
            return await super().complete(messages, **kwargs)

    frame, faces = bystander_frame()
    endpoint = Seeing()
    ctx = SkillContext(question="what is this?", mode=mode, image=frame, frame_seq=1, ocr=NoText(),
                       clock=VirtualClock())
    [result async for result in Planner().answers(_skill(endpoint, None), ctx)]
    assert endpoint.images, "the model was asked with the frame"
    seen = [decoded(data) for data in endpoint.images]
    assert all(CenterFaceDetector().detect(image) == () for image in seen)
    full_frames = [image for image in seen if image.shape[1] * frame.shape[0] == image.shape[0] * frame.shape[1]]
    assert full_frames and all(surviving_faces(frame, image, faces) == [] for image in full_frames)


async def test_with_a_model_the_cloud_still_names_products_and_says_what_it_can_do() -> None:
    from eyeline.cloud.app import Cloud, CloudConfig
    from eyeline.cloud.ingress.auth import TokenSigner

    config = CloudConfig(model=ModelConfig(base_url="http://model/v1", model="vl"), warm_up=False, agent_workers=0)
    cloud = Cloud(config, TokenSigner(b"a test secret of thirty-two bytes"))
    try:
        assert cloud.router.route("what is this?").name == "identity"
        assert cloud.router.route("what is this and what is it used for?").name == "model"
        assert cloud.router.names()[-1] == "model"
    finally:
        await cloud.close()
