"""Bystander privacy at the cloud's door: the camera track of a browser used as glasses, faces destroyed on arrival.

A browser sends its raw camera (it has no edge to redact for it), so the ingress puts ``RedactedVideoTrack`` in
front of everything that reads the track: the live-video relay (preview, ``watch`` viewers) and the drain that
feeds sampled frames to the dispatcher (skills, OCR tracking, the kept keyframes, recording) only ever see its
output. The detector is the edge's own (``protos.privacy``, CenterFace shipped in the package).

The raw track is read continuously by a pump the peer owns, keeping only the newest frame, so a detector slower
than the camera drops frames (counted) instead of letting aiortc's receive queue grow. Decoding, detection and
re-encoding to a video frame run in a worker thread, one frame at a time. If the face model cannot be used, the
track ends: nothing unredacted is ever passed on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from eyeline.protos.privacy import FaceRedactor, PrivacyError, Redactor

log = logging.getLogger(__name__)


class SharedRedactor:
    """One face redactor for the whole ingress, loaded on first use (in a worker: loading takes a second)."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self._redactor = redactor
        self._lock = threading.Lock()

    def get(self) -> Redactor:
        """CPU work on first call: call it from a worker thread."""
        with self._lock:
            if self._redactor is None:
                self._redactor = FaceRedactor()
            return self._redactor


def redact_video_frame(frame: Any, redactor: Redactor) -> tuple[VideoFrame, int]:
    """CPU work: ``frame`` decoded, its faces destroyed, as a new video frame with the same timing; and the
    number of regions destroyed."""
    image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    redaction = redactor.redact(image)
    out = VideoFrame.from_ndarray(np.ascontiguousarray(redaction.image), format="bgr24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out, len(redaction.regions)


class RedactedVideoTrack(MediaStreamTrack):
    """The frames of ``source`` with their faces destroyed; run ``pump()`` as a task of the peer that owns it."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, redactor: SharedRedactor) -> None:
        super().__init__()
        self._source = source
        self._redactor = redactor
        self._latest: Any = None
        self._arrived = asyncio.Event()
        self._source_ended = False
        self.frames_redacted = 0
        self.regions_redacted = 0
        self.dropped = 0                  # frames replaced by a newer one before they could be redacted

    async def pump(self) -> None:
        """Read the raw track until it ends, keeping only its newest frame."""
        try:
            while True:
                frame = await self._source.recv()
                if self._latest is not None:
                    self.dropped += 1
                self._latest = frame
                self._arrived.set()
        except MediaStreamError:
            pass
        finally:
            self._source_ended = True
            self._arrived.set()

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._arrived.wait()
        frame, self._latest = self._latest, None
        if not self._source_ended:
            self._arrived.clear()
        if frame is None:             # the source ended with nothing left to pass on
            self.stop()
            raise MediaStreamError
        try:
            redacted, regions = await asyncio.to_thread(self._redact, frame)
        except PrivacyError as exc:
            log.error("a browser camera track is not passed on: faces cannot be redacted: %s", exc)
            self.stop()
            raise MediaStreamError from exc
        self.frames_redacted += 1
        self.regions_redacted += regions
        return redacted

    def _redact(self, frame: Any) -> tuple[VideoFrame, int]:
        return redact_video_frame(frame, self._redactor.get())
