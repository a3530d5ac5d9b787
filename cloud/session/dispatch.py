"""The session dispatcher: what the cloud does with each message an edge sends, whatever the transport.

Nothing a sender controls costs the event loop CPU: a frame's header is read and its pixels decoded in a
worker thread, and an utterance's audio is mixed and resampled in one. Queries run as tasks owned by their
session, their perception in the OCR pool. Every failure a sender can cause comes back as a typed ``Error``
on the same stream, and the session goes on. A recorded session records what it was sent through the
``record`` callback of :meth:`Dispatcher.handle`, which a frame reaches only once it is accepted, so a
recording never holds a frame the cloud refused (a decompression bomb planted for whoever replays it).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

from eyeline.cloud.ingress import wire
from eyeline.cloud.model import Mode, SkillResult
from eyeline.cloud.perception.ocr import AsyncTextReader, OcrPool
from eyeline.cloud.perception.speech import (
    AudioPiece,
    AudioRejectedError,
    HeardAudio,
    SpeechRecognizer,
    SpeechUnavailableError,
    UtteranceAssembler,
)
from eyeline.cloud.perception.tracking import TrackedTextReader
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.reasoning.proactive import Offer, ProactiveOfferer
from eyeline.cloud.session.frames import DecodedFrame, FrameLimits, FrameRejectedError, check_and_decode
from eyeline.cloud.session.history import Question
from eyeline.cloud.session.latency import latency_record
from eyeline.cloud.session.provisional import cached_view, provisional_answer
from eyeline.cloud.session.sessions import Session
from eyeline.cloud.session.timing import AnswerClock, TimedReader
from eyeline.cloud.skills.base import Keyframe, Skill, SkillContext, SkillRouter, UnsupportedQuestionError
from eyeline.protos.clock import Clock, MonotonicClock

log = logging.getLogger(__name__)

# Keyframes before the asked one that a query's deeper passes may look at.
RECENT_KEYFRAMES = 4
# The longest question the cloud takes, whatever the transport (gRPC, data channel, the viewer's HTTP query):
# checked here, where every question passes, so no transport can carry a longer one into a skill.
MAX_QUESTION_CHARS = 500


class SessionObserver(Protocol):
    """Told what a session keeps and is asked, to mirror it where another cloud process can resume it
    (``cloud/scale/mirror.py``)."""

    async def frame_kept(self, session: Session, frame: DecodedFrame) -> None: ...

    async def query_started(self, session: Session, query: wire.QueryIn) -> None: ...

    async def query_finished(self, session: Session, query: wire.QueryIn) -> None: ...


class Dispatcher:
    def __init__(self, router: SkillRouter, ocr: OcrPool, decode_pool: Executor, *, limits: FrameLimits,
                 clock: Clock | None = None, frame_skill: Skill | None = None,
                 max_queries_in_flight: int = 2, planner: Planner | None = None,
                 speech: SpeechRecognizer | None = None, proactive: ProactiveOfferer | None = None,
                 provisional: bool = True, reuse_recognition: bool = True) -> None:
        self._router = router
        self._ocr = ocr
        self._decode_pool = decode_pool
        self.limits = limits
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._frame_skill = frame_skill
        self._max_queries = max_queries_in_flight
        self._planner = planner or Planner()
        self._provisional = provisional   # a provisional answer from the session's last read, before the passes
        self._reuse_recognition = reuse_recognition   # tracked reads recognise only outlines not already read
        self.speech = speech
        self.proactive = proactive or ProactiveOfferer(router, clock=self._clock)
        self._assemblers: weakref.WeakKeyDictionary[Session, UtteranceAssembler] = weakref.WeakKeyDictionary()
        self.observer: SessionObserver | None = None

    async def handle(self, session: Session, event: wire.EdgeEvent, *,
                     record: Callable[[], None] | None = None) -> None:
        """Act on ``event``; ``record`` (when given) records it: at once, or for a frame once it is accepted."""
        if record is not None and not isinstance(event, wire.FrameIn):
            record()
        match event:
            case wire.FrameIn():
                await self._on_frame(session, event, record)
            case wire.QueryIn():
                await self._on_query(session, event)
            case wire.AckIn():
                self._on_ack(session, event)
            case AudioPiece():
                await self._on_audio(session, event)
            case wire.MalformedIn(reason=reason):
                await session.send(wire.error("malformed_message", reason))
            case wire.HelloIn():
                await session.send(wire.error("protocol", "Hello may only open a session, once"))
            case wire.GoodbyeIn():
                # Leaving on purpose, after everything sent before (already dispatched): the session ends at
                # once, whatever the transport; the ingress sees ``session.finished`` and hangs up.
                await session.finish()
            case wire.OtherIn():
                pass  # an utterance outside a query (the edge heard it itself), or a device's battery and
                # heat report (the edge's own business): nothing to do

    async def _on_audio(self, session: Session, piece: AudioPiece) -> None:
        """Gather an utterance's audio; its last chunk starts the transcription, a task the session owns."""
        if self.speech is None:
            if piece.last:
                await session.send(wire.error("unsupported", "this cloud does not transcribe audio",
                                              query_id=piece.utterance_id))
            return
        assembler = self._assemblers.setdefault(session, UtteranceAssembler())
        try:
            heard = await asyncio.to_thread(assembler.add, piece)   # mixing and resampling: CPU work
        except AudioRejectedError as exc:
            await session.send(wire.error(exc.code, str(exc), query_id=piece.utterance_id))
            return
        if heard is not None and not session.spawn(self.transcribe(session, heard), self._max_queries + 2):
            await session.send(wire.error("overloaded", "too much is in flight to transcribe now; say it again",
                                          retryable=True, query_id=heard.utterance_id))

    async def transcribe(self, session: Session, heard: HeardAudio) -> None:
        """Send back what was said in ``heard`` (an edge's utterance, or speech found in a WebRTC audio track)."""
        assert self.speech is not None
        try:
            transcript = await self.speech.transcribe(heard.samples)
        except SpeechUnavailableError as exc:
            await session.send(wire.error("unsupported", str(exc), query_id=heard.utterance_id))
            return
        await session.send(wire.utterance(heard.utterance_id, transcript, start_ns=heard.start_ns,
                                          end_ns=heard.end_ns))

    def _on_ack(self, session: Session, ack: wire.AckIn) -> None:
        received_ns = self._clock.now_ns()
        session.record_latency(tuple(latency_record(r, ack_sent_ns=ack.sent_ns, ack_received_ns=received_ns)
                                     for r in ack.rendered))

    async def _on_frame(self, session: Session, event: wire.FrameIn, record: Callable[[], None] | None) -> None:
        received_ns = self._clock.now_ns()
        session.stats.frames_received += 1
        try:
            frame = await self._decode(event, received_ns)
        except FrameRejectedError as exc:
            session.stats.frames_rejected += 1
            await session.send(wire.error(exc.code, str(exc), frame_seq=event.seq))
            return
        if record is not None:
            record()
        await self._keep(session, frame)

    async def handle_decoded(self, session: Session, frame: DecodedFrame) -> None:
        """A frame that arrives already decoded (a WebRTC video track): no JPEG round trip, same limits."""
        session.stats.frames_received += 1
        height, width = frame.image.shape[:2]
        if width * height > self.limits.max_pixels:
            session.stats.frames_rejected += 1
            await session.send(wire.error("frame_too_large", f"{width}x{height} video frame is over the limit of "
                                          f"{self.limits.max_pixels} pixels", frame_seq=frame.seq))
            return
        await self._keep(session, frame)

    async def _keep(self, session: Session, frame: DecodedFrame) -> None:
        if frame.keyframe:
            session.keep_frame(frame)
            if self.observer is not None:
                await self.observer.frame_kept(session, frame)
            if self.proactive.wanted(session, frame) and not session.spawn(self._offer(session, frame),
                                                                            self._max_queries + 1):
                self.proactive.look_dropped(session)
        else:
            session.show_preview(frame)
        if self._frame_skill is not None:
            await self._run_frame_skill(session, frame, self._frame_skill)

    async def _decode(self, event: wire.FrameIn, received_ns: int) -> DecodedFrame:
        loop = asyncio.get_running_loop()
        image = await loop.run_in_executor(self._decode_pool, check_and_decode, event.data, self.limits)
        return DecodedFrame(seq=event.seq, trace_id=event.trace_id, image=image, capture_ns=event.capture_ns,
                            sent_ns=event.sent_ns, received_ns=received_ns, keyframe=event.keyframe,
                            redacted=event.redacted, decoded_ns=self._clock.now_ns())

    async def _run_frame_skill(self, session: Session, frame: DecodedFrame, skill: Skill) -> None:
        context = SkillContext(question="", mode=session.mode, image=frame.image, frame_seq=frame.seq,
                               ocr=self._ocr, clock=self._clock)
        result = await skill.answer(context)
        await self._send_overlay(session, result, frame, query_id="", overlay_id=f"frame-{frame.seq}")

    async def _on_query(self, session: Session, query: wire.QueryIn) -> None:
        asked_ns = self._clock.now_ns()
        session.stats.queries += 1
        session.history.asked(Question(query.query_id, query.text[:MAX_QUESTION_CHARS],
                                       (query.mode or session.mode).name.lower(), asked_ns))
        if len(query.text) > MAX_QUESTION_CHARS:
            await session.send(wire.error("malformed_message", f"a question of {len(query.text)} characters is "
                                          f"over the limit of {MAX_QUESTION_CHARS}", query_id=query.query_id))
            return
        if not session.spawn(self._answer(session, query, asked_ns), self._max_queries):
            await session.send(wire.error(
                "overloaded", f"{self._max_queries} queries are already in flight; ask again shortly",
                retryable=True, query_id=query.query_id))

    async def _offer(self, session: Session, frame: DecodedFrame) -> None:
        """Offer an answer nobody asked for, when the keyframe shows a shelf or a known machine."""
        try:
            async for offer in self.proactive.offers(session, frame, self.reader(session)):
                await self._send_offer(session, offer)
        except Exception:
            log.exception("a proactive look failed in session %s", session.session_id)

    async def _send_offer(self, session: Session, offer: Offer) -> None:
        frame = offer.frame
        session.stats.proactive_offers += 1
        session.offered_proactively = True
        offer_id = f"offer-{session.stats.proactive_offers}"
        log.info("session %s: %s offer %s on frame %d", session.session_id, offer.scene.kind.value, offer_id,
                 frame.seq)
        for index, step in enumerate(offer.result.steps):
            await session.send(wire.trace_step(step, index=index, query_id=offer_id, frame_seq=frame.seq))
        await self._send_overlay(session, offer.result, frame, query_id=offer_id, overlay_id=offer_id)
        await session.send(wire.answer(offer.result, query_id=offer_id, frame_seq=frame.seq,
                                       trace_id=frame.trace_id, mode=Mode.INSTANT, overlay_id=offer_id,
                                       offer=offer.text))

    async def _answer(self, session: Session, query: wire.QueryIn, asked_ns: int) -> None:
        if self.observer is not None:
            await self.observer.query_started(session, query)
        with self.proactive.asking(session):
            await self._answer_query(session, query, asked_ns)
        if self.observer is not None:
            await self.observer.query_finished(session, query)

    async def _answer_query(self, session: Session, query: wire.QueryIn, asked_ns: int) -> None:
        frame = session.frame(query.frame_seq)
        if frame is None:
            wanted = "any keyframe" if query.frame_seq is None else f"frame {query.frame_seq}"
            await session.send(wire.error("no_frame", f"the cloud holds no {wanted} to answer over",
                                          retryable=True, query_id=query.query_id))
            return
        try:
            skill = self._router.route(query.text)
        except UnsupportedQuestionError as exc:
            await session.send(wire.error("unsupported", str(exc), query_id=query.query_id))
            return
        mode = query.mode or session.mode
        recent = tuple(Keyframe(f.seq, f.image) for f in session.recent_frames(frame.seq, RECENT_KEYFRAMES))
        timer = AnswerClock(self._clock, asked_ns, warm=self._ocr.warm,
                            frame_decode_us=max(0, frame.decoded_ns - frame.received_ns) // 1000,
                            query_sent_ns=query.asked_ns)
        reader = TimedReader(self.reader(session), self._clock)
        context = SkillContext(question=query.text, mode=mode, image=frame.image, frame_seq=frame.seq,
                               ocr=reader, state=session.skill_state, recent=recent, clock=self._clock)
        sent_steps = 0
        try:
            sent_steps = await self._send_provisional(session, skill, query, mode, frame, asked_ns, timer)
            timer.started(reader)
            # Progressive: each pass's answer goes out at once; a deeper one replaces it in place.
            async for result in self._planner.answers(skill, context):
                await self._send_result(session, result, frame, query, mode, first_step=sent_steps, timer=timer)
                sent_steps += len(result.steps)
        except Exception:
            log.exception("skill %s failed in session %s", skill.name, session.session_id)
            await session.send(wire.error("internal", f"the {skill.name} skill failed; see the cloud log",
                                          retryable=True, query_id=query.query_id))

    async def _send_provisional(self, session: Session, skill: Skill, query: wire.QueryIn, mode: Mode,
                                frame: DecodedFrame, asked_ns: int, timer: AnswerClock) -> int:
        """Send the skill's answer over the keyframe the session read last, when it is an earlier one; the
        trace steps sent."""
        view = cached_view(session, frame) if self._provisional else None
        if view is None:
            return 0
        begun = self._clock.now_ns()
        early = AnswerClock(self._clock, asked_ns, warm=self._ocr.warm,
                            frame_decode_us=max(0, view.frame.decoded_ns - view.frame.received_ns) // 1000,
                            query_sent_ns=query.asked_ns)
        early.started()
        try:
            result = await provisional_answer(skill, query.text, view, session, self._clock)
            if result is not None:
                await self._send_result(session, result, view.frame, query, mode, timer=early)
        except Exception:
            log.exception("a provisional answer failed in session %s", session.session_id)
            return 0
        timer.provisional_spent(begun)
        return len(result.steps) if result is not None else 0

    def reader(self, session: Session) -> AsyncTextReader:
        """The session's OCR: the pool behind a tracker that carries lines from keyframe to keyframe."""
        if session.reader is None:
            session.reader = TrackedTextReader(self._ocr, reuse_recognition=self._reuse_recognition)
        return session.reader

    async def _send_result(self, session: Session, result: SkillResult, frame: DecodedFrame,
                           query: wire.QueryIn, mode: Mode, *, first_step: int = 0,
                           timer: AnswerClock | None = None) -> None:
        mark = timer.reasoned() if timer is not None else None
        for index, step in enumerate(result.steps, first_step):
            await session.send(wire.trace_step(step, index=index, query_id=query.query_id, frame_seq=frame.seq))
        # Every pass of a query shows in the one overlay, replaced in place; the answer names it.
        overlay_id = f"answer-{query.query_id}"
        await self._send_overlay(session, result, frame, query_id=query.query_id, overlay_id=overlay_id)
        timing = timer.timing(mark) if timer is not None and mark is not None else None
        await session.send(wire.answer(result, query_id=query.query_id, frame_seq=frame.seq,
                                       trace_id=frame.trace_id, mode=mode, overlay_id=overlay_id, timing=timing))

    async def _send_overlay(self, session: Session, result: SkillResult, frame: DecodedFrame, *,
                            query_id: str, overlay_id: str) -> None:
        reasoned_ns = self._clock.now_ns()
        hops = wire.Hops(capture_ns=frame.capture_ns, sent_ns=frame.sent_ns, received_ns=frame.received_ns,
                         reasoned_ns=reasoned_ns, overlay_sent_ns=self._clock.now_ns())
        await session.send(wire.overlay(result, overlay_id=overlay_id, query_id=query_id,
                                        frame_seq=frame.seq, trace_id=frame.trace_id, hops=hops))
