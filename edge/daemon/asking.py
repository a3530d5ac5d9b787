"""Questions to the daemon: ``POST /ask`` on its control port, and the wearer's voice (``[voice]``).

``POST /ask`` takes JSON ``{"text": "...", "mode": "instant|thinking|contemplating"}`` (mode optional, at most
``power`` allows) and answers ``200`` with the final answer as JSON (``query_id``, ``answer``, ``mode``,
``frame_seq``) once the cloud has it. It changes what leaves the device, so it makes the same checks as
``/pause`` (``edge/daemon/control.py``: Host, no web page, the control token). Other answers: 400 a bad body,
413 a body over 16 KiB, 503 no cloud session is up (the question was not sent), 502 the cloud failed the
question, 504 no answer within ``timeout_s`` (default 60, at most 300; the question was sent).

``[voice]`` runs the edge's voice front end (``edge/voice``) beside capture: hands-free, or push-to-talk with
``POST /talk`` ``{"pressed": true|false}`` (token-checked too). Spoken questions go to whichever cloud session is
up, as ``/ask``'s do; the logs say what kind of turn was heard and whether it was answered, never its words.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from eyeline.devices.base import DeviceError
from eyeline.edge.daemon.config import DaemonConfig
from eyeline.edge.daemon.control import ControlGuard
from eyeline.edge.daemon.log import event_log
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Answer
from eyeline.edge.runtime import EdgeRuntime, QueryFailedError
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.front_end import PushToTalk, VoiceTurn
from eyeline.edge.voice.listen import ListenOptions, voice_front_end
from eyeline.protos.clock import Clock

MAX_QUESTION_CHARS = 1000
MAX_BODY_BYTES = 16 * 1024
MODES = ("", "instant", "thinking", "contemplating")
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 300.0


class NoSessionError(EdgeError):
    """No cloud session is up to take the question; it was not sent."""

    retryable = True


class DaemonAsker:
    """Asks whichever cloud session is up now: the daemon's runtime changes with every reconnect, so each question
    is remembered with the runtime it went to, under an id of this asker's own (the runtimes' ids repeat)."""

    def __init__(self, runtime: Callable[[], EdgeRuntime | None], clamp: Callable[[str], str]) -> None:
        self._runtime = runtime
        self._clamp = clamp
        self._keys = itertools.count(1)
        self._asked: dict[str, tuple[EdgeRuntime, str] | EdgeError] = {}

    async def ask_now(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        """Send the question; raises ``NoSessionError`` (or the uplink's error) when it cannot go."""
        runtime = self._runtime()
        if runtime is None:
            raise NoSessionError("no cloud session is up, so the question was not sent; ask again once the daemon "
                                 "is connected (GET /healthz)")
        query_id = await runtime.ask(text, self._clamp(mode), utterance)
        key = f"d{next(self._keys)}-{query_id}"
        self._asked[key] = (runtime, query_id)
        return key

    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        """As ``ask_now``, but a question that cannot go fails at ``answer`` (what the voice front end expects)."""
        try:
            return await self.ask_now(text, mode, utterance)
        except EdgeError as exc:
            key = f"d{next(self._keys)}-unsent"
            self._asked[key] = exc
            return key

    def forget(self, key: str) -> None:
        """Nobody waits for ``key``'s answer any more (the caller went away before asking for it)."""
        self._asked.pop(key, None)

    async def answer(self, key: str) -> Answer:
        asked = self._asked.pop(key, None)
        if asked is None:
            raise EdgeError(f"no question {key!r} is waiting for an answer")
        if isinstance(asked, EdgeError):
            raise asked
        runtime, query_id = asked
        return await runtime.answer(query_id)


@dataclass(frozen=True, slots=True)
class _Question:
    text: str
    mode: str
    timeout_s: float


def _question(body: bytes) -> _Question:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=f'send JSON {{"text": "...", "mode": "..."}}: {exc}') from exc
    if not isinstance(document, dict):
        raise web.HTTPBadRequest(text='send a JSON object: {"text": "...", "mode": "..."}')
    text, mode, timeout_s = document.get("text"), document.get("mode", ""), document.get("timeout_s", DEFAULT_TIMEOUT_S)
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUESTION_CHARS:
        raise web.HTTPBadRequest(text=f"text must be a question of 1 to {MAX_QUESTION_CHARS} characters")
    if mode not in MODES:
        raise web.HTTPBadRequest(text=f"mode must be one of {', '.join(m for m in MODES if m)}")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s) \
            or not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise web.HTTPBadRequest(text=f"timeout_s must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    return _Question(text.strip(), mode, float(timeout_s))


class AskRoutes:
    """``POST /ask`` and ``POST /talk`` for the daemon's control port, behind its ``ControlGuard``."""

    def __init__(self, asker: DaemonAsker, guard: ControlGuard, talk: Callable[[], PushToTalk | None]) -> None:
        self._asker = asker
        self._guard = guard
        self._talk = talk

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/ask", self._ask)
        app.router.add_post("/talk", self._press)

    async def _checked_body(self, request: web.Request) -> bytes:
        refusal = self._guard.refusal(request)
        if refusal is not None:
            raise refusal
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(body))
        return body

    async def _ask(self, request: web.Request) -> web.Response:
        question = _question(await self._checked_body(request))
        try:
            key = await self._asker.ask_now(question.text, question.mode)
        except EdgeError as exc:   # no session, or the stream broke as it was sent
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc
        event_log("asked", query=key, source="http")
        try:
            answer = await asyncio.wait_for(self._asker.answer(key), question.timeout_s)
        except TimeoutError as exc:
            raise web.HTTPGatewayTimeout(text=f"no answer within {question.timeout_s:g} s; the question was sent "
                                              f"({key}) and may still be answered on the display") from exc
        except QueryFailedError as exc:
            raise web.HTTPBadGateway(text=f"the cloud could not answer: {exc}") from exc
        except EdgeError as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc
        finally:
            self._asker.forget(key)   # a caller that hung up mid-wait leaves nothing behind
        return web.json_response({"query_id": key, "answer": answer.text, "mode": answer.mode,
                                  "frame_seq": answer.frame_seq, "final": answer.final})

    async def _press(self, request: web.Request) -> web.Response:
        body = await self._checked_body(request)
        gate = self._talk()
        if gate is None:
            raise web.HTTPConflict(text="push-to-talk is off: set [voice] push_to_talk = true")
        try:
            pressed: Any = json.loads(body).get("pressed")
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise web.HTTPBadRequest(text='send JSON {"pressed": true} or {"pressed": false}') from exc
        if not isinstance(pressed, bool):
            raise web.HTTPBadRequest(text='send JSON {"pressed": true} or {"pressed": false}')
        if pressed:
            gate.press()
        else:
            gate.release()
        return web.json_response({"pressed": pressed})


class DaemonVoice:
    """The wearer's voice beside the daemon's capture, from ``[voice]``."""

    def __init__(self, config: DaemonConfig, asker: DaemonAsker, clock: Clock) -> None:
        self.options = ListenOptions(config.voice_audio, config.voice_push_to_talk, config.voice_speak_to,
                                     config.voice_whisper_model)
        self._asker = asker
        self._clock = clock
        self.gate: PushToTalk | None = None
        self.turns: list[VoiceTurn] = []

    async def run(self) -> None:
        """Listen until the audio ends or the daemon stops; a missing microphone stops the voice, not capture."""
        try:
            front = voice_front_end(self._asker, self.options, self._clock, on_turn=self._heard)
            self.gate = front.gate if isinstance(front.gate, PushToTalk) else None
            event_log("voice_listening", push_to_talk=self.gate is not None)
            await front.run()
        except (DeviceError, EdgeError) as exc:
            event_log("voice_stopped", error=type(exc).__name__, reason=str(exc)[:200])
            return
        event_log("voice_ended", turns=len(self.turns))

    def _heard(self, turn: VoiceTurn) -> None:
        self.turns.append(turn)
        del self.turns[:-100]
        event_log("heard", intent=turn.intent.kind, answered=bool(turn.answer), failed=bool(turn.error))
