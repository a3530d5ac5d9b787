"""What the model reasoner may spend, per mode, and how it reaches its endpoint.

Modes are budgets: Instant is one small call with no reasoning; Thinking one call that reasons step by step
with a larger token budget; Contemplating at least two sub-agents in parallel, each given a different view of
the scene (the full frame, a crop of its text, an earlier keyframe), then a synthesis call that reconciles
them. Each mode has a deadline: past it the wearer gets the embedded engine's answer with a notice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Mode

KEY_ENV = "EYELINE_MODEL_KEY"
# The openai client insists on a key; servers that need none (vLLM, Ollama, llama.cpp) ignore it.
_NO_KEY = "none"


class ModelConfigError(CloudError):
    """The model endpoint is configured in a way the reasoner cannot use."""


class View:
    """The views a Contemplating sub-agent may be given."""

    FULL = "full"          # the whole keyframe
    CROP = "crop"          # the region holding the text OCR found (or the centre), enlarged
    EARLIER = "earlier"    # the keyframe before this one, when the session has one


@dataclass(frozen=True, slots=True)
class ModeBudget:
    max_tokens: int                    # completion tokens per call
    deadline_s: float                  # the whole answer, every call and retry included
    reasoning: bool                    # ask for step-by-step reasoning before the answer
    views: tuple[str, ...] = ()        # Contemplating: one sub-agent per view, in parallel
    synthesis_tokens: int = 0          # Contemplating: the reconciling call's budget


def default_budgets() -> dict[Mode, ModeBudget]:
    return {
        Mode.INSTANT: ModeBudget(max_tokens=384, deadline_s=8.0, reasoning=False),
        Mode.THINKING: ModeBudget(max_tokens=1536, deadline_s=30.0, reasoning=True),
        Mode.CONTEMPLATING: ModeBudget(max_tokens=1536, deadline_s=60.0, reasoning=True,
                                       views=(View.FULL, View.CROP, View.EARLIER), synthesis_tokens=1024),
    }


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """An OpenAI-compatible chat-completions endpoint and how the reasoner treats it."""

    base_url: str                      # e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:11434/v1 (Ollama)
    model: str
    api_key: str = field(default=_NO_KEY, repr=False)
    budgets: dict[Mode, ModeBudget] = field(default_factory=default_budgets)
    max_concurrent: int = 4            # calls in flight to this endpoint at once
    retries: int = 2                   # extra tries after a 429 or a 5xx
    backoff_s: float = 0.25            # first wait before a retry; doubles each time
    breaker_failures: int = 3          # failures in a row that open the circuit
    breaker_cooldown_s: float = 30.0   # an open circuit sends nothing for this long, then tries once
    jpeg_quality: int = 85
    max_image_side: int = 1280         # the keyframe is scaled down to this before it is sent
    synthesis_model: str = ""          # Contemplating's synthesis on another model of the endpoint ("" = model)

    def __post_init__(self) -> None:
        if not re.match(r"^https?://", self.base_url):
            raise ModelConfigError(f"the model URL must start with http:// or https://, got {self.base_url!r}")
        if not self.model.strip():
            raise ModelConfigError("name the model to ask (--model NAME)")
        if self.max_concurrent < 1:
            raise ModelConfigError(f"max_concurrent must be at least 1, got {self.max_concurrent}")
        for mode, budget in self.budgets.items():
            if budget.max_tokens < 1 or budget.deadline_s <= 0:
                raise ModelConfigError(f"the {mode.value} budget needs positive tokens and deadline: {budget}")
        contemplating = self.budgets.get(Mode.CONTEMPLATING)
        if contemplating is not None and len(contemplating.views) < 2:
            raise ModelConfigError("Contemplating needs at least two sub-agent views")


def model_config(url: str, model: str, key_file: Path | None = None, *, budgets: Sequence[str] = (),
                 synthesis_model: str = "", environ: dict[str, str] | None = None) -> ModelConfig:
    """The endpoint from command-line values: the key from ``key_file``, else ``$EYELINE_MODEL_KEY``, else none;
    ``budgets`` as ``parse_budget`` reads them, each replacing its mode's default."""
    env = os.environ if environ is None else environ
    key = env.get(KEY_ENV, "") or _NO_KEY
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip() or _NO_KEY
        except OSError as exc:
            raise ModelConfigError(f"cannot read the model key file {key_file}: {exc.strerror}") from exc
    chosen = default_budgets()
    for spec in budgets:
        mode, budget = parse_budget(spec, chosen)
        chosen[mode] = budget
    return ModelConfig(base_url=url.rstrip("/"), model=model, api_key=key, budgets=chosen,
                       synthesis_model=synthesis_model)


def parse_budget(spec: str, current: dict[Mode, ModeBudget]) -> tuple[Mode, ModeBudget]:
    """``MODE=MAX_TOKENS[,DEADLINE_S]`` (e.g. ``thinking=2048,45``): that mode's budget, the rest as it was."""
    name, _, values = spec.partition("=")
    parts = values.split(",")
    try:
        mode = Mode(name.strip().lower())
        tokens = int(parts[0])
        deadline = float(parts[1]) if len(parts) > 1 else current[mode].deadline_s
    except (ValueError, IndexError) as exc:
        raise ModelConfigError(f"a model budget is MODE=MAX_TOKENS[,DEADLINE_S] with MODE one of instant, "
                               f"thinking, contemplating; got {spec!r}") from exc
    if tokens < 1 or not deadline > 0 or len(parts) > 2:
        raise ModelConfigError(f"a model budget needs positive tokens and deadline; got {spec!r}")
    budget = replace(current[mode], max_tokens=tokens, deadline_s=deadline)
    if mode is Mode.CONTEMPLATING:
        budget = replace(budget, synthesis_tokens=min(budget.synthesis_tokens, tokens) or tokens)
    return mode, budget


# ------------------------------------------------------------------ token use


@dataclass(frozen=True, slots=True)
class TokenUse:
    prompt: int = 0
    completion: int = 0
    reasoning: int = 0
    calls: int = 0

    def __add__(self, other: TokenUse) -> TokenUse:
        return TokenUse(self.prompt + other.prompt, self.completion + other.completion,
                        self.reasoning + other.reasoning, self.calls + other.calls)

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def describe(self, model: str) -> str:
        """The trace text of an answer's token use; ``parse_token_use`` reads it back (``eyeline eval``)."""
        return (f"model {model}: {self.calls} call{'s' if self.calls != 1 else ''}, tokens prompt={self.prompt} "
                f"completion={self.completion} reasoning={self.reasoning}")


_TOKENS = re.compile(r"(\d+) calls?, tokens prompt=(\d+) completion=(\d+) reasoning=(\d+)")


def parse_token_use(text: str) -> TokenUse | None:
    """The token use a usage trace step states, or None for any other step."""
    match = _TOKENS.search(text)
    if match is None:
        return None
    calls, prompt, completion, reasoning = (int(group) for group in match.groups())
    return TokenUse(prompt, completion, reasoning, calls)
