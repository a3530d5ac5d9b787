"""The runtime wires privacy, sampling and anchoring together: what leaves the device and what is drawn."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from eyeline.devices.base import CapturedFrame, Image
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.messages import CloudEvent
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.wire import EncodedFrame, QueryOut, frame_message

ASTRONAUT_FACE = (185, 70, 265, 175)  # forehead to chin, ear to ear, in the 512x512 photo
AT = (600, 150)                       # where the photo sits in the 720p frame


class ListSource:
    def __init__(self, images: list[Image]) -> None:
        self._images = images

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        for seq, image in enumerate(self._images):
            yield CapturedFrame(seq, seq * 33_333_333, image)

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def aclose(self) -> None:
        pass


class RecordingUplink:
    def __init__(self) -> None:
        self.frames: list[EncodedFrame] = []

    async def push_frame(self, frame: EncodedFrame) -> None:
        self.frames.append(frame)

    async def ask(self, query: QueryOut) -> None:
        pass

    async def _none(self) -> AsyncIterator[CloudEvent]:
        return
        yield

    def __aiter__(self) -> AsyncIterator[CloudEvent]:
        return self._none()

    async def aclose(self) -> None:
        pass


def frame_with_a_bystander() -> Image:
    frame = np.full((720, 1280, 3), 190, np.uint8)
    x, y = AT
    frame[y:y + 512, x:x + 512] = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    return frame


def detail(patch: np.ndarray) -> np.ndarray:
    grey = patch.mean(axis=2)
    return grey - cv2.GaussianBlur(grey, (0, 0), 3.0)


async def sent_frames(config: EdgeConfig) -> list[EncodedFrame]:
    uplink = RecordingUplink()
    runtime = EdgeRuntime(ListSource([frame_with_a_bystander()] * 10), uplink,  # type: ignore[arg-type]
                          renderer=OverlayRenderer(), config=config)
    await runtime.run()
    assert runtime.stats.keyframes_sent == len(uplink.frames) >= 1
    return uplink.frames


async def test_faces_are_destroyed_before_the_frame_leaves_and_the_cloud_is_told_where() -> None:
    frames = await sent_frames(EdgeConfig())
    sent = frames[0]
    assert sent.redacted, "the redacted regions travel with the frame"
    decoded = cv2.imdecode(np.frombuffer(sent.data, np.uint8), cv2.IMREAD_COLOR)
    x0, y0, x1, y1 = ASTRONAUT_FACE
    face = decoded[y0 + AT[1]:y1 + AT[1], x0 + AT[0]:x1 + AT[0]].astype(np.float64)
    original = frame_with_a_bystander()[y0 + AT[1]:y1 + AT[1], x0 + AT[0]:x1 + AT[0]].astype(np.float64)
    correlation = np.corrcoef(detail(original).ravel(), detail(face).ravel())[0, 1]
    assert abs(correlation) < 0.15, "the face's detail (eyes, mouth, edges) is gone from the JPEG itself"
    region = sent.redacted[0]
    assert region.x0 * 1280 <= x0 + AT[0] and region.x1 * 1280 >= x1 + AT[0]
    wire = frame_message(sent, sent_ns=1).frame
    assert [c for b in wire.redacted for c in (b.x0, b.y0, b.x1, b.y1)] == pytest.approx(
        [c for b in sent.redacted for c in (b.x0, b.y0, b.x1, b.y1)])


async def test_turning_privacy_off_is_explicit_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        frames = await sent_frames(EdgeConfig(redact_faces=False))
    assert "face redaction is OFF" in caplog.text
    assert frames[0].redacted == ()
    assert all(b"\xff\xd8" == f.data[:2] for f in frames)
    assert not any(b"astronaut" in r.getMessage().encode() or len(r.getMessage()) > 300 for r in caplog.records)
