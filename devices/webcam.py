"""A USB or built-in webcam standing in for the glasses' camera (V4L2 on Linux)."""

from __future__ import annotations

import asyncio
import glob
import math
import sys
import threading
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from eyeline.devices.base import CapturedFrame, DeviceError, DeviceNotFoundError, DeviceSpecError, Image
from eyeline.protos.clock import Clock, MonotonicClock


class CameraReadError(DeviceError):
    """An open camera stopped delivering frames (unplugged, or taken by another process)."""

    retryable = True


class WebcamSource:
    """A :class:`~eyeline.devices.base.FrameSource` reading a camera with ``cv2.VideoCapture``.

    ``device`` is an index (``0``) or a device path (``/dev/video2``). ``width``, ``height`` and ``fps`` are
    requests; the camera may pick the nearest mode it supports. The camera paces the stream itself: each
    blocking read runs in a worker thread, and ``capture_ns`` is taken on ``clock`` when the read returns.
    The camera is opened on the first pull, or earlier with :meth:`open`.
    """

    def __init__(
        self,
        device: int | str,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        _check_request(device, width, height, fps)
        self._device = device
        self._request = (width, height, fps)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._capture_lock = threading.Lock()  # a read in a worker thread must finish before release
        self._capture: cv2.VideoCapture | None = None
        self._next_seq = 0
        self._closed = False

    async def open(self) -> None:
        """Open the camera now; raises :class:`DeviceNotFoundError` naming the device if it cannot be opened."""
        if self._capture is None:
            await asyncio.to_thread(self._open_capture)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CapturedFrame:
        if self._closed:
            raise StopAsyncIteration
        await self.open()
        image = await asyncio.to_thread(self._read_frame)
        capture_ns = self._clock.now_ns()
        if image is None:
            raise StopAsyncIteration
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return CapturedFrame(seq=seq, capture_ns=capture_ns, image=image)

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.to_thread(self._release)

    # --- worker-thread side -----------------------------------------------------------------------------------

    def _open_capture(self) -> None:
        with self._capture_lock:
            if self._capture is not None or self._closed:
                return
            if _linux_index_missing(self._device):  # say so before OpenCV warns about it on stderr
                raise DeviceNotFoundError(no_camera_message(self._device))
            capture = _video_capture(self._device)
            if not capture.isOpened():
                capture.release()
                raise DeviceNotFoundError(no_camera_message(self._device))
            width, height, fps = self._request
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            capture.set(cv2.CAP_PROP_FPS, fps)
            self._capture = capture

    def _read_frame(self) -> Image | None:
        """The next frame, or ``None`` once closed."""
        with self._capture_lock:
            if self._capture is None:
                return None
            ok, frame = self._capture.read()
            if not ok and self._closed:
                return None
            if not ok:
                raise CameraReadError(f"webcam {self._device!r} stopped delivering frames")
            return np.asarray(frame, dtype=np.uint8)

    def _release(self) -> None:
        with self._capture_lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None


def _check_request(device: int | str, width: int, height: int, fps: float) -> None:
    if isinstance(device, int) and device < 0:
        raise DeviceSpecError(f"webcam index must be >= 0, got {device}")
    if isinstance(device, str) and not Path(device).exists():
        raise DeviceNotFoundError(no_camera_message(device))
    if width <= 0 or height <= 0:
        raise DeviceSpecError(f"webcam frame size must be positive, got {width}x{height}")
    if not (math.isfinite(fps) and fps > 0.0):
        raise DeviceSpecError(f"webcam fps must be a positive number, got {fps}")


def cameras_found(pattern: str = "/dev/video*") -> list[str]:
    """The camera device nodes present now, by name only: cheap, and no camera is opened to find them."""
    return sorted(glob.glob(pattern), key=lambda name: (len(name), name))


def no_camera_message(device: int | str, found: list[str] | None = None) -> str:
    """One line: which camera was asked for, which exist, and how to run without one."""
    if found is None and not sys.platform.startswith("linux"):   # no device nodes to list: say only what failed
        listed = "try another index (webcam:1)"
    else:
        found = cameras_found() if found is None else found
        listed = f"cameras found: {', '.join(found)}" if found else "no camera found (no /dev/video*)"
    return (f"webcam {device!r} could not be opened; {listed}. Without a camera, use a file: "
            "--device video:PATH (add ?loop=1 to repeat it) or --device image:PATH, or synthetic:shelf")


def _linux_index_missing(device: int | str) -> bool:
    return isinstance(device, int) and sys.platform.startswith("linux") and not Path(f"/dev/video{device}").exists()


def _video_capture(device: int | str) -> cv2.VideoCapture:
    # V4L2 directly: the default backend probe on Linux can try GStreamer first and stall for seconds.
    if sys.platform.startswith("linux") and hasattr(cv2, "CAP_V4L2"):
        return cv2.VideoCapture(device, cv2.CAP_V4L2)
    return cv2.VideoCapture(device)
