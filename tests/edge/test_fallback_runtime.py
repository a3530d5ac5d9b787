"""The runtime's side of the fallback: the notice drawn on every frame, and an overlay table that stays bounded
when the cloud overlays every frame under a new id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from eyeline.devices.base import CapturedFrame, Image
from eyeline.edge.daemon.fallback import OFFLINE_NOTICE
from eyeline.edge.display.anchor import AnchorFade
from eyeline.edge.display.canvas import Projection
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.messages import CloudEvent, OverlayArrival
from eyeline.edge.overlays import BadgeShape, Item, Overlay
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.wire import EncodedFrame, QueryOut

GREY = 90


class FewFrames:
    def __init__(self, count: int) -> None:
        self.count = count

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        for seq in range(self.count):
            yield CapturedFrame(seq, seq * 33_333_333, np.full((180, 320, 3), GREY, np.uint8))
            await asyncio.sleep(0.01)

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def aclose(self) -> None:
        pass


class ScriptedUplink:
    """Sends ``events`` down at once, then stays open; takes whatever goes up."""

    def __init__(self, events: list[CloudEvent]) -> None:
        self.events = events
        self.delivered = asyncio.Event()

    async def push_frame(self, frame: EncodedFrame) -> None:
        pass

    async def ask(self, query: QueryOut) -> None:
        pass

    async def _down(self) -> AsyncIterator[CloudEvent]:
        for event in self.events:
            yield event
        self.delivered.set()
        await asyncio.Event().wait()

    def __aiter__(self) -> AsyncIterator[CloudEvent]:
        return self._down()

    async def aclose(self) -> None:
        pass


class KeptFrames:
    def __init__(self) -> None:
        self.images: list[Image] = []

    async def write(self, image: Image, capture_ns: int) -> None:
        self.images.append(image)

    async def aclose(self) -> None:
        pass


def runtime_over(frames: int, events: list[CloudEvent], sink: KeptFrames | None = None) -> EdgeRuntime:
    config = EdgeConfig(redact_faces=False, sampling="rate", anchor_overlays=False, overlays_kept=4)
    return EdgeRuntime(FewFrames(frames), ScriptedUplink(events), renderer=OverlayRenderer(),  # type: ignore[arg-type]
                       sink=sink, config=config)


async def test_the_notice_shows_on_every_frame_with_no_overlay_from_the_cloud() -> None:
    shown, plain = KeptFrames(), KeptFrames()
    noticed = runtime_over(5, [], shown)
    noticed.notice = OFFLINE_NOTICE
    await asyncio.wait_for(noticed.run(), 20)
    await asyncio.wait_for(runtime_over(5, [], plain).run(), 20)
    assert shown.images and plain.images
    assert all(np.all(image == GREY) for image in plain.images)
    bottom = slice(int(0.75 * 180), 180)  # a notice claims the bottom edge
    assert all(np.any(image[bottom] != GREY) for image in shown.images)
    assert all(np.all(image[: 180 // 2] == GREY) for image in shown.images)  # and only that


def arrival(overlay_id: str, query_id: str = "") -> OverlayArrival:
    return OverlayArrival(Overlay(overlay_id, query_id, 0, "t0", 0, (Item("b", BadgeShape((0.5, 0.5), "1")),)))


async def test_a_cloud_overlaying_every_frame_keeps_only_the_newest_overlays_of_each_kind() -> None:
    answers = [arrival(f"answer-q{n}", f"q{n}") for n in range(1, 4)]
    frames = [arrival(f"frame-{seq}") for seq in range(200)]
    events: list[CloudEvent] = [*answers, *frames, arrival("answer-q1", "q1")]  # q1's overlay, replaced
    runtime = runtime_over(1_000_000, events)
    running = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime._uplink.delivered.wait(), 20)  # type: ignore[attr-defined]
        assert list(runtime.overlays) == ["answer-q2", "answer-q3", "frame-196", "frame-197", "frame-198",
                                          "frame-199", "answer-q1"]
        for more in range(6):  # answers past the bound give way oldest first; the frame overlays stay
            runtime._handle(arrival(f"answer-x{more}", f"x{more}"))
        assert [key for key in runtime.overlays if key.startswith("answer")] == [
            "answer-x2", "answer-x3", "answer-x4", "answer-x5"]
        assert len(runtime._pending_hops) <= 8 and len(runtime._arrived_ns) <= 8
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


class PlacedEverywhere:
    """Anchors that place every overlay where it was computed."""

    def projection(self, overlay: Overlay) -> Projection | None:
        return lambda point: point


async def test_overlays_dropped_from_the_table_leave_nothing_behind_in_the_fade() -> None:
    runtime = runtime_over(1, [])
    fade = runtime._fade = AnchorFade(PlacedEverywhere())
    for seq in range(200):
        overlay = arrival(f"frame-{seq}")
        runtime._handle(overlay)
        project, _ = fade.for_frame(seq)
        project(overlay.overlay)
    assert fade.placements_kept == len(runtime.overlays) == 4
