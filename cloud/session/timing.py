"""Where one answer's time went: the stages between a question's arrival and its overlay leaving the cloud.

Every stage is measured on the dispatcher's injected clock, so a replay on virtual time reports virtual
stages. The stages of one answer never overlap and are listed in the order they happen, so they sum to no
more than the total; what is left over is the time spent between them (sending trace steps, scheduling).
The frame's own hops (capture, upload, decode) are the overlay's ``HopTimes`` and the frame's decode time,
both measured before the question was asked. The OCR stage is split into the parts the OCR noted (registration,
detection, orientation, recognition: ``perception.spend``), scaled down when reads overlapped so the parts never
sum past the stage; segmentation runs alongside the OCR and is reported on its own. The question's own trip is
given by its send time (the edge's clock, echoed), its arrival and the answer's departure (the cloud's clock).
"""

from __future__ import annotations

from dataclasses import dataclass

from eyeline.cloud.model import Image
from eyeline.cloud.perception import spend
from eyeline.cloud.perception.ocr import AsyncTextReader, TextLine
from eyeline.protos.clock import Clock

# The stages of an answer, in the order they happen.
QUEUE = "queue"          # the question waiting for its task to run
PROVISIONAL = "provisional"  # a provisional answer from what the session already read, sent before the passes
OCR = "ocr"              # the session's reader at work (detection and recognition, or the tracked cache)
REASONING = "reasoning"  # the skill's passes, less the time their reader took
OVERLAY = "overlay"      # the trace, overlay and answer messages built and queued to the session
STAGES = (QUEUE, PROVISIONAL, OCR, REASONING, OVERLAY)


@dataclass(frozen=True, slots=True)
class StageTime:
    stage: str
    us: int


@dataclass(frozen=True, slots=True)
class AnswerTiming:
    """One answer's stages (in order), its total from the question's arrival, and whether the OCR models were
    loaded before the question came (``warm``): a cold answer pays the model load inside its OCR stage."""

    stages: tuple[StageTime, ...]
    total_us: int
    warm: bool
    frame_decode_us: int = 0   # the asked frame's decode, paid when it arrived (before the question)
    ocr_parts: tuple[StageTime, ...] = ()   # the ocr stage split (spend.PARTS order), summing to no more than it
    segmentation_us: int = 0   # package segmentation, run alongside the ocr stage
    query_sent_ns: int = 0     # the edge's clock: when it sent the question (the Query's asked_ns)
    query_received_ns: int = 0  # the cloud's clock: when the question arrived
    answer_sent_ns: int = 0    # the cloud's clock: when this answer was queued to the session

    def of(self, stage: str) -> int:
        """The microseconds spent in ``stage`` (0 when the answer did not pass through it)."""
        return sum(s.us for s in self.stages if s.stage == stage)


class TimedReader:
    """A reader that notes how long reads were in flight, overlapping reads counted once (wall time)."""

    def __init__(self, base: AsyncTextReader, clock: Clock) -> None:
        self._base = base
        self._clock = clock
        self.spend = spend.Spend()   # the parts of the reads (and the segmentation) made for this question
        self._in_flight = 0
        self._busy_since_ns = 0
        self._busy_ns = 0

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        if self._in_flight == 0:
            self._busy_since_ns = self._clock.now_ns()
        self._in_flight += 1
        try:
            return await self._base.read(image_bgr)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._busy_ns += self._clock.now_ns() - self._busy_since_ns

    def busy_ns(self) -> int:
        """The wall time with at least one read in flight, so far."""
        running = self._clock.now_ns() - self._busy_since_ns if self._in_flight else 0
        return self._busy_ns + running


class AnswerClock:
    """Times one question: created when it arrives, told when its passes start, asked for each answer's timing."""

    def __init__(self, clock: Clock, asked_ns: int, *, warm: bool, frame_decode_us: int = 0,
                 query_sent_ns: int = 0) -> None:
        self._clock = clock
        self._query_sent_ns = query_sent_ns
        self._asked_ns = asked_ns
        self._warm = warm
        self._decode_us = frame_decode_us
        self._started_ns = asked_ns
        self._provisional_ns = 0
        self._reader: TimedReader | None = None

    def provisional_spent(self, since_ns: int) -> None:
        """A provisional answer went out, begun at ``since_ns``: its time is its own stage, not the queue's."""
        self._provisional_ns += self._clock.now_ns() - since_ns

    def started(self, reader: TimedReader | None = None) -> None:
        """The passes start now, reading through ``reader`` (None: they read nothing). Called in the question's
        own task: what the OCR and the segmenter note from here on (in this task and those it starts) is the
        reader's ``spend``."""
        self._started_ns = self._clock.now_ns()
        self._reader = reader
        if reader is not None:
            spend.reading_for.set(reader.spend)

    def reasoned(self) -> tuple[int, int]:
        """A mark for an answer the passes just gave: now, and the reader's busy time so far."""
        return self._clock.now_ns(), self._reader.busy_ns() if self._reader else 0

    def timing(self, mark: tuple[int, int]) -> AnswerTiming:
        """The timing of the answer ``mark`` noted, its overlay queued to the session by now."""
        sent_ns = self._clock.now_ns()
        reasoned_ns, busy_ns = mark
        ocr_ns = min(busy_ns, max(0, reasoned_ns - self._started_ns))
        durations = (
            (QUEUE, self._started_ns - self._asked_ns - self._provisional_ns),
            (PROVISIONAL, self._provisional_ns),
            (OCR, ocr_ns),
            (REASONING, reasoned_ns - self._started_ns - ocr_ns),
            (OVERLAY, sent_ns - reasoned_ns),
        )
        noted = self._reader.spend if self._reader is not None else spend.Spend()
        return AnswerTiming(tuple(StageTime(name, max(0, ns) // 1000) for name, ns in durations),
                            total_us=max(0, sent_ns - self._asked_ns) // 1000, warm=self._warm,
                            frame_decode_us=self._decode_us, ocr_parts=_parts(noted, max(0, ocr_ns)),
                            segmentation_us=noted.of(spend.SEGMENTATION) // 1000,
                            query_sent_ns=self._query_sent_ns, query_received_ns=self._asked_ns,
                            answer_sent_ns=sent_ns)


def _parts(noted: spend.Spend, ocr_ns: int) -> tuple[StageTime, ...]:
    """The OCR stage's parts, in order; scaled down together when overlapping reads noted more than the stage's
    wall time, so they never sum past it."""
    parts = [(part, noted.of(part)) for part in spend.PARTS if noted.of(part)]
    total = sum(ns for _, ns in parts)
    scale = min(1.0, ocr_ns / total) if total else 1.0
    return tuple(StageTime(part, int(ns * scale) // 1000) for part, ns in parts)
