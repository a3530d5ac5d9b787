"""The edge's privacy stage: every captured frame has its bystanders' faces destroyed once, before anything else.

``RedactedSource`` puts a ``PrivacyStage`` right after the device's frame source, so whatever reads frames after it
(the WebRTC preview tap, the recorder, the runtime's sampler and keyframe encoder, the display) sees the redacted
pixels only; the daemon calls its stage on each frame it pulls, camera or phone. Each frame is redacted once, in a
worker thread, and marked (``CapturedFrame.redacted``); a frame already marked passes through untouched, so a
second stage further on (the runtime always has one) costs nothing. The stages that send pixels (the keyframe
encoder, the WebRTC preview track) call ``require_redacted`` and refuse an unmarked frame, so a caller that forgets
the stage fails loudly instead of leaking a face.

While a frame is being redacted the next ones wait in a latest-frame slot: a detector slower than the camera
drops stale frames (counted) rather than building a queue or holding the camera back.
Turning privacy off is an explicit choice (``NoRedaction``, logged when made): frames are marked and pass
as captured, without a worker hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import replace

from eyeline.devices.base import CapturedFrame, FrameSource
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.slot import LatestSlot, SlotClosedError
from eyeline.protos.privacy import FaceRedactor, NoRedaction, PrivacyError, Redactor
from eyeline.protos.tasks import TaskSet

log = logging.getLogger(__name__)


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

    async def passes_through(self) -> bool:
        """Whether privacy was explicitly turned off (frames are marked, not changed)."""
        return isinstance(await self._the_redactor(), NoRedaction)

    async def _the_redactor(self) -> Redactor:
        if self._redactor is None:
            loop = asyncio.get_running_loop()
            self._redactor = await loop.run_in_executor(self._executor, default_redactor, self._redact_faces)
        return self._redactor


class RedactedSource:
    """A :class:`FrameSource` yielding ``source``'s frames through a privacy stage.

    Frames that arrive marked, or with redaction explicitly off, go straight through, one at a time, so nothing
    is lost. When faces are to be found, the source is read by a pump into a latest-frame slot while the stage
    works on the frame before: a detector slower than the camera then drops stale frames (counted in
    ``dropped``) instead of holding the camera back and passing on frames ever older than their timestamps.
    """

    def __init__(self, source: FrameSource, stage: PrivacyStage) -> None:
        self._source = source
        self.stage = stage
        self._slot: LatestSlot[CapturedFrame] = LatestSlot()

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        frames = aiter(self._source)
        try:
            first = await anext(frames)
        except StopAsyncIteration:
            return
        if first.redacted is not None or await self.stage.passes_through():
            yield await self.stage.redact(first)
            async for frame in frames:
                yield await self.stage.redact(frame)
            return
        self._slot.put(first)
        async with TaskSet("privacy stage", logger=log) as tasks:
            pump = tasks.spawn(self._pump(frames), name="privacy-pump")
            with contextlib.suppress(SlotClosedError):
                while True:
                    yield await self.stage.redact(await self._slot.get())
            await pump  # re-raises what ended the source, if it failed

    async def _pump(self, frames: AsyncIterator[CapturedFrame]) -> None:
        try:
            async for frame in frames:
                self._slot.put(frame)
        finally:
            self._slot.close()

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
