"""The edge's privacy stage: each frame redacted once, off the event loop, marked; the stages that send pixels
refuse a frame that did not pass it; turning it off is explicit and logged."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from eyeline.devices.base import CapturedFrame, Image
from eyeline.edge.frames.encode import JpegEncoder
from eyeline.edge.frames.redact import PrivacyStage, RedactedSource, RedactionError
from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
from eyeline.protos.privacy import PrivacyError, Redaction, Region


class StripeRedactor:
    """Blacks out the top quarter of every frame, and says which thread it ran on (a scripted fake)."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()

    def redact(self, image: Image) -> Redaction:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        out = image.copy()
        out[: image.shape[0] // 4] = 0
        return Redaction(out, (Region(0.0, 0.0, 1.0, 0.25),), ())


class BrokenRedactor:
    def redact(self, image: Image) -> Redaction:
        raise PrivacyError("the face model is unusable")


class Frames:
    def __init__(self, count: int) -> None:
        self._count = count

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        for seq in range(self._count):
            yield CapturedFrame(seq, seq * 1000, np.full((40, 60, 3), 200, np.uint8))

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def aclose(self) -> None:
        pass


class Marked:
    def __init__(self, frames: list[CapturedFrame]) -> None:
        self._frames = frames

    async def _each(self) -> AsyncIterator[CapturedFrame]:
        for item in self._frames:
            yield item

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._each()

    async def aclose(self) -> None:
        pass


def frame(seq: int = 1) -> CapturedFrame:
    return CapturedFrame(seq, 1000, np.full((40, 60, 3), 200, np.uint8))


async def test_frames_are_redacted_once_in_a_worker_and_marked_and_stale_ones_dropped() -> None:
    redactor = StripeRedactor()
    source = RedactedSource(Frames(3), PrivacyStage(redactor))
    frames = [f async for f in source]
    # The source delivered 1 and 2 while 0 was being redacted: 1 was stale by then, 2 is the newest.
    assert [f.seq for f in frames] == [0, 2] and source.dropped == 1
    assert [f.redacted for f in frames] == [(Region(0.0, 0.0, 1.0, 0.25),)] * 2
    assert all(f.image[:10].max() == 0 and f.image[10:].min() == 200 for f in frames)
    assert redactor.calls == 2 and threading.current_thread().name not in redactor.threads
    # A second stage further on (the runtime's own) passes marked frames through, every one, untouched.
    again = RedactedSource(Marked(frames), PrivacyStage(redactor))
    assert [f async for f in again] == frames and again.dropped == 0
    assert redactor.calls == 2


async def test_a_stage_whose_frames_arrive_marked_never_loads_a_redactor(caplog: pytest.LogCaptureFixture) -> None:
    stage = PrivacyStage(redact_faces=False)
    marked = CapturedFrame(1, 1, np.zeros((4, 4, 3), np.uint8), redacted=())
    with caplog.at_level(logging.WARNING):
        assert await stage.redact(marked) is marked
    assert "OFF" not in caplog.text


async def test_turning_redaction_off_marks_frames_as_captured_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        out = await PrivacyStage(redact_faces=False).redact(frame())
    assert out.redacted == () and np.array_equal(out.image, frame().image)
    assert "face redaction is OFF" in caplog.text


async def test_a_redactor_that_fails_stops_the_frame_with_a_typed_error() -> None:
    with pytest.raises(RedactionError, match="frame 7 could not be redacted"):
        await PrivacyStage(BrokenRedactor()).redact(frame(7))


async def test_the_keyframe_encoder_refuses_a_frame_that_skipped_the_privacy_stage() -> None:
    with ThreadPoolExecutor(1) as pool:
        encoder = JpegEncoder(pool)
        with pytest.raises(RedactionError, match="keyframe encoder refused frame 1"):
            await encoder.encode(frame(), "t")
        marked = await PrivacyStage(StripeRedactor()).redact(frame())
        encoded = await encoder.encode(marked, "t")
    assert encoded.data[:2] == b"\xff\xd8" and [(b.x0, b.y1) for b in encoded.redacted] == [(0.0, 0.25)]


def test_the_webrtc_preview_refuses_a_frame_that_skipped_the_privacy_stage() -> None:
    uplink = WebRtcUplink(WebRtcOptions("http://127.0.0.1:9/whip"))
    with pytest.raises(RedactionError, match="preview track refused frame 1"):
        uplink.offer_preview(frame())
    uplink.offer_preview(CapturedFrame(2, 1, np.zeros((4, 4, 3), np.uint8), redacted=()))
