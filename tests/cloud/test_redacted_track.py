"""The cloud's redacted camera track: a browser's raw frames come out with faces destroyed, the newest only, with
their timing; a redactor that fails ends the track instead of passing a face on."""

from __future__ import annotations

import asyncio
import fractions

import cv2
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from skimage import data as skdata

from eyeline.cloud.ingress.redacted_track import RedactedVideoTrack, SharedRedactor
from eyeline.devices.base import Image
from eyeline.protos.privacy import FaceRedactor, PrivacyError, Redaction

ASTRONAUT_FACE = (185, 70, 265, 175)


def astronaut() -> Image:
    return np.ascontiguousarray(cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))


class Burst(MediaStreamTrack):
    """``count`` frames at once (as a browser's frames pile up behind a slow detector), then the end."""

    kind = "video"

    def __init__(self, image: Image, count: int) -> None:
        super().__init__()
        self._image, self._left, self._pts = image, count, 0

    async def recv(self) -> VideoFrame:
        if self._left == 0:
            raise MediaStreamError
        self._left -= 1
        frame = VideoFrame.from_ndarray(self._image, format="bgr24")
        frame.pts, frame.time_base = self._pts, fractions.Fraction(1, 90_000)
        self._pts += 3000
        await asyncio.sleep(0)
        return frame


class BrokenRedactor:
    def redact(self, image: Image) -> Redaction:
        raise PrivacyError("the face model is unusable")


async def _drain(track: RedactedVideoTrack) -> list[VideoFrame]:
    out = []
    pump = asyncio.create_task(track.pump())
    try:
        while True:
            out.append(await asyncio.wait_for(track.recv(), 30))
    except MediaStreamError:
        pass
    await pump
    return out


async def test_the_newest_frame_comes_out_with_its_face_destroyed_and_its_timing() -> None:
    image = astronaut()
    track = RedactedVideoTrack(Burst(image, 5), SharedRedactor(FaceRedactor()))
    frames = await _drain(track)
    assert 1 <= len(frames) < 5 and track.dropped == 5 - len(frames)
    assert frames[-1].pts == 4 * 3000 and frames[-1].time_base == fractions.Fraction(1, 90_000)
    out = frames[-1].to_ndarray(format="bgr24")
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert len(np.unique(out[y0 + 10:y1 - 10, x0 + 10:x1 - 10].reshape(-1, 3), axis=0)) <= 16 + 8  # a mosaic
    assert track.regions_redacted >= len(frames) and track.readyState == "ended"


async def test_a_redactor_that_fails_ends_the_track_and_passes_nothing_on(caplog: pytest.LogCaptureFixture) -> None:
    track = RedactedVideoTrack(Burst(astronaut(), 3), SharedRedactor(BrokenRedactor()))
    assert await _drain(track) == []
    assert track.readyState == "ended" and "not passed on" in caplog.text
