"""A question names only a keyframe that is already on its way to the cloud, ahead of the question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from eyeline.devices.base import CapturedFrame
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.messages import CloudEvent
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.wire import EncodedFrame, QueryOut


class EndlessSource:
    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        seq = 0
        while True:
            yield CapturedFrame(seq, seq * 33_333_333, np.full((120, 160, 3), seq % 250, np.uint8))
            seq += 1
            await asyncio.sleep(0.01)

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def aclose(self) -> None:
        pass


class StalledUplink:
    """Takes the first ``passes`` frames, then stalls every push as a full uplink queue would."""

    def __init__(self, passes: int) -> None:
        self.passes = passes
        self.pushed: list[int] = []
        self.stalled = asyncio.Event()
        self.queries: list[QueryOut] = []

    async def push_frame(self, frame: EncodedFrame) -> None:
        if len(self.pushed) >= self.passes:
            self.stalled.set()
            await asyncio.Event().wait()
        self.pushed.append(frame.seq)

    async def ask(self, query: QueryOut) -> None:
        self.queries.append(query)

    async def _none(self) -> AsyncIterator[CloudEvent]:
        await asyncio.Event().wait()
        yield  # pragma: no cover

    def __aiter__(self) -> AsyncIterator[CloudEvent]:
        return self._none()

    async def aclose(self) -> None:
        pass


async def ask_while_stalled(passes: int) -> tuple[StalledUplink, QueryOut]:
    uplink = StalledUplink(passes)
    runtime = EdgeRuntime(EndlessSource(), uplink, renderer=OverlayRenderer(),  # type: ignore[arg-type]
                          config=EdgeConfig(redact_faces=False, fresh_keyframe_s=0.2))
    running = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(uplink.stalled.wait(), 10)
        await runtime.ask("what is this?")
        return uplink, uplink.queries[-1]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_question_never_names_a_keyframe_still_waiting_to_be_sent() -> None:
    uplink, query = await ask_while_stalled(passes=0)
    assert uplink.pushed == []
    assert query.frame_seq is None, "the stalled keyframe has not gone out, so the cloud could not hold it"


async def test_a_question_falls_back_to_the_last_keyframe_that_went_out() -> None:
    uplink, query = await ask_while_stalled(passes=1)
    assert query.frame_seq == uplink.pushed[-1]
