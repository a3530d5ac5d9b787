"""The voice front end: ``mic → VAD → ASR (on the edge) → intent → query``, and spoken answers back.

Two ways to talk: *hands-free* (always listening; only known commands and questions for a known skill
become queries, so talk around the wearer does not) and *push-to-talk* (only audio captured while the
button is held is heard, and any question said then is asked). With the edge's own recogniser raw audio never
leaves the device: only the recognised text and its timing go into the query. With the cloud's
(``eyeline.edge.voice.cloud_asr``), only the speech segments the VAD found go up, never the silence between them.

Tasks: ``run()`` owns a listener (chunks → segmenter, in a worker thread) and a responder (segments →
transcript → intent → action), joined by a bounded queue; speaking an answer is one more owned task, so
"stop" can cut it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from eyeline.devices.audio import AudioChunk, AudioSource
from eyeline.devices.base import DeviceError
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Answer
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.asr import Transcriber
from eyeline.edge.voice.endpoint import EndpointConfig
from eyeline.edge.voice.intents import Intent, parse_intent
from eyeline.edge.voice.speech import SpeechError, SpeechOutput, SpeechSynthesizer
from eyeline.edge.voice.streaming import Final, PartialHook, StreamingRecognizer
from eyeline.edge.voice.vad import AudioFormatError, SileroVad, SpeechSegment, SpeechSegmenter, VadConfig
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.tasks import TaskSet

log = logging.getLogger(__name__)


class Asker(Protocol):
    """What the front end needs of the edge runtime (``EdgeRuntime`` is one)."""

    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str: ...

    async def answer(self, query_id: str) -> Answer: ...


class TalkGate(Protocol):
    hands_free: bool

    def is_open(self, capture_ns: int) -> bool:
        """Whether audio captured at ``capture_ns`` is meant to be heard."""
        ...


class HandsFree:
    hands_free = True

    def is_open(self, capture_ns: int) -> bool:
        return True


class PushToTalk:
    """Audio is heard only while the button is held; ``press``/``release`` stamp the clock's time.

    Intervals can also be given up front (a scripted button for replays and tests).
    """

    hands_free = False

    def __init__(self, clock: Clock | None = None, intervals: tuple[tuple[int, int], ...] = ()) -> None:
        self._clock = clock or MonotonicClock()
        self._intervals = list(intervals)
        self._pressed_ns: int | None = None

    def press(self) -> None:
        if self._pressed_ns is None:
            self._pressed_ns = self._clock.now_ns()

    def release(self) -> None:
        if self._pressed_ns is not None:
            self._intervals.append((self._pressed_ns, self._clock.now_ns()))
            self._pressed_ns = None

    def toggle(self) -> None:
        """One key for both: press when released, release when pressed."""
        if self._pressed_ns is None:
            self.press()
        else:
            self.release()

    def is_open(self, capture_ns: int) -> bool:
        if self._pressed_ns is not None and capture_ns >= self._pressed_ns:
            return True
        return any(start <= capture_ns < end for start, end in self._intervals)


@dataclass(frozen=True, slots=True)
class HeardUtterance:
    text: str
    start_ns: int            # capture time of the first speech sample
    end_ns: int              # capture time of the last speech sample
    heard_ns: int            # when the VAD closed the utterance, or (streaming) when its transcript was final
    transcribe_ns: int       # real time the recogniser took after heard_ns (the front end's cost clock)
    confidence: float
    language: str

    @property
    def latency_ns(self) -> int:
        """End of speech → transcript: the wait for the utterance to end plus recognition after it."""
        return self.heard_ns - self.end_ns + self.transcribe_ns

    def to_wire(self) -> UtteranceOut:
        return UtteranceOut(self.text, self.start_ns, self.end_ns, self.confidence, self.language)


@dataclass(frozen=True, slots=True)
class VoiceTurn:
    """One utterance and what came of it."""

    heard: HeardUtterance
    intent: Intent
    query_id: str = ""
    answer: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class VoiceOptions:
    vad: VadConfig = field(default_factory=VadConfig)
    answer_timeout_s: float = 60.0
    segment_queue: int = 4           # utterances waiting for the recogniser; more are dropped and counted
    turns_kept: int = 100
    streaming: bool = False          # partial transcripts while speaking, and ends found by what was said
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)


@dataclass(slots=True)
class VoiceStats:
    chunks: int = 0
    rejected_chunks: int = 0         # audio the pipeline cannot take (wrong sample rate)
    utterances: int = 0
    dropped_utterances: int = 0
    queries: int = 0


TurnHook = Callable[[VoiceTurn], None]
_Heard = tuple[SpeechSegment, asyncio.Task[Final] | None]   # the final transcript, when streaming made it


class VoiceFrontEnd:
    def __init__(self, source: AudioSource, transcriber: Transcriber, asker: Asker, *,
                 gate: TalkGate | None = None, synthesizer: SpeechSynthesizer | None = None,
                 output: SpeechOutput | None = None, options: VoiceOptions | None = None,
                 clock: Clock | None = None, vad: SileroVad | None = None, on_turn: TurnHook | None = None,
                 cost_clock: Clock | None = None, on_partial: PartialHook | None = None) -> None:
        self.options = options or VoiceOptions()
        self._source = source
        self._transcriber = transcriber
        self._asker = asker
        self.gate = gate or HandsFree()
        self._synthesizer = synthesizer
        self._output = output
        self._clock = clock or MonotonicClock()
        # The recogniser's compute time is real even when ``clock`` is virtual (replays, the speech benchmark):
        # virtual time stands still while the CPU works, so it is measured on a clock of its own.
        self._cost_clock = cost_clock or MonotonicClock()
        self._vad = vad
        self._on_turn = on_turn
        self._segments: asyncio.Queue[_Heard | None] = asyncio.Queue(self.options.segment_queue)
        self.streaming = StreamingRecognizer(
            transcriber, self._clock, silence_timeout_ms=self.options.vad.min_silence_ms,
            config=self.options.endpoint, on_partial=on_partial) if self.options.streaming else None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="edge-vad")
        self._speech = TaskSet("voice speaking", logger=log)   # the answer being spoken, ended with ``run``
        self._speaking: asyncio.Task[None] | None = None
        self._last_question = ""
        self._last_answer = ""
        self.turns: list[VoiceTurn] = []
        self.stats = VoiceStats()

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Listen until the source ends (or ``stop()``), answer what was heard, finish speaking."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._respond(), name="voice-respond")
                await self._listen()
            if (speaking := self._speaking) is not None:
                await asyncio.wait({speaking})   # "stop" may have cancelled it: that is not our cancellation
                if not speaking.cancelled():
                    speaking.result()
        except* (DeviceError, EdgeError) as failed:
            raise failed.exceptions[0] from None   # a missing microphone, a broken stream: as itself
        finally:
            await self._speech.aclose()   # still speaking only when listening failed or was cancelled
            if self.streaming is not None:
                await self.streaming.aclose()
            await self._source.aclose()
            self._pool.shutdown(wait=False)

    async def stop(self) -> None:
        await self._source.aclose()

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if self._vad is None:
            self._vad = await loop.run_in_executor(self._pool, SileroVad)
        segmenter = SpeechSegmenter(self._vad, self.options.vad)
        was_open = False
        try:
            async for chunk in self._source:
                self.stats.chunks += 1
                is_open = self.gate.is_open(chunk.capture_ns)
                if was_open and not is_open:
                    await self._emit(await loop.run_in_executor(self._pool, segmenter.flush))
                was_open = is_open
                if is_open:
                    await self._emit(await loop.run_in_executor(self._pool, self._segment, segmenter, chunk))
                    await self._emit(await self._stream(segmenter))
            await self._emit(await loop.run_in_executor(self._pool, segmenter.flush))
        finally:
            await self._segments.put(None)

    def _segment(self, segmenter: SpeechSegmenter, chunk: AudioChunk) -> list[SpeechSegment]:
        try:
            return segmenter.push(chunk)
        except AudioFormatError as exc:
            if self.stats.rejected_chunks == 0:
                log.warning("audio rejected: %s", exc)
            self.stats.rejected_chunks += 1
            return []

    async def _stream(self, segmenter: SpeechSegmenter) -> list[SpeechSegment]:
        """Streaming: end the open utterance if what was said is complete, else maybe start a partial decode."""
        view = segmenter.open_utterance()
        if self.streaming is None or view is None:
            return []
        loop = asyncio.get_running_loop()
        if self.streaming.wants_end(view):
            return await loop.run_in_executor(self._pool, segmenter.end_now)
        if self.streaming.wants_decode(view):
            self.streaming.start_decode(await loop.run_in_executor(self._pool, segmenter.open_samples), view)
        return []

    async def _emit(self, segments: list[SpeechSegment]) -> None:
        for segment in segments:
            self.stats.utterances += 1
            final = self.streaming.finish(segment) if self.streaming is not None else None
            if self._segments.full():
                self.stats.dropped_utterances += 1   # the recogniser is behind: the newest is dropped
                if final is not None:
                    final.cancel()
                continue
            self._segments.put_nowait((segment, final))

    async def _respond(self) -> None:
        while (item := await self._segments.get()) is not None:
            segment, final = item
            heard = await self._transcribe(segment) if final is None else self._finished(segment, await final)
            intent = parse_intent(heard.text)
            if intent.kind == "ask" and not intent.skill and self.gate.hands_free:
                intent = Intent("ignore")   # hands-free: open questions may be talk around the wearer
            self._record(await self._act(heard, intent))

    async def _transcribe(self, segment: SpeechSegment) -> HeardUtterance:
        heard_ns = self._clock.now_ns()
        started = self._cost_clock.now_ns()
        transcript = await self._transcriber.transcribe(segment.samples)
        took = self._cost_clock.now_ns() - started
        return HeardUtterance(transcript.text, segment.start_ns, segment.end_ns, heard_ns, took,
                              transcript.confidence, transcript.language)

    @staticmethod
    def _finished(segment: SpeechSegment, final: Final) -> HeardUtterance:
        transcript = final.transcript
        return HeardUtterance(transcript.text, segment.start_ns, segment.end_ns, final.ready_ns, 0,
                              transcript.confidence, transcript.language)

    def _record(self, turn: VoiceTurn) -> None:
        self.turns = [*self.turns, turn][-self.options.turns_kept:]
        if self._on_turn is not None:
            self._on_turn(turn)

    # ------------------------------------------------------------------ acting

    async def _act(self, heard: HeardUtterance, intent: Intent) -> VoiceTurn:
        match intent.kind:
            case "ask":
                self._last_question = intent.text
                return await self._query(heard, intent, intent.text)
            case "deepen" if self._last_question:
                return await self._query(heard, intent, self._last_question)
            case "next" | "back":
                return await self._query(heard, intent, intent.kind)
            case "repeat" if self._last_answer:
                self._speak(self._last_answer)
            case "stop":
                await self._stop_speaking()
        return VoiceTurn(heard, intent)

    async def _query(self, heard: HeardUtterance, intent: Intent, text: str) -> VoiceTurn:
        self.stats.queries += 1
        query_id = await self._asker.ask(text, intent.mode, heard.to_wire())
        try:
            answer = await asyncio.wait_for(self._asker.answer(query_id), self.options.answer_timeout_s)
        except (EdgeError, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {self.options.answer_timeout_s:g} s"
            return VoiceTurn(heard, intent, query_id, error=reason)
        self._last_answer = answer.text
        self._speak(answer.text)
        return VoiceTurn(heard, intent, query_id, answer=answer.text)

    # ------------------------------------------------------------------ speaking

    def _speak(self, text: str) -> None:
        if self._synthesizer is None or self._output is None or not text.strip():
            return
        previous = self._speaking
        self._speaking = self._speech.spawn(self._say(previous, text), name="voice-speak")

    async def _say(self, previous: asyncio.Task[None] | None, text: str) -> None:
        if previous is not None:
            previous.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        assert self._synthesizer is not None and self._output is not None
        try:
            await self._output.say(await self._synthesizer.synthesize(text))
        except SpeechError as exc:
            log.warning("could not speak the answer: %s", exc)

    async def _stop_speaking(self) -> None:
        if self._speaking is not None and not self._speaking.done():
            self._speaking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._speaking
        if self._output is not None:
            await self._output.stop()
