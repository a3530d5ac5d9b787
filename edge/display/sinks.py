"""Where annotated frames go: a video file, a desktop window, or a PNG snapshot.

Every sink does its OpenCV work on its own worker thread behind a small bounded buffer, so ``write`` never
blocks the event loop; when the worker falls behind, the oldest pending frame is dropped and counted rather
than letting latency grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self, runtime_checkable

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.edge.errors import EdgeError

Size = tuple[int, int]
"""(width, height) in pixels."""

DEFAULT_WINDOW_TITLE: Final = "Eyeline"
_FOURCC_BY_SUFFIX: Final = {".mp4": "mp4v", ".avi": "MJPG"}
_GUI_BACKENDS: Final = ("GTK", "QT", "WIN32", "COCOA", "WAYLAND", "FRAMEBUFFER")


class SinkError(EdgeError):
    """A frame sink failed while writing or closing."""


class SinkOpenError(SinkError):
    """A sink could not be opened: bad path, unsupported container, or no display."""


class SnapshotError(SinkError):
    """A snapshot image could not be written."""


@runtime_checkable
class FrameSink(Protocol):
    """Takes annotated frames; ``aclose()`` flushes and releases whatever the sink holds."""

    async def write(self, image: Image, capture_ns: int) -> None: ...

    async def aclose(self) -> None: ...


class FrameWriter(Protocol):
    """The blocking half of a video sink, called only from the sink's worker thread."""

    def write(self, image: Image) -> None: ...

    def release(self) -> None: ...


OpenWriter = Callable[[Path, float, Size], FrameWriter]
"""Opens a ``FrameWriter`` for (path, fps, size), raising ``SinkOpenError`` when it cannot."""


_BACKGROUND_NICENESS = 10


def _lower_this_threads_priority() -> None:
    """Run the calling thread at a lower CPU priority (Linux: per thread; elsewhere nothing changes)."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _BACKGROUND_NICENESS)


class _FrameWorker:
    """One daemon thread fed by a bounded buffer that drops its oldest frame when full.

    Daemon, so a sink its owner forgot to close cannot hang interpreter exit; closing it properly is what
    finalizes the output.
    """

    def __init__(self, name: str, capacity: int, consume: Callable[[Image], None],
                 finish: Callable[[], None], *, background: bool = False) -> None:
        self._background = background
        self._pending: deque[Image] = deque()
        self._capacity = capacity
        self._consume, self._finish = consume, finish
        self._wakeup = threading.Condition()
        self._closing = False
        self._failure: BaseException | None = None
        self._failure_reported = False
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, image: Image) -> None:
        with self._wakeup:
            self._raise_failure()
            if self._closing:
                raise SinkError(f"{self._thread.name} is closed")
            if len(self._pending) >= self._capacity:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(image)
            self._wakeup.notify()

    async def close(self) -> None:
        """Let the worker drain what is pending, finish, and exit; raise a failure not yet reported."""
        with self._wakeup:
            self._closing = True
            self._wakeup.notify()
        await asyncio.to_thread(self._thread.join)
        with self._wakeup:
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None and not self._failure_reported:
            self._failure_reported = True
            raise SinkError(f"{self._thread.name} failed: {self._failure}") from self._failure

    def _run(self) -> None:
        if self._background:
            _lower_this_threads_priority()
        try:
            while (image := self._next()) is not None:
                self._consume(image)
                with self._wakeup:
                    self.written += 1
        except Exception as exc:  # handed to the owner on its next call
            self._fail(exc)
        finally:
            self._finish_safely()

    def _next(self) -> Image | None:
        with self._wakeup:
            while not self._pending and not self._closing:
                self._wakeup.wait()
            return self._pending.popleft() if self._pending else None

    def _finish_safely(self) -> None:
        try:
            self._finish()
        except Exception as exc:  # reported through put() or close()
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        with self._wakeup:
            self._failure = self._failure or exc
            self._closing = True
            self._pending.clear()


def open_cv2_writer(path: Path, fps: float, size: Size) -> FrameWriter:
    """A ``cv2.VideoWriter`` for ``path``: mp4v in .mp4, MJPG in .avi."""
    fourcc = _FOURCC_BY_SUFFIX.get(path.suffix.lower())
    if fourcc is None:
        supported = ", ".join(sorted(_FOURCC_BY_SUFFIX))
        raise SinkOpenError(f"cannot write video {path}: container {path.suffix!r} not supported ({supported})")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise SinkOpenError(f"cannot open video {path} for writing (is its folder there and writable?)")
    return _Cv2VideoWriter(path, writer)


class _Cv2VideoWriter:
    """Turns ``cv2.VideoWriter``'s quiet failure (a False return and a log line) into an exception."""

    def __init__(self, path: Path, writer: cv2.VideoWriter) -> None:
        self._path, self._writer = path, writer

    def write(self, image: Image) -> None:
        # OpenCV 4 returns None here, OpenCV 5 a bool; only an explicit False means the frame was lost.
        if self._writer.write(image) is False:
            raise SinkError(f"the encoder refused a frame for {self._path}")

    def release(self) -> None:
        self._writer.release()


class _WorkerSink:
    """What every sink shares: one worker thread behind a bounded buffer, its counts, and closing it."""

    _worker: _FrameWorker
    _closed: bool = False

    @property
    def written(self) -> int:
        return self._worker.written

    @property
    def dropped(self) -> int:
        return self._worker.dropped

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._worker.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()


class VideoFileSink(_WorkerSink):
    """Writes frames to a video file of one fixed size on one dedicated worker thread.

    A frame of another size or orientation (a portrait phone video, a label photo) is scaled to fit and
    letterboxed, on the worker, so any source can be written to a file opened at the glasses' size.
    ``queue_frames`` bounds the frames waiting for the encoder; when it is full the oldest is dropped and
    counted in ``dropped``. ``aclose()`` writes what is pending and finalizes the file.
    """

    def __init__(self, path: Path | str, fps: float, size: Size, *, queue_frames: int = 8,
                 open_writer: OpenWriter = open_cv2_writer) -> None:
        self.path = Path(path)
        self.size = _checked_size(size)
        if not fps > 0:
            raise SinkOpenError(f"video fps must be positive, got {fps}")
        if queue_frames < 1:
            raise SinkOpenError(f"queue_frames must be at least 1, got {queue_frames}")
        writer = open_writer(self.path, float(fps), self.size)
        size = self.size

        def fit_and_write(image: Image) -> None:
            writer.write(letterbox(image, size))

        # A recording is not live: its encoder yields the cores to whatever a wearer waits for (on a small
        # machine running cloud and edge together, the answer's OCR).
        self._worker = _FrameWorker(f"VideoFileSink({self.path.name})", queue_frames, fit_and_write,
                                    writer.release, background=True)

    async def write(self, image: Image, capture_ns: int) -> None:
        """Queue ``image`` for the file; the sink keeps a reference, so do not modify it afterwards."""
        _check_image(image)
        self._worker.put(image)


def letterbox(image: Image, size: Size) -> Image:
    """``image`` scaled to fit ``size`` (width, height) with its aspect kept, centred on black bars."""
    height, width = image.shape[:2]
    if (width, height) == size:
        return image
    scale = min(size[0] / width, size[1] / height)
    fitted = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, fitted, interpolation=interpolation)
    out: Image = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    left, top = (size[0] - fitted[0]) // 2, (size[1] - fitted[1]) // 2
    out[top:top + fitted[1], left:left + fitted[0]] = scaled
    return out


def display_available(*, environ: Mapping[str, str] | None = None, build_info: str | None = None) -> bool:
    """True only when a display is named in the environment and this OpenCV build can open windows.

    opencv-python-headless has no GUI backend (``cv2.imshow`` raises), which its build information says
    without opening anything.
    """
    env = os.environ if environ is None else environ
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    return gui_backend(cv2.getBuildInformation() if build_info is None else build_info) is not None


def gui_backend(build_info: str) -> str | None:
    """The GUI backend named in ``cv2.getBuildInformation()`` text (e.g. 'GTK3', 'QT5'), or None."""
    lines = build_info.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("GUI:")), None)
    if start is None:
        return None
    summary = lines[start].split(":", 1)[1].strip()
    if summary and summary.upper() != "NONE":
        return summary
    return _backend_in_section(lines[start + 1:], _indent(lines[start]))


def _backend_in_section(lines: list[str], section_indent: int) -> str | None:
    """Older builds list backends under an empty 'GUI:' heading, e.g. 'GTK+: YES (ver 3.22)'."""
    for line in lines:
        if line.strip() and _indent(line) <= section_indent:
            break
        name, _, value = line.strip().partition(":")
        if value.strip().upper().startswith("YES") and name.upper().startswith(_GUI_BACKENDS):
            return name.strip()
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


class WindowSink(_WorkerSink):
    """Shows frames in a desktop window; the newest frame wins, stale ones are dropped and counted.

    HighGUI wants one thread to own a window from creation to destruction, so the worker thread does all of
    it. Raises ``SinkOpenError`` at construction where there is no display or no GUI backend.
    """

    def __init__(self, title: str = DEFAULT_WINDOW_TITLE) -> None:
        if not display_available():
            raise SinkOpenError("no window can be opened: no DISPLAY/WAYLAND_DISPLAY, or OpenCV built "
                                "without a GUI backend (opencv-python-headless)")
        self.title = title
        self._worker = _FrameWorker(f"WindowSink({title})", 1, self._show, self._destroy)

    async def write(self, image: Image, capture_ns: int) -> None:
        _check_image(image)
        self._worker.put(image)

    def _show(self, image: Image) -> None:
        cv2.imshow(self.title, image)
        cv2.waitKey(1)  # HighGUI paints only while it pumps events

    def _destroy(self) -> None:
        cv2.destroyWindow(self.title)


def open_sink(video_path: Path | str | None, fps: float, size: Size, prefer_window: bool) -> FrameSink:
    """A window when one is wanted and can be opened, else the video file; ``SinkOpenError`` if neither."""
    if prefer_window and display_available():
        return WindowSink()
    if video_path is not None:
        return VideoFileSink(video_path, fps, size)
    reason = "no display is available" if prefer_window else "no window was asked for"
    raise SinkOpenError(f"nowhere to send frames: {reason} and no video path was given")


async def write_snapshot(path: Path | str, image: Image) -> None:
    """Write ``image`` to ``path`` as a PNG, off the event loop."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise SnapshotError(f"snapshot path {target} must end in .png")
    _check_image(image)
    await asyncio.to_thread(_write_png, target, image)


def _write_png(path: Path, image: Image) -> None:
    try:
        written = cv2.imwrite(str(path), image)
    except cv2.error as exc:
        raise SnapshotError(f"cannot write snapshot {path}: {exc}") from exc
    if not written:
        raise SnapshotError(f"cannot write snapshot {path} (is its folder there and writable?)")


def _checked_size(size: Size) -> Size:
    width, height = size
    if width <= 0 or height <= 0:
        raise SinkOpenError(f"video size must be positive (width, height), got {size}")
    return int(width), int(height)


def _check_image(image: Image) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape, dtype = getattr(image, "shape", None), getattr(image, "dtype", type(image).__name__)
        raise SinkError(f"expected a BGR uint8 image of shape (height, width, 3), got shape {shape} {dtype}")
