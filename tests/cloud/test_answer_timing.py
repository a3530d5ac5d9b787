"""The stages of one answer's timing: measured on the injected clock, ordered, never more than the total."""

from __future__ import annotations

import asyncio

import numpy as np

from eyeline.cloud.model import Image
from eyeline.cloud.perception import spend
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.session.timing import OCR, OVERLAY, QUEUE, REASONING, STAGES, AnswerClock, TimedReader


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000

    def now_ns(self) -> int:
        return self.now

    async def sleep_until(self, deadline_ns: int) -> None:
        self.now = max(self.now, deadline_ns)


class SlowReader:
    """Reads nothing, taking ``cost_ns`` of the step clock once released."""

    def __init__(self, clock: StepClock, cost_ns: int) -> None:
        self.clock = clock
        self.cost_ns = cost_ns
        self.release = asyncio.Event()

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        await self.release.wait()
        self.clock.now += self.cost_ns
        return ()


IMAGE = np.zeros((4, 4, 3), np.uint8)


async def test_stages_come_in_order_and_sum_to_no_more_than_the_total() -> None:
    clock = StepClock()
    asked = clock.now
    timer = AnswerClock(clock, asked, warm=True, frame_decode_us=7)
    clock.now += 2_000_000                        # 2 ms waiting for the task
    base = SlowReader(clock, 30_000_000)
    reader = TimedReader(base, clock)
    timer.started(reader)
    base.release.set()
    await reader.read(IMAGE)                       # 30 ms of OCR
    clock.now += 5_000_000                         # 5 ms of reasoning
    mark = timer.reasoned()
    clock.now += 1_000_000                         # 1 ms building and sending the overlay
    timing = timer.timing(mark)
    assert tuple(s.stage for s in timing.stages) == STAGES
    assert (timing.of(QUEUE), timing.of(OCR), timing.of(REASONING), timing.of(OVERLAY)) == (2000, 30000, 5000, 1000)
    assert sum(s.us for s in timing.stages) <= timing.total_us == 38000
    assert timing.warm and timing.frame_decode_us == 7


async def test_overlapping_reads_count_once_so_ocr_never_exceeds_the_wall_time() -> None:
    clock = StepClock()
    timer = AnswerClock(clock, clock.now, warm=False)
    base = SlowReader(clock, 10_000_000)
    reader = TimedReader(base, clock)
    timer.started(reader)
    reads = [asyncio.ensure_future(reader.read(IMAGE)) for _ in range(3)]
    await asyncio.sleep(0)
    base.release.set()
    await asyncio.gather(*reads)                   # three reads in flight together, 30 ms of wall time
    timing = timer.timing(timer.reasoned())
    assert timing.of(OCR) == 30000 and timing.of(REASONING) == 0
    assert sum(s.us for s in timing.stages) <= timing.total_us and not timing.warm


async def test_a_read_still_running_counts_up_to_now() -> None:
    clock = StepClock()
    base = SlowReader(clock, 0)
    reader = TimedReader(base, clock)
    pending = asyncio.ensure_future(reader.read(IMAGE))
    await asyncio.sleep(0)
    clock.now += 4_000
    assert reader.busy_ns() == 4_000
    base.release.set()
    await pending
    clock.now += 1_000_000
    assert reader.busy_ns() == 4_000


class NotingReader:
    """Takes ``cost_ns`` of the step clock per read and notes ``parts`` (ns) as the OCR pool would."""

    def __init__(self, clock: StepClock, cost_ns: int, parts: dict[str, int]) -> None:
        self.clock, self.cost_ns, self.parts = clock, cost_ns, parts
        self.release = asyncio.Event()

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        await self.release.wait()
        self.clock.now += self.cost_ns
        for part, ns in self.parts.items():
            spend.note(part, ns)
        return ()


async def test_the_ocr_stage_is_split_into_its_parts_in_order() -> None:
    clock = StepClock()
    timer = AnswerClock(clock, clock.now, warm=True, query_sent_ns=clock.now - 400_000)
    base = NotingReader(clock, 40_000_000, {spend.RECOGNITION: 15_000_000, spend.DETECTION: 20_000_000})
    reader = TimedReader(base, clock)
    timer.started(reader)
    base.release.set()
    await reader.read(IMAGE)
    spend.note(spend.SEGMENTATION, 9_000_000)           # the segmenter, in the same question's task
    timing = timer.timing(timer.reasoned())
    assert [(p.stage, p.us) for p in timing.ocr_parts] == [(spend.DETECTION, 20000), (spend.RECOGNITION, 15000)]
    assert sum(p.us for p in timing.ocr_parts) <= timing.of(OCR) == 40000
    assert timing.segmentation_us == 9000
    assert timing.query_received_ns - timing.query_sent_ns == 400_000
    assert timing.answer_sent_ns == clock.now


async def test_parts_noted_by_overlapping_reads_are_scaled_to_the_stage() -> None:
    clock = StepClock()
    timer = AnswerClock(clock, clock.now, warm=True)
    base = NotingReader(clock, 10_000_000, {spend.DETECTION: 8_000_000, spend.RECOGNITION: 8_000_000})
    reader = TimedReader(base, clock)
    timer.started(reader)
    reads = [asyncio.ensure_future(reader.read(IMAGE)) for _ in range(2)]
    await asyncio.sleep(0)
    base.release.set()
    await asyncio.gather(*reads)        # 20 ms of wall time, 32 ms of parts noted by two reads
    timing = timer.timing(timer.reasoned())
    parts = {p.stage: p.us for p in timing.ocr_parts}
    assert sum(parts.values()) <= timing.of(OCR) == 20000
    assert parts[spend.DETECTION] == parts[spend.RECOGNITION] > 0


async def test_an_answer_from_a_reader_that_notes_nothing_has_no_parts() -> None:
    clock = StepClock()
    timer = AnswerClock(clock, clock.now, warm=True)
    base = SlowReader(clock, 5_000_000)
    reader = TimedReader(base, clock)
    timer.started(reader)
    base.release.set()
    await reader.read(IMAGE)
    timing = timer.timing(timer.reasoned())
    assert timing.ocr_parts == () and timing.of(OCR) == 5000 and timing.segmentation_us == 0
