"""A scripted OpenAI-compatible chat-completions server (aiohttp on loopback) and recorded completions.

It stands in for an external vision model (none ships in a package): each request is recorded, and a script
decides the reply, a completion dict or an HTTP status with a body. ``grounded_reply`` answers the way a
vision model that reads the evidence would: it quotes the OCR line the prompt gives and points at its box.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

Reply = dict[str, Any] | tuple[int, str]
Script = Callable[[dict[str, Any]], Reply]


def completion(content: str | None = None, *, tool_arguments: str | None = None, prompt_tokens: int = 900,
               completion_tokens: int = 120, reasoning_tokens: int = 0) -> dict[str, Any]:
    """A chat completion as vLLM, Ollama and llama.cpp's server return it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_arguments is not None:
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": "answer", "arguments": tool_arguments}}]
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted-vl",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "completion_tokens_details": {"reasoning_tokens": reasoning_tokens}}}


_EVIDENCE_LINE = re.compile(r'- "(.+)" \(confidence ([\d.]+)\) at \[([\d.]+), ([\d.]+), ([\d.]+), ([\d.]+)\]')


def evidence_lines(request: dict[str, Any]) -> list[tuple[str, float, list[float]]]:
    """The OCR lines the reasoner put in the request: text, confidence, box."""
    texts = [part.get("text", "") for message in request["messages"] if isinstance(message["content"], list)
             for part in message["content"] if part.get("type") == "text"]
    found = []
    for text in texts:
        for match in _EVIDENCE_LINE.finditer(text):
            found.append((match[1], float(match[2]), [float(match[i]) for i in range(3, 7)]))
    return found


def question_of(request: dict[str, Any]) -> str:
    user = [m for m in request["messages"] if m["role"] == "user"][-1]
    return str(user["content"][0]["text"])


def grounded_reply(request: dict[str, Any], *, agreed: bool | None = None) -> dict[str, Any]:
    """What a vision model that reads its evidence answers to an open question: the surest line, quoted."""
    lines = sorted(evidence_lines(request), key=lambda line: -line[1])
    text, _, box = lines[0] if lines else ("nothing legible", 0.0, [0.3, 0.3, 0.7, 0.7])
    document: dict[str, Any] = {
        "answer": f"This is a product labelled \"{text}\"; it is a food, eaten as a spread or snack.",
        "steps": [{"kind": "perceive", "text": "a packaged product fills the view",
                   "regions": [[0.05, 0.05, 0.95, 0.95]]},
                  {"kind": "read", "text": f"the label reads \"{text}\"", "regions": [box]},
                  {"kind": "answer", "text": "a labelled food product: it is eaten", "regions": [box]}],
        "overlay": [{"kind": "box", "id": "label", "box": box, "text": text}],
        "confidence": 0.85}
    if agreed is not None:
        document["agreed"] = agreed
    return completion(json.dumps(document))


class ScriptedModel:
    """An OpenAI-compatible endpoint on 127.0.0.1 whose replies come from ``script``, after ``delay_s``."""

    def __init__(self, script: Script, *, delay_s: float = 0.0) -> None:
        self.script = script
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.retry_after = ""            # sent as Retry-After with every error status
        self.started: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> ScriptedModel:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.add_routes([web.post("/v1/chat/completions", self._complete)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.started.append(asyncio.get_running_loop().time())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            reply = self.script(body)
        finally:
            self.in_flight -= 1
        if isinstance(reply, tuple):
            status, text = reply
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return web.Response(status=status, text=text, content_type="application/json", headers=headers)
        return web.json_response(reply)
