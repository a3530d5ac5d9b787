"""Eyeline's cloud as an OpenAI-compatible vision model: the official ``openai`` client against the real HTTP
port, the embedded engine answering a real photo; and the model reasoner using that server as its model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import openai
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.model import Mode, StepKind
from eyeline.cloud.reasoning.budgets import ModelConfig, parse_token_use
from eyeline.cloud.reasoning.model import ModelReasoner
from eyeline.cloud.reasoning.model_prompt import jpeg_data_url, response_format
from eyeline.cloud.skills.base import SkillContext
from eyeline.protos.clock import MonotonicClock

LABEL = "nutrition_labels/off_4903015130266_2.jpg"     # protein 3.1 g per serving (the manifest's truth)
QUESTION = "which of these has the most protein?"

pytestmark = pytest.mark.slow


def _photo(shared_data: Path) -> np.ndarray:
    image = cv2.imread(str(shared_data / LABEL))
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def _ask(question: str, url: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"type": "text", "text": question},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


async def test_any_openai_client_can_ask_the_embedded_engine_about_a_photo(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner, shared_data: Path) -> None:
    client = openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key=signer.mint("client"), max_retries=0)
    try:
        models = await client.models.list()
        assert {m.id for m in models.data} >= {"eyeline-instant", "eyeline-thinking", "eyeline-contemplating"}
        url = jpeg_data_url(_photo(shared_data))
        plain = await client.chat.completions.create(model="eyeline-instant", messages=_ask(QUESTION, url))  # type: ignore[arg-type]
        assert "3.1 g" in (plain.choices[0].message.content or "")
        assert plain.usage is not None and plain.usage.prompt_tokens > 85 and plain.usage.completion_tokens > 0

        structured = await client.chat.completions.create(
            model="eyeline-instant", messages=_ask(QUESTION, url), response_format=response_format())  # type: ignore[arg-type]
        document = json.loads(structured.choices[0].message.content or "")
        assert "3.1 g" in document["answer"]
        assert any(step["regions"] for step in document["steps"])
        assert all(0 <= v <= 1 for step in document["steps"] for box in step["regions"] for v in box)
    finally:
        await client.close()


async def test_the_v1_routes_check_the_token_and_the_request(cloud: CloudServer, http: HttpServer,
                                                             signer: TokenSigner) -> None:
    stranger = openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="not-a-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await stranger.models.list()
    await stranger.close()
    client = openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key=signer.mint("client"), max_retries=0)
    tiny = jpeg_data_url(np.full((64, 64, 3), 200, np.uint8))
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="gpt-9", messages=_ask(QUESTION, tiny))  # type: ignore[arg-type]
    for bad in ("https://example.com/a.jpg", "data:image/jpeg;base64,@@@", "data:text/plain;base64,aGk="):
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="eyeline", messages=_ask(QUESTION, bad))  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="needs an image"):
        await client.chat.completions.create(model="eyeline", messages=[{"role": "user", "content": QUESTION}])
    huge = "data:image/jpeg;base64," + "A" * (cloud.config.frame_limits.max_bytes * 4 // 3 + 300 * 1024)
    with pytest.raises(openai.APIStatusError, match="larger than one frame") as raised:
        await client.chat.completions.create(model="eyeline", messages=_ask(QUESTION, huge))  # type: ignore[arg-type]
    assert raised.value.status_code == 413
    await client.close()


async def test_the_model_reasoner_against_the_real_v1_server_grounds_its_answer(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner, shared_data: Path) -> None:
    config = ModelConfig(base_url=f"{http.url}/v1", model="eyeline-instant", api_key=signer.mint("reasoner"))
    reasoner = ModelReasoner(config, MonotonicClock())
    ctx = SkillContext(question=QUESTION, mode=Mode.THINKING, image=_photo(shared_data), frame_seq=1,
                       ocr=cloud.cloud.ocr)
    try:
        result = await reasoner.answer(ctx, Mode.THINKING)
    finally:
        await reasoner.aclose()
    assert "3.1 g" in result.answer
    model_steps = [s for s in result.steps if s.agent == "model:eyeline-instant"]
    assert any(s.evidence for s in model_steps if s.kind is not StepKind.PERCEIVE)
    uses = [u for s in result.steps if (u := parse_token_use(s.text)) is not None]
    assert len(uses) == 1 and uses[0].calls == 1 and uses[0].prompt > 0
    assert result.steps[-1].kind is StepKind.ANSWER
