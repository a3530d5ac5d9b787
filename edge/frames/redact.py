"""The edge's privacy stage: every captured frame has its bystanders' faces destroyed once, before anything else.

``RedactedSource`` puts a ``PrivacyStage`` right after the device's frame source, so whatever reads frames after it
(the WebRTC preview tap, the recorder, the runtime's sampler and keyframe encoder, the display) sees the redacted
pixels only; the daemon calls its stage on each frame it pulls, camera or phone. Each frame is redacted once, in a
worker thread, and marked (``CapturedFrame.redacted``); a frame already marked passes through untouched, so a
second stage further on (the runtime always has one) costs nothing. The stages that send pixels (the keyframe
encoder, the WebRTC preview track) call ``require_redacted`` and refuse an unmarked frame, so a caller that forgets
the stage fails loudly instead of leaking a face.

Frames are pulled one at a time: while a frame is being redacted the device is not read, so a detector slower
than the camera lowers the frame rate rather than building a queue.
Turning privacy off is an explicit choice (``NoRedaction``, logged when made): frames are marked and pass
as captured, without a worker hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import replace

from eyeline.devices.base import CapturedFrame, FrameSource
from eyeline.edge.errors import EdgeError
from eyeline.protos.privacy import FaceRedactor, NoRedaction, PrivacyError, Redactor


class RedactionError(EdgeError):
    """A frame reached a stage that sends or keeps pixels without passing the privacy stage, or the face model is
    unusable: nothing is sent rather than a face."""


class PrivacyStage:
    """Redacts frames, each once, with one redactor.

    Without a ``redactor``, the one ``redact_faces`` asks for is made at the first frame that needs it, in a worker
    (loading the face model takes a second), so a stage whose frames all arrive marked never loads it.
    """

    def __init__(self, redactor: Redactor | None = None, *, redact_faces: bool = True,
                 executor: Executor | None = None) -> None:
        self._redactor = redactor
        self._redact_faces = redact_faces
        self._executor = executor
        self.regions_redacted = 0         # face regions destroyed so far

    async def redact(self, frame: CapturedFrame) -> CapturedFrame:
        """``frame`` with its faces destroyed, marked; CPU work in a worker thread, never on the loop."""
        if frame.redacted is not None:
            return frame
        redactor = await self._the_redactor()
        if isinstance(redactor, NoRedaction):
            return replace(frame, redacted=())
        loop = asyncio.get_running_loop()
        try:
            redaction = await loop.run_in_executor(self._executor, redactor.redact, frame.image)
        except PrivacyError as exc:
            raise RedactionError(f"frame {frame.seq} could not be redacted: {exc}") from exc
        self.regions_redacted += len(redaction.regions)
        return replace(frame, image=redaction.image, redacted=redaction.regions)

    async def _the_redactor(self) -> Redactor:
        if self._redactor is None:
            loop = asyncio.get_running_loop()
            self._redactor = await loop.run_in_executor(self._executor, default_redactor, self._redact_faces)
        return self._redactor


class RedactedSource:
    """A :class:`FrameSource` yielding ``source``'s frames through a privacy stage."""

    def __init__(self, source: FrameSource, stage: PrivacyStage) -> None:
        self._source = source
        self.stage = stage

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        async for frame in self._source:
            yield await self.stage.redact(frame)

    async def aclose(self) -> None:
        await self._source.aclose()


def default_redactor(redact_faces: bool, reason: str = "redact_faces=False") -> Redactor:
    """CenterFace, or the explicit, logged opt-out."""
    try:
        return FaceRedactor() if redact_faces else NoRedaction(reason)
    except PrivacyError as exc:
        raise RedactionError(str(exc)) from exc


def require_redacted(frame: CapturedFrame, stage: str) -> None:
    """Raise unless ``frame`` passed the privacy stage; ``stage`` names who refuses it."""
    if frame.redacted is None:
        raise RedactionError(f"{stage} refused frame {frame.seq}: it did not pass the privacy stage "
                             "(edge.frames.redact); no pixel leaves the device unredacted")
