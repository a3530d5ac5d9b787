"""The embedded engine as an OpenAI-compatible vision model: ``/v1/chat/completions`` and ``/v1/models``.

Any OpenAI client (``openai.AsyncOpenAI(base_url="http://HOST:PORT/v1", api_key=<Eyeline token>)``) can ask
Eyeline about an image. The question is the first text part of the last user message; the image is its first
``image_url`` part, a ``data:`` URL (JPEG or PNG; nothing is ever downloaded), checked against the cloud's
frame limits before it is decoded in a worker. The answer comes from the embedded skills through the planner,
in the mode the model name asks for (``eyeline-instant``, ``eyeline-thinking``, ``eyeline-contemplating``;
``eyeline`` is Instant). With a ``response_format`` of ``json_schema`` or ``json_object`` the content is the
JSON document the model reasoner asks for (answer, steps with regions, overlay items), else the answer text.
Token counts are estimates (four characters a token; an image by 512-pixel tiles), as no tokenizer is involved.
The caller is responsible for what its image shows: only an edge redacts faces.

Every route needs an Eyeline session token (``Authorization: Bearer``). Errors are OpenAI-style JSON:
``{"error": {"message", "type", "code"}}``. At most ``MAX_IN_FLIGHT`` completions run at once and
``MAX_WAITING`` wait their turn; more get 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress.auth import AuthError
from eyeline.cloud.model import (
    ArrowItem,
    BadgeItem,
    BoxItem,
    LabelItem,
    Mode,
    NoticeItem,
    OverlayItem,
    PanelItem,
    SkillResult,
    StepCardItem,
    StepKind,
)
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.session.frames import FrameRejectedError, check_frame, decode_image
from eyeline.cloud.skills.base import SkillContext, UnsupportedQuestionError

if TYPE_CHECKING:
    from eyeline.cloud.app import Cloud

MODELS = {"eyeline": Mode.INSTANT, "eyeline-instant": Mode.INSTANT, "eyeline-thinking": Mode.THINKING,
          "eyeline-contemplating": Mode.CONTEMPLATING}
MAX_IN_FLIGHT = 2
MAX_WAITING = 8
MAX_QUESTION_CHARS = 2000
_MAX_REGIONS_PER_STEP = 8
_BODY_OVERHEAD_BYTES = 256 * 1024      # the messages' text around the image
_STEP_KIND = {StepKind.GROUP: "perceive", StepKind.REFUSE: "answer"}
_OWNER = "eyeline"


class ApiError(CloudError):
    def __init__(self, status: int, message: str, code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def openai_app(cloud: Cloud, *, wall_clock: Callable[[], float] = time.time) -> web.Application:
    """The ``/v1`` sub-application; its bodies may be as large as one frame as base64 JSON (read by the
    handler itself, under that limit, not the parent application's small one)."""
    api = OpenAiApi(cloud, wall_clock)
    app = web.Application()
    app.add_routes([web.get("/models", api.models), web.post("/chat/completions", api.completions)])
    return app


class OpenAiApi:
    def __init__(self, cloud: Cloud, wall_clock: Callable[[], float]) -> None:
        self._cloud = cloud
        self._wall_clock = wall_clock
        self._planner = Planner()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._admitted = 0                 # running or waiting for a slot
        self._ids = itertools.count(1)

    async def models(self, request: web.Request) -> web.Response:
        try:
            self._check_token(request)
        except ApiError as exc:
            return _error(exc)
        created = int(self._wall_clock())
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": created, "owned_by": _OWNER} for name in MODELS]})

    async def completions(self, request: web.Request) -> web.Response:
        try:
            self._check_token(request)
            if self._admitted >= MAX_IN_FLIGHT + MAX_WAITING:
                raise ApiError(429, f"{self._admitted} completions are already running or waiting; retry shortly",
                               "rate_limit_exceeded")
            self._admitted += 1
            try:
                async with self._slots:
                    return web.json_response(await self._complete(request))
            finally:
                self._admitted -= 1
        except ApiError as exc:
            return _error(exc)

    def _check_token(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "no token: send 'Authorization: Bearer <Eyeline session token>'", "invalid_api_key")
        try:
            self._cloud.signer.verify(token.strip())
        except AuthError as exc:
            raise ApiError(401, str(exc), "invalid_api_key") from exc

    async def _complete(self, request: web.Request) -> dict[str, Any]:
        limit = self._cloud.config.frame_limits.max_bytes * 4 // 3 + _BODY_OVERHEAD_BYTES
        body = await _json_body(request, limit)
        model = body.get("model")
        if not isinstance(model, str) or model not in MODELS:
            raise ApiError(404, f"no model {model!r}; this server has {', '.join(MODELS)}", "model_not_found")
        if body.get("stream"):
            raise ApiError(400, "streaming is not supported; ask without 'stream'")
        question, data = await asyncio.to_thread(_question_and_image, body.get("messages"))   # base64: CPU
        size = _checked(data, self._cloud)
        try:
            image = await asyncio.to_thread(decode_image, data, size)
        except FrameRejectedError as exc:
            raise ApiError(400, f"the image does not decode: {exc}") from exc
        result = await self._answer(question, MODELS[model], image)
        structured = _wants_json(body.get("response_format"))
        content = json.dumps(answer_document(result)) if structured else result.answer
        return self._completion(model, content, body.get("messages"), width_height=(size[0], size[1]))

    async def _answer(self, question: str, mode: Mode, image: Any) -> SkillResult:
        try:
            skill = self._cloud.embedded_router.route(question)
        except UnsupportedQuestionError as exc:
            return SkillResult(answer=str(exc), confidence=0.0)
        ctx = SkillContext(question=question, mode=mode, image=image, frame_seq=0, ocr=self._cloud.ocr,
                           clock=self._cloud.clock)
        final = SkillResult(answer="")
        async for result in self._planner.answers(skill, ctx):
            final = result
        return final

    def _completion(self, model: str, content: str, messages: object, *, width_height: tuple[int, int]) -> dict[
            str, Any]:
        prompt = estimate_prompt_tokens(messages, width_height)
        completion = max(1, math.ceil(len(content) / 4))
        return {"id": f"chatcmpl-eyeline-{next(self._ids)}", "object": "chat.completion",
                "created": int(self._wall_clock()), "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion,
                          "completion_tokens_details": {"reasoning_tokens": 0}}}


async def _json_body(request: web.Request, limit: int) -> Mapping[str, Any]:
    too_large = ApiError(413, f"the request is over {limit} bytes: larger than one frame allows")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, total = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = await asyncio.to_thread(json.loads, raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "the body must be a JSON chat-completions request") from exc
    if not isinstance(body, Mapping):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _question_and_image(messages: object) -> tuple[str, bytes]:
    """The first text part and the first image of the last user message."""
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list")
    users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users:
        raise ApiError(400, "no user message to answer")
    content = users[-1].get("content")
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(parts, list):
        raise ApiError(400, "a user message's content must be text or a list of parts")
    texts = [p.get("text") for p in parts if isinstance(p, Mapping) and p.get("type") == "text"]
    question = next((t.strip() for t in texts if isinstance(t, str) and t.strip()), "")
    if not question or len(question) > MAX_QUESTION_CHARS:
        raise ApiError(400, f"the question (the first text part) must have 1 to {MAX_QUESTION_CHARS} characters")
    urls = [p.get("image_url") for p in parts if isinstance(p, Mapping) and p.get("type") == "image_url"]
    url = urls[0].get("url") if urls and isinstance(urls[0], Mapping) else urls[0] if urls else None
    if not isinstance(url, str):
        raise ApiError(400, "the user message needs an image: an image_url part with a data: URL")
    return question, _data_url_bytes(url)


def _data_url_bytes(url: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64") or not comma:
        raise ApiError(400, "only data:image/...;base64 URLs are accepted (this server downloads nothing)")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "the image's base64 does not decode") from exc


def _checked(data: bytes, cloud: Cloud) -> tuple[int, int]:
    try:
        return check_frame(data, cloud.config.frame_limits)
    except FrameRejectedError as exc:
        raise ApiError(413 if exc.code == "frame_too_large" else 400, str(exc)) from exc


def _wants_json(response_format: object) -> bool:
    return isinstance(response_format, Mapping) and response_format.get("type") in ("json_schema", "json_object")


def answer_document(result: SkillResult) -> dict[str, Any]:
    """A skill result in the model reasoner's answer schema (``cloud.reasoning.model_prompt``)."""
    steps = [{"kind": _STEP_KIND.get(step.kind, step.kind.value), "text": step.text,
              "regions": [[round(b.x0, 4), round(b.y0, 4), round(b.x1, 4), round(b.y1, 4)]
                          for b in step.evidence[:_MAX_REGIONS_PER_STEP]]} for step in result.steps]
    overlay = [doc for item in result.items if (doc := _item_document(item)) is not None]
    return {"answer": result.answer, "steps": steps, "overlay": overlay, "confidence": round(result.confidence, 3)}


def _item_document(item: OverlayItem) -> dict[str, Any] | None:
    match item:
        case BoxItem(id=item_id, box=b, caption=caption):
            return {"kind": "box", "id": item_id, "box": [b.x0, b.y0, b.x1, b.y1], "text": caption}
        case ArrowItem(id=item_id, tail=tail, head=head, text=text):
            return {"kind": "arrow", "id": item_id, "tail": list(tail), "head": list(head), "text": text}
        case BadgeItem(id=item_id, center=center, text=text):
            return {"kind": "badge", "id": item_id, "at": list(center), "text": text}
        case LabelItem(id=item_id, anchor=anchor, text=text):
            return {"kind": "label", "id": item_id, "at": list(anchor), "text": text}
        case NoticeItem(id=item_id, text=text):
            return {"kind": "notice", "id": item_id, "text": text}
        case StepCardItem(id=item_id, step=step, total=total, instruction=instruction):
            return {"kind": "notice", "id": item_id, "text": f"step {step}/{total}: {instruction}"}
        case PanelItem(id=item_id, title=title, rows=rows):
            text = "; ".join(f"{r.rank} {r.text} {r.value}".strip() for r in rows)
            return {"kind": "notice", "id": item_id, "text": f"{title}: {text}"}
    return None


def estimate_prompt_tokens(messages: object, width_height: tuple[int, int]) -> int:
    """Four characters a token for text; the image as 85 plus 170 per 512-pixel tile (the common rule)."""
    chars = sum(len(t) for t in _texts(messages))
    tiles = math.ceil(width_height[0] / 512) * math.ceil(width_height[1] / 512)
    return math.ceil(chars / 4) + 85 + 170 * tiles


def _texts(messages: object) -> Sequence[str]:
    out: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)]
    return out


def _error(exc: ApiError) -> web.Response:
    kind = "authentication_error" if exc.status == 401 else "rate_limit_error" if exc.status == 429 else \
        "invalid_request_error"
    headers = {"Retry-After": "1"} if exc.status == 429 else None
    return web.json_response({"error": {"message": str(exc), "type": kind, "code": exc.code}}, status=exc.status,
                             headers=headers)
