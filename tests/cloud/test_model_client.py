"""One endpoint, called robustly: retries with backoff, the schema fallback, the concurrency limit, deadlines
and the circuit breaker, against a scripted OpenAI-compatible server on loopback through the real client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model_client import BreakerState, CircuitBreaker, ModelEndpoint, ModelUnavailableError
from eyeline.cloud.reasoning.model_parse import GarbageReplyError, ModelError
from eyeline.protos.clock import MonotonicClock, VirtualClock
from tests.model_helpers import Reply, ScriptedModel, completion

ANSWER = completion(json.dumps({"answer": "a mug", "steps": [], "overlay": []}))
MESSAGES = [{"role": "user", "content": "what is this?"}]


def _endpoint(url: str, **overrides: Any) -> ModelEndpoint:
    config = ModelConfig(base_url=url, model="scripted-vl", **({"backoff_s": 0.01} | overrides))
    return ModelEndpoint(config, MonotonicClock())


def _in(seconds: float) -> int:
    return MonotonicClock().now_ns() + int(seconds * 1e9)


def _sequence(*replies: Reply) -> Any:
    queue = list(replies)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_429_and_5xx_are_retried_with_backoff(status: int) -> None:
    async with ScriptedModel(_sequence((status, '{"error": {"message": "busy"}}'), ANSWER)) as model:
        endpoint = _endpoint(model.url)
        reply = await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
        await endpoint.aclose()
    assert reply.answer == "a mug" and len(model.requests) == 2
    assert model.started[1] - model.started[0] >= 0.01


async def test_retries_end_with_an_unavailable_error() -> None:
    async with ScriptedModel(lambda request: (503, '{"error": {"message": "down"}}')) as model:
        endpoint = _endpoint(model.url, retries=2)
        with pytest.raises(ModelUnavailableError, match="after 3 tries"):
            await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
        await endpoint.aclose()
    assert len(model.requests) == 3


async def test_a_server_without_json_schema_support_is_asked_again_without_it_and_never_again_with_it() -> None:
    def script(request: dict[str, Any]) -> Reply:
        if "response_format" in request:
            return 400, '{"error": {"message": "response_format json_schema is not supported"}}'
        return ANSWER

    async with ScriptedModel(script) as model:
        endpoint = _endpoint(model.url)
        fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
        assert (await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10), response_format=fmt)).answer
        assert (await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10), response_format=fmt)).answer
        await endpoint.aclose()
    assert ["response_format" in r for r in model.requests] == [True, False, False]


async def test_garbage_and_non_json_bodies_are_errors() -> None:
    async with ScriptedModel(_sequence(completion(""), (200, "<html>oops</html>"))) as model:
        endpoint = _endpoint(model.url)
        with pytest.raises(GarbageReplyError):
            await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
        with pytest.raises(ModelError):
            await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
        await endpoint.aclose()


async def test_a_slow_model_is_cut_off_at_the_deadline() -> None:
    async with ScriptedModel(lambda request: ANSWER, delay_s=2.0) as model:
        endpoint = _endpoint(model.url)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ModelUnavailableError, match="deadline"):
            await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(0.3))
        assert asyncio.get_running_loop().time() - started < 1.5
        await endpoint.aclose()


async def test_no_more_than_max_concurrent_calls_are_in_flight() -> None:
    async with ScriptedModel(lambda request: ANSWER, delay_s=0.1) as model:
        endpoint = _endpoint(model.url, max_concurrent=2)
        await asyncio.gather(*(endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10)) for _ in range(5)))
        await endpoint.aclose()
    assert model.most_in_flight == 2 and len(model.requests) == 5


async def test_a_dead_endpoint_opens_the_breaker_and_is_not_asked_while_open() -> None:
    endpoint = _endpoint("http://127.0.0.1:9/v1", breaker_failures=2, breaker_cooldown_s=60.0)
    for _ in range(2):
        with pytest.raises(ModelUnavailableError, match="cannot reach"):
            await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
    assert endpoint.breaker.state is BreakerState.OPEN
    calls = endpoint.calls
    with pytest.raises(ModelUnavailableError, match="failed repeatedly"):
        await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
    assert endpoint.calls == calls
    await endpoint.aclose()


def test_the_breaker_lets_one_trial_through_after_its_cooldown() -> None:
    clock = VirtualClock()
    breaker = CircuitBreaker(failures=2, cooldown_s=5.0, clock=clock)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    clock._now_ns += int(5e9)
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allow() and not breaker.allow()
    breaker.failure()                                   # the trial failed: open again for a full cooldown
    assert breaker.state is BreakerState.OPEN
    clock._now_ns += int(5e9)
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


async def test_a_retry_waits_as_long_as_retry_after_asks_when_the_deadline_allows() -> None:
    async with ScriptedModel(_sequence((429, '{"error": {"message": "slow down"}}'), ANSWER)) as model:
        model.retry_after = "1"
        endpoint = _endpoint(model.url)
        reply = await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(10))
        await endpoint.aclose()
    assert reply.answer == "a mug" and model.started[1] - model.started[0] >= 0.95


async def test_a_retry_after_past_the_deadline_is_not_waited_for() -> None:
    async with ScriptedModel(lambda request: (429, '{"error": {"message": "slow down"}}')) as model:
        model.retry_after = "30"
        endpoint = _endpoint(model.url)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ModelUnavailableError, match="after 1 tries"):
            await endpoint.complete(MESSAGES, max_tokens=64, deadline_ns=_in(5))
        assert asyncio.get_running_loop().time() - started < 2.0
        await endpoint.aclose()
