"""Reading a chat completion back, whatever the model did with the schema it was asked to follow.

A model may answer as asked (JSON in the content), wrap the JSON in a code fence, put it in the middle of
prose, offer a tool call whose arguments hold it, or ignore the schema and write prose: the prose becomes a
plain answer with no steps and no overlay. A reply with nothing usable in it (no choices, empty content, a
refusal) is garbage: ``GarbageReplyError``, so the wearer gets the embedded answer instead.

The parser works on the completion as a plain dict (``ChatCompletion.model_dump()``), so recorded replies
are tested exactly as they arrive.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eyeline.cloud.errors import CloudError
from eyeline.cloud.reasoning.budgets import TokenUse

MAX_ANSWER_CHARS = 2000
MAX_STEPS = 12
MAX_ITEMS = 24
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


class ModelError(CloudError):
    """The model did not give a usable answer: unreachable, too slow, refused, or garbage."""

    retryable = True


class GarbageReplyError(ModelError):
    """The model answered, but nothing in the reply is an answer."""


@dataclass(frozen=True, slots=True)
class ModelStep:
    kind: str
    text: str
    regions: tuple[object, ...] = ()     # as the model gave them; grounding checks each


@dataclass(frozen=True, slots=True)
class ModelReply:
    answer: str
    steps: tuple[ModelStep, ...] = ()
    overlay: tuple[Mapping[str, Any], ...] = ()
    agreed: bool | None = None           # a synthesis: whether the sub-agents agreed, by the model's word
    confidence: float | None = None
    form: str = "json"                   # json, fenced, embedded, tool_call, prose
    usage: TokenUse = field(default_factory=TokenUse)

    @property
    def structured(self) -> bool:
        return self.form != "prose"


def parse_completion(completion: Mapping[str, Any]) -> ModelReply:
    """The reply in ``completion`` (a chat completion as a dict); ``GarbageReplyError`` if it holds none."""
    usage = token_use(completion.get("usage"))
    choices = completion.get("choices")
    if not isinstance(choices, Sequence) or not choices or not isinstance(choices[0], Mapping):
        raise GarbageReplyError("the completion has no choices")
    message = choices[0].get("message")
    if not isinstance(message, Mapping):
        raise GarbageReplyError("the completion's first choice has no message")
    from_tool = _from_tool_calls(message.get("tool_calls"))
    if from_tool is not None:
        return _reply(from_tool, "tool_call", usage)
    content = _content_text(message.get("content"))
    if not content.strip():
        refusal = message.get("refusal")
        why = f"the model refused: {refusal}" if isinstance(refusal, str) and refusal else "the reply is empty"
        raise GarbageReplyError(why)
    document, form = _find_json(content)
    if document is not None:
        return _reply(document, form, usage)
    return ModelReply(answer=_plain(content), form="prose", usage=usage)


def token_use(usage: object) -> TokenUse:
    """Prompt, completion and reasoning tokens of one call, as the server counted them (0 where it did not)."""
    if not isinstance(usage, Mapping):
        return TokenUse(calls=1)
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else 0
    return TokenUse(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")),
                    _count(reasoning), calls=1)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _content_text(content: object) -> str:
    """Content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(str(part.get("text", "")) for part in content
                         if isinstance(part, Mapping) and part.get("type") == "text")
    return ""


def _from_tool_calls(calls: object) -> Mapping[str, Any] | None:
    """The first tool call whose arguments are an answer document (it has an ``answer``)."""
    if not isinstance(calls, Sequence):
        return None
    for call in calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        arguments = function.get("arguments") if isinstance(function, Mapping) else None
        document = _load(arguments) if isinstance(arguments, str) else arguments
        if isinstance(document, Mapping) and _answer_text(document):
            return document
    return None


def _find_json(content: str) -> tuple[Mapping[str, Any] | None, str]:
    """The answer document in ``content``: all of it, a fenced block, or the first balanced object in prose."""
    document = _load(content.strip())
    if isinstance(document, Mapping) and _answer_text(document):
        return document, "json"
    for block in _FENCE.findall(content):
        document = _load(block.strip())
        if isinstance(document, Mapping) and _answer_text(document):
            return document, "fenced"
    for candidate in _balanced_objects(content):
        document = _load(candidate)
        if isinstance(document, Mapping) and _answer_text(document):
            return document, "embedded"
    return None, "prose"


def _load(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _balanced_objects(text: str) -> list[str]:
    """Every top-level ``{...}`` span of ``text`` (braces inside strings respected), outermost first."""
    spans, depth, start, in_string, escaped = [], 0, -1, False, False
    for index, char in enumerate(text):
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
            continue
        if char == '"' and depth:
            in_string = True
        elif char == "{":
            start = index if depth == 0 else start
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start:index + 1])
    return spans


def _answer_text(document: Mapping[str, Any]) -> str:
    answer = document.get("answer")
    return answer.strip() if isinstance(answer, str) else ""


def _reply(document: Mapping[str, Any], form: str, usage: TokenUse) -> ModelReply:
    steps = tuple(step for raw in _list(document.get("steps"))[:MAX_STEPS] if (step := _step(raw)) is not None)
    items = tuple(item for item in _list(document.get("overlay"))[:MAX_ITEMS] if isinstance(item, Mapping))
    agreed = document.get("agreed")
    return ModelReply(answer=_answer_text(document)[:MAX_ANSWER_CHARS], steps=steps, overlay=items,
                      agreed=agreed if isinstance(agreed, bool) else None,
                      confidence=_unit(document.get("confidence")), form=form, usage=usage)


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _step(raw: object) -> ModelStep | None:
    if isinstance(raw, str) and raw.strip():
        return ModelStep("reason", raw.strip()[:MAX_ANSWER_CHARS])
    if not isinstance(raw, Mapping):
        return None
    text = raw.get("text") or raw.get("claim") or raw.get("description")
    if not isinstance(text, str) or not text.strip():
        return None
    kind = raw.get("kind")
    regions = raw.get("regions", raw.get("boxes", ()))
    return ModelStep(kind.strip().lower() if isinstance(kind, str) and kind.strip() else "reason",
                     text.strip()[:MAX_ANSWER_CHARS], tuple(regions) if isinstance(regions, list) else ())


def _unit(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(1.0, max(0.0, float(value)))


def _plain(content: str) -> str:
    """Prose as a spoken answer: markdown emphasis and fences dropped, whitespace tidied, length bounded."""
    text = re.sub(r"```.*?```", " ", content, flags=re.DOTALL)
    text = re.sub(r"[*_#`]+", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_ANSWER_CHARS] or content.strip()[:MAX_ANSWER_CHARS]
