"""Frame sinks: real video files and PNGs on disk, bounded buffering, and the headless fallbacks."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.devices.base import Image
from eyeline.edge.display.sinks import (
    FrameWriter,
    OpenWriter,
    SinkError,
    SinkOpenError,
    SnapshotError,
    VideoFileSink,
    WindowSink,
    display_available,
    gui_backend,
    letterbox,
    open_sink,
    write_snapshot,
)
from eyeline.edge.errors import EdgeError

WIDTH, HEIGHT = 160, 120
GTK3_BUILD = """
  GUI:                           GTK3
    GTK+:                        YES (ver 3.24.20)
    VTK support:                 NO
"""
OLD_STYLE_BUILD = """
  GUI:
    QT:                          YES (ver 5.15.2 )
      QT OpenGL support:         NO
    GTK+:                        NO
    VTK support:                 NO

  Media I/O:
    ZLib:                        YES
"""
HEADLESS_BUILD = """
  GUI:                           NONE
    VTK support:                 NO
    Built-in Unicode font:       YES
"""


def frame(level: int, width: int = WIDTH, height: int = HEIGHT) -> Image:
    return np.full((height, width, 3), level, np.uint8)


def read_video(path: Path) -> list[Image]:
    capture = cv2.VideoCapture(str(path))
    frames: list[Image] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return frames
            frames.append(np.asarray(image, dtype=np.uint8))
    finally:
        capture.release()


class GatedWriter:
    """A writer that holds its first frame until the test opens the gate, recording what it wrote."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.released = threading.Event()
        self.levels: list[int] = []

    def write(self, image: Image) -> None:
        self.entered.set()
        self.gate.wait(timeout=5)
        self.levels.append(int(image[0, 0, 0]))

    def release(self) -> None:
        self.released.set()


class FailingWriter(GatedWriter):
    def write(self, image: Image) -> None:
        raise RuntimeError("disk full")


def using(writer: FrameWriter) -> OpenWriter:
    return lambda _path, _fps, _size: writer


# --- VideoFileSink --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
async def test_video_file_reads_back_with_every_frame_in_order(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    levels = [20 * n for n in range(12)]
    sink = VideoFileSink(path, fps=10, size=(WIDTH, HEIGHT), queue_frames=len(levels))
    for n, level in enumerate(levels):
        await sink.write(frame(level), capture_ns=n * 100_000_000)
    await sink.aclose()
    frames = read_video(path)
    assert (sink.written, sink.dropped) == (len(levels), 0)
    assert len(frames) == len(levels)
    assert all(image.shape == (HEIGHT, WIDTH, 3) for image in frames)
    assert np.allclose([image.mean() for image in frames], levels, atol=6)


async def test_full_queue_drops_the_oldest_pending_frame_and_counts_it(tmp_path: Path) -> None:
    writer = GatedWriter()
    sink = VideoFileSink(tmp_path / "out.mp4", 30, (WIDTH, HEIGHT), queue_frames=2, open_writer=using(writer))
    await sink.write(frame(0), 0)
    assert await asyncio.to_thread(writer.entered.wait, 5), "worker never took the first frame"
    for level in range(1, 6):
        await sink.write(frame(level), level)  # returns at once although the writer is stuck
    assert sink.dropped == 3
    writer.gate.set()
    await sink.aclose()
    assert writer.levels == [0, 4, 5]
    assert sink.written == 3 and writer.released.is_set()


async def test_unwritable_path_is_a_clear_open_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "out.mp4"
    with pytest.raises(SinkOpenError, match="no-such-folder"):
        VideoFileSink(missing, 30, (WIDTH, HEIGHT))
    assert issubclass(SinkOpenError, EdgeError)


async def test_unknown_container_is_rejected_by_name(tmp_path: Path) -> None:
    with pytest.raises(SinkOpenError, match=r"\.mkv"):
        VideoFileSink(tmp_path / "out.mkv", 30, (WIDTH, HEIGHT))
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize(("fps", "size"), [(0, (WIDTH, HEIGHT)), (30, (0, HEIGHT)), (30, (WIDTH, -1))])
async def test_bad_settings_are_rejected(tmp_path: Path, fps: float, size: tuple[int, int]) -> None:
    with pytest.raises(SinkOpenError):
        VideoFileSink(tmp_path / "out.mp4", fps, size)


async def test_frames_of_another_size_or_orientation_are_letterboxed_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.avi"
    async with VideoFileSink(path, 30, (WIDTH, HEIGHT)) as sink:
        await sink.write(frame(200, width=WIDTH // 4, height=HEIGHT * 2), 0)  # tall: bars left and right
        await sink.write(frame(200, width=WIDTH * 3, height=HEIGHT), 1)       # wide: bars above and below
    tall, wide = read_video(path)
    assert tall.shape == wide.shape == (HEIGHT, WIDTH, 3)
    assert tall[:, : WIDTH // 3].mean() < 10 and tall[:, WIDTH // 2].mean() > 180
    assert wide[: HEIGHT // 4].mean() < 10 and wide[HEIGHT // 2].mean() > 180


def test_letterbox_keeps_the_aspect_and_centres_the_picture() -> None:
    image = np.full((100, 50, 3), 255, np.uint8)
    boxed = letterbox(image, (200, 100))
    columns = np.flatnonzero(boxed[50, :, 0] > 128)
    assert boxed.shape == (100, 200, 3)
    assert (columns.min(), columns.max()) == (75, 124)
    assert letterbox(image, (50, 100)) is image


async def test_a_frame_that_is_not_a_bgr_image_is_refused(tmp_path: Path) -> None:
    async with VideoFileSink(tmp_path / "out.avi", 30, (WIDTH, HEIGHT)) as sink:
        with pytest.raises(SinkError, match="uint8"):
            await sink.write(np.zeros((HEIGHT, WIDTH, 3), np.float32), 0)
    assert sink.written == 0


async def test_write_after_close_is_an_error(tmp_path: Path) -> None:
    sink = VideoFileSink(tmp_path / "out.avi", 30, (WIDTH, HEIGHT))
    await sink.aclose()
    await sink.aclose()  # closing twice is harmless
    with pytest.raises(SinkError, match="closed"):
        await sink.write(frame(0), 0)


async def test_writer_failure_is_raised_by_close(tmp_path: Path) -> None:
    writer = FailingWriter()
    sink = VideoFileSink(tmp_path / "out.mp4", 30, (WIDTH, HEIGHT), open_writer=using(writer))
    await sink.write(frame(0), 0)
    with pytest.raises(SinkError, match="disk full"):
        await sink.aclose()
    assert writer.released.is_set() and sink.written == 0


async def test_writer_failure_is_raised_by_the_next_write_and_only_once(tmp_path: Path) -> None:
    writer = FailingWriter()
    sink = VideoFileSink(tmp_path / "out.mp4", 30, (WIDTH, HEIGHT), open_writer=using(writer))
    await sink.write(frame(0), 0)
    assert await asyncio.to_thread(writer.released.wait, 5)
    with pytest.raises(SinkError, match="disk full"):
        await sink.write(frame(1), 1)
    await sink.aclose()


# --- windows and the choice of sink ---------------------------------------------------------------------


def test_no_display_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert display_available() is False


def test_headless_opencv_has_no_window_even_with_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    if gui_backend(cv2.getBuildInformation()) is not None:
        pytest.skip("this OpenCV build has a GUI backend")
    assert display_available() is False
    with pytest.raises(SinkOpenError, match="GUI"):
        WindowSink()


@pytest.mark.parametrize(("build", "backend"), [(GTK3_BUILD, "GTK3"), (OLD_STYLE_BUILD, "QT"),
                                                 (HEADLESS_BUILD, None), ("no such section", None)])
def test_gui_backend_is_read_from_build_information(build: str, backend: str | None) -> None:
    assert gui_backend(build) == backend


def test_display_needs_both_a_display_variable_and_a_gui_backend() -> None:
    assert display_available(environ={"DISPLAY": ":0"}, build_info=GTK3_BUILD)
    assert display_available(environ={"WAYLAND_DISPLAY": "wayland-0"}, build_info=OLD_STYLE_BUILD)
    assert not display_available(environ={}, build_info=GTK3_BUILD)
    assert not display_available(environ={"DISPLAY": ":0"}, build_info=HEADLESS_BUILD)


async def test_open_sink_falls_back_to_the_video_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    sink = open_sink(tmp_path / "out.avi", 15, (WIDTH, HEIGHT), prefer_window=True)
    assert isinstance(sink, VideoFileSink)
    await sink.write(frame(50), 0)
    await sink.aclose()
    assert len(read_video(tmp_path / "out.avi")) == 1


def test_open_sink_with_nowhere_to_go_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SinkOpenError, match="no display"):
        open_sink(None, 15, (WIDTH, HEIGHT), prefer_window=True)


# --- snapshots ------------------------------------------------------------------------------------------


async def test_snapshot_round_trips_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    path = tmp_path / "snap.png"
    await write_snapshot(path, image)
    loaded = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert loaded is not None and np.array_equal(np.asarray(loaded), image)


async def test_snapshot_to_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="missing"):
        await write_snapshot(tmp_path / "missing" / "snap.png", frame(0))


async def test_snapshot_must_be_png(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"\.png"):
        await write_snapshot(tmp_path / "snap.jpg", frame(0))


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread priority is a POSIX (Linux) feature")
async def test_a_video_file_encodes_at_a_lower_priority_than_the_live_path(tmp_path: Path) -> None:
    sink = VideoFileSink(tmp_path / "out.avi", 10.0, (64, 48))
    try:
        await sink.write(np.zeros((48, 64, 3), np.uint8), 0)
        await asyncio.sleep(0.2)                                   # the worker has started and lowered itself
        worker = sink._worker._thread
        assert worker.native_id is not None and worker.is_alive()
        assert os.getpriority(os.PRIO_PROCESS, worker.native_id) > os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        await sink.aclose()
    assert sink.written == 1
