"""A video file as a frame source: decoded in a worker thread, paced at the file's frame rate or unpaced."""

from __future__ import annotations

import asyncio
import math
import os
import threading
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from eyeline.devices.base import CapturedFrame, DeviceError, DeviceNotFoundError, FrameTimeline, Image
from eyeline.protos.clock import Clock, MonotonicClock

# FFmpeg's own log lines ("moov atom not found") would stand beside the one-line error that names the file and
# the fix; it reads this when its backend first loads. A user who wants them sets the variable.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

FALLBACK_FPS = 30.0
"""Frame rate assumed for files whose container does not state one."""


class VideoDecodeError(DeviceError):
    """The file exists but holds no video OpenCV can decode, or not a single decodable frame."""


class VideoFileSource:
    """A :class:`~eyeline.devices.base.FrameSource` reading a video file with OpenCV.

    Frame ``i`` carries ``capture_ns = start + i * 1e9 / fps`` (start: the clock at the first pull), so
    timestamps follow the file's own timeline whether or not it is paced. With ``realtime`` the source waits on
    ``clock`` until each frame is due; otherwise it decodes as fast as it is pulled. With ``loop`` it starts
    over at the end, its timeline running on. Decoding never runs on the event loop.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        realtime: bool = True,
        loop: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self._path = Path(path)
        if not self._path.is_file():
            raise DeviceNotFoundError(f"video file not found: {self._path}")
        if not os.access(self._path, os.R_OK):
            raise DeviceNotFoundError(f"video file cannot be read (permission denied): {self._path}")
        self._realtime = realtime
        self._loop = loop
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._capture_lock = threading.Lock()  # a read in a worker thread must finish before release
        self._capture: cv2.VideoCapture | None = None
        self._timeline = FrameTimeline(FALLBACK_FPS, self._clock)   # the file's own rate, once opened
        self._decoded = 0
        self._closed = False

    @property
    def fps(self) -> float:
        """The file's frame rate (known once opened)."""
        return self._timeline.fps

    async def open(self) -> None:
        """Open the file now, so a file that is not a video fails here rather than at the first frame."""
        if self._capture is None:
            await asyncio.to_thread(self._open_capture)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CapturedFrame:
        if self._closed:
            raise StopAsyncIteration
        await self.open()
        image = await asyncio.to_thread(self._read_frame)
        if image is None or self._closed:
            await self.aclose()
            raise StopAsyncIteration
        seq, capture_ns = self._timeline.take()
        if self._realtime:
            await self._clock.sleep_until(capture_ns)
        return CapturedFrame(seq=seq, capture_ns=capture_ns, image=image)

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.to_thread(self._release)

    # --- worker-thread side -----------------------------------------------------------------------------------

    def _open_capture(self) -> None:
        with self._capture_lock:
            if self._capture is not None or self._closed:
                return
            capture = cv2.VideoCapture(str(self._path))
            if not capture.isOpened():
                capture.release()
                raise VideoDecodeError(f"not a video OpenCV can decode: {self._path}; check that it plays, or "
                                       "re-encode it as H.264 MP4 (ffmpeg -i IN -c:v libx264 OUT.mp4)")
            stated_fps = float(capture.get(cv2.CAP_PROP_FPS))
            fps = stated_fps if math.isfinite(stated_fps) and stated_fps > 0.0 else FALLBACK_FPS
            self._timeline = FrameTimeline(fps, self._clock)
            self._capture = capture

    def _read_frame(self) -> Image | None:
        """The next frame, ``None`` at the end (or once closed)."""
        with self._capture_lock:
            image = self._decode_next()
            if image is None and self._decoded == 0:
                raise VideoDecodeError(f"no decodable frames in {self._path}; check that it plays, or re-encode it "
                                       "as H.264 MP4 (ffmpeg -i IN -c:v libx264 OUT.mp4)")
            if image is None and self._loop and self._rewind():
                image = self._decode_next()
            if image is not None:
                self._decoded += 1
            return image

    def _decode_next(self) -> Image | None:
        if self._capture is None:
            return None
        ok, frame = self._capture.read()
        return np.asarray(frame, dtype=np.uint8) if ok else None

    def _rewind(self) -> bool:
        # Reopening is the one way back to frame 0 that every container and codec honours.
        if self._capture is None:
            return False
        self._capture.release()
        self._capture = cv2.VideoCapture(str(self._path))
        return bool(self._capture.isOpened())

    def _release(self) -> None:
        with self._capture_lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
