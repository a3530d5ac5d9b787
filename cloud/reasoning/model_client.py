"""One OpenAI-compatible endpoint, called the way a wearer can afford.

Calls go through the official ``openai`` client (its own retries off: this module decides). A call waits for
a place among ``max_concurrent`` in flight to the endpoint; a 429 or a 5xx is retried with doubling waits while
the deadline allows; a server that rejects the JSON-schema response format is asked again without it (and is
never asked with it again). Failures in a row open a circuit breaker: while open, calls fail at once, so a
dead endpoint costs the wearer nothing; after the cooldown one call tries it again.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from typing import Any

import openai

from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model_parse import GarbageReplyError, ModelError, ModelReply, parse_completion
from eyeline.protos.clock import Clock

log = logging.getLogger(__name__)


class ModelUnavailableError(ModelError):
    """The endpoint cannot be asked now: its circuit is open, it is unreachable, or it is too slow."""


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failures`` failures in a row; after ``cooldown_s`` lets one trial call through."""

    def __init__(self, failures: int, cooldown_s: float, clock: Clock) -> None:
        self._limit, self._cooldown_ns, self._clock = max(1, failures), int(cooldown_s * 1e9), clock
        self._failures = 0
        self._opened_ns: int | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        if self._opened_ns is None:
            return BreakerState.CLOSED
        cooled = self._clock.now_ns() - self._opened_ns >= self._cooldown_ns
        return BreakerState.HALF_OPEN if cooled else BreakerState.OPEN

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self._failures, self._opened_ns, self._trial = 0, None, False

    def failure(self) -> None:
        self._failures += 1
        self._trial = False
        if self._failures >= self._limit or self._opened_ns is not None:
            self._opened_ns = self._clock.now_ns()


class ModelEndpoint:
    """Chat completions from one endpoint, under its concurrency limit, retries and circuit breaker."""

    def __init__(self, config: ModelConfig, clock: Clock, *, client: openai.AsyncOpenAI | None = None) -> None:
        self.config = config
        self._clock = clock
        self._client = client or openai.AsyncOpenAI(base_url=config.base_url, api_key=config.api_key, max_retries=0)
        self._slots = asyncio.Semaphore(config.max_concurrent)
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s, clock)
        self._schema_supported = True
        self.calls = 0                     # requests sent, retries included (for tests and metrics)

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(self, messages: Sequence[dict[str, Any]], *, max_tokens: int, deadline_ns: int,
                       response_format: dict[str, Any] | None = None, model: str = "") -> ModelReply:
        """The parsed reply of one completion, or ``ModelError`` (unavailable, too slow, garbage)."""
        if not self.breaker.allow():
            raise ModelUnavailableError(f"the model endpoint {self.config.base_url} failed repeatedly; not asked "
                                        f"again for {self.config.breaker_cooldown_s:g} s")
        try:
            reply = await self._within(deadline_ns, self._attempts(messages, max_tokens, deadline_ns,
                                                                   response_format, model or self.config.model))
        except ModelError:
            self.breaker.failure()
            raise
        self.breaker.success()
        return reply

    async def _within(self, deadline_ns: int, work: Any) -> ModelReply:
        remaining_s = (deadline_ns - self._clock.now_ns()) / 1e9
        if remaining_s <= 0:
            work.close()
            raise ModelUnavailableError("no time left in this mode's deadline to ask the model")
        try:
            reply: ModelReply = await asyncio.wait_for(work, remaining_s)
        except TimeoutError as exc:
            raise ModelUnavailableError(f"the model did not answer within the deadline ({remaining_s:.1f} s "
                                        "left when asked)") from exc
        return reply

    async def _attempts(self, messages: Sequence[dict[str, Any]], max_tokens: int, deadline_ns: int,
                        response_format: dict[str, Any] | None, model: str) -> ModelReply:
        async with self._slots:
            attempt = 0
            while True:
                try:
                    return await self._once(messages, max_tokens, response_format, model)
                except openai.BadRequestError as exc:
                    if response_format is None or not self._schema_supported:
                        raise ModelError(f"the model endpoint rejected the request: {_detail(exc)}") from exc
                    log.info("%s rejected the JSON-schema response format; asking without it", self.config.base_url)
                    self._schema_supported = False
                except (openai.RateLimitError, openai.InternalServerError) as exc:
                    wait_ns = int(max(self.config.backoff_s * 2 ** attempt, _retry_after_s(exc)) * 1e9)
                    if attempt >= self.config.retries or self._clock.now_ns() + wait_ns >= deadline_ns:
                        raise ModelUnavailableError(f"the model endpoint is overloaded or failing "
                                                    f"({exc.status_code}) after {attempt + 1} tries") from exc
                    attempt += 1
                    await self._clock.sleep_until(self._clock.now_ns() + wait_ns)
                except openai.APIStatusError as exc:
                    raise ModelError(f"the model endpoint answered {exc.status_code}: {_detail(exc)}") from exc
                except openai.APIConnectionError as exc:     # includes timeouts of the HTTP client itself
                    raise ModelUnavailableError(f"cannot reach the model endpoint {self.config.base_url}: "
                                                f"{exc}") from exc
                except (ValueError, openai.APIResponseValidationError) as exc:   # a body that is not a completion
                    raise GarbageReplyError(f"the model endpoint's reply is not a chat completion: {exc}") from exc

    async def _once(self, messages: Sequence[dict[str, Any]], max_tokens: int,
                    response_format: dict[str, Any] | None, model: str) -> ModelReply:
        self.calls += 1
        extra: dict[str, Any] = {}
        if response_format is not None and self._schema_supported:
            extra["response_format"] = response_format
        completion = await self._client.chat.completions.create(
            model=model, messages=list(messages),  # type: ignore[arg-type]
            max_tokens=max_tokens, temperature=0.0, **extra)
        raw = completion.model_dump() if hasattr(completion, "model_dump") else completion
        if not isinstance(raw, dict):
            raise GarbageReplyError("the model endpoint did not return a chat completion")
        return await asyncio.to_thread(parse_completion, raw)


def _retry_after_s(exc: openai.APIStatusError) -> float:
    """The wait a 429 or 503 asks for (``Retry-After`` in seconds), 0 when it names none."""
    try:
        return min(60.0, max(0.0, float(exc.response.headers.get("retry-after", "0"))))
    except ValueError:
        return 0.0


def _detail(exc: openai.APIStatusError) -> str:
    return str(exc.message)[:300]
