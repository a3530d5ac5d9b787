"""Frame sources: pacing on the injected clock, ending, closing, and loud failures on bad input."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.devices import synthetic
from eyeline.devices.base import (
    CapturedFrame,
    DeviceError,
    DeviceNotFoundError,
    DeviceSpecError,
    FrameSource,
    Image,
)
from eyeline.devices.image import ImageDecodeError, ImageSource
from eyeline.devices.synthetic import ShelfTruth, SyntheticShelfSource, make_shelf_scene
from eyeline.devices.video import VideoDecodeError, VideoFileSource
from eyeline.devices.webcam import WebcamSource
from eyeline.protos.clock import MonotonicClock, VirtualClock

VIDEO_LEVELS = (10, 45, 80, 115, 150, 185, 220)  # one brightness per frame, so order can be read back


async def pull(source: FrameSource, limit: int = 1000) -> list[CapturedFrame]:
    frames: list[CapturedFrame] = []
    async for frame in source:
        frames.append(frame)
        if len(frames) >= limit:
            break
    return frames


@pytest.fixture
def video_path(tmp_path: Path) -> Path:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (64, 48))
    assert writer.isOpened()
    for level in VIDEO_LEVELS:
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    return path


@pytest.fixture
def still_path(tmp_path: Path) -> Path:
    path = tmp_path / "still.png"
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30] = (255, 0, 0)
    image[:, 30:] = (0, 0, 255)
    assert cv2.imwrite(str(path), image)
    return path


def brightness(image: Image) -> float:
    return float(image.mean())


# --- synthetic shelf ------------------------------------------------------------------------------------------


async def test_synthetic_source_paces_exactly_on_a_virtual_clock() -> None:
    clock = VirtualClock(start_ns=5_000)
    source = SyntheticShelfSource(width=320, height=180, fps=25.0, frames=6, clock=clock)
    frames = await pull(source)
    assert [frame.seq for frame in frames] == list(range(6))
    assert [frame.capture_ns for frame in frames] == [5_000 + index * 40_000_000 for index in range(6)]
    assert clock.now_ns() == frames[-1].capture_ns


async def test_synthetic_source_keeps_the_fractional_frame_period_without_drift() -> None:
    frames = await pull(SyntheticShelfSource(width=160, height=90, fps=30.0, frames=91, clock=VirtualClock()))
    assert frames[90].capture_ns == 3_000_000_000
    gaps = {later.capture_ns - earlier.capture_ns for earlier, later in itertools.pairwise(frames)}
    assert gaps <= {33_333_333, 33_333_334}


async def test_synthetic_frames_carry_truth_whose_motion_chains() -> None:
    scene = make_shelf_scene(4)
    frames = await pull(SyntheticShelfSource(scene, width=320, height=180, frames=4, clock=VirtualClock()))
    truths = [frame.truth for frame in frames]
    assert all(isinstance(truth, ShelfTruth) for truth in truths)
    for before, after in itertools.pairwise(truths):
        composed = np.reshape(after.motion, (3, 3)) @ np.reshape(before.world_to_frame, (3, 3))
        assert np.allclose(composed / composed[2, 2], np.reshape(after.world_to_frame, (3, 3)))
    assert (frames[0].width, frames[0].height) == (320, 180)


async def test_synthetic_frame_matches_a_direct_render_of_its_time() -> None:
    scene = make_shelf_scene(1)
    frames = await pull(SyntheticShelfSource(scene, width=320, height=180, fps=10.0, frames=8, clock=VirtualClock()))
    expected, _ = synthetic.render_shelf_frame(scene, 0.7, 320, 180)
    assert np.array_equal(frames[7].image, expected)


async def test_synthetic_source_renders_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    render_threads: set[int] = set()
    real_render = synthetic.render_shelf_frame

    def recording_render(*args: object, **kwargs: object) -> tuple[Image, ShelfTruth]:
        render_threads.add(threading.get_ident())
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(synthetic, "render_shelf_frame", recording_render)
    await pull(SyntheticShelfSource(width=160, height=90, frames=2, clock=VirtualClock()))
    assert render_threads and threading.get_ident() not in render_threads


async def test_synthetic_source_paces_in_real_time_on_the_monotonic_clock() -> None:
    source = SyntheticShelfSource(width=160, height=90, fps=50.0, frames=5, clock=MonotonicClock())
    started = time.monotonic()
    frames = await pull(source)
    assert time.monotonic() - started >= 0.079
    assert frames[-1].capture_ns - frames[0].capture_ns == 80_000_000


async def test_aclose_ends_iteration() -> None:
    source = SyntheticShelfSource(width=160, height=90, clock=VirtualClock())
    first = await anext(source)
    await source.aclose()
    assert first.seq == 0
    assert await pull(source) == []


async def test_aclose_during_a_pending_frame_ends_it() -> None:
    source = SyntheticShelfSource(width=160, height=90, fps=20.0, clock=MonotonicClock())
    await anext(source)
    pending = asyncio.ensure_future(anext(source))
    await asyncio.sleep(0.005)
    await source.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, timeout=1.0)


async def test_zero_frames_yields_nothing() -> None:
    assert await pull(SyntheticShelfSource(width=160, height=90, frames=0, clock=VirtualClock())) == []


@pytest.mark.parametrize("kwargs", [{"fps": 0.0}, {"fps": float("inf")}, {"frames": -1}, {"width": 0}])
def test_synthetic_source_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(DeviceSpecError):
        SyntheticShelfSource(**kwargs)  # type: ignore[arg-type]


def test_sources_follow_the_frame_source_protocol(still_path: Path, video_path: Path) -> None:
    sources = [SyntheticShelfSource(), ImageSource(still_path), VideoFileSource(video_path), WebcamSource(0)]
    assert all(isinstance(source, FrameSource) for source in sources)


# --- video file -----------------------------------------------------------------------------------------------


async def test_video_file_is_read_back_in_order_on_its_own_timeline(video_path: Path) -> None:
    clock = VirtualClock(start_ns=1_000)
    source = VideoFileSource(video_path, realtime=False, clock=clock)
    frames = await pull(source)
    assert [frame.seq for frame in frames] == list(range(len(VIDEO_LEVELS)))
    assert [brightness(frame.image) for frame in frames] == pytest.approx(VIDEO_LEVELS, abs=6)
    assert [frame.capture_ns for frame in frames] == [1_000 + index * 40_000_000 for index in range(7)]
    assert (frames[0].width, frames[0].height) == (64, 48)
    assert source.fps == 25.0
    assert clock.now_ns() == 1_000  # as fast as pulled: nobody waited


async def test_realtime_video_waits_for_each_frame_on_the_clock(video_path: Path) -> None:
    clock = VirtualClock()
    frames = await pull(VideoFileSource(video_path, realtime=True, clock=clock))
    assert clock.now_ns() == frames[-1].capture_ns == 6 * 40_000_000


async def test_looping_video_starts_over_and_its_timeline_runs_on(video_path: Path) -> None:
    source = VideoFileSource(video_path, realtime=False, loop=True, clock=VirtualClock())
    frames = await pull(source, limit=10)
    await source.aclose()
    expected = [*VIDEO_LEVELS, *VIDEO_LEVELS[:3]]
    assert [brightness(frame.image) for frame in frames] == pytest.approx(expected, abs=6)
    assert frames[9].seq == 9 and frames[9].capture_ns == 9 * 40_000_000


async def test_video_aclose_ends_iteration(video_path: Path) -> None:
    source = VideoFileSource(video_path, realtime=False, clock=VirtualClock())
    await anext(source)
    await source.aclose()
    assert await pull(source) == []


def test_missing_video_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFoundError, match=r"missing\.mp4"):
        VideoFileSource(tmp_path / "missing.mp4")


async def test_a_file_that_is_not_a_video_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "notes.avi"
    path.write_text("these are notes, not frames\n" * 20)
    with pytest.raises(VideoDecodeError, match=r"notes\.avi"):
        await pull(VideoFileSource(path, clock=VirtualClock()))


async def test_a_video_without_frames_fails_loudly_rather_than_ending_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.avi"
    cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (64, 48)).release()
    assert path.is_file()
    source = VideoFileSource(path, clock=VirtualClock())
    with pytest.raises(DeviceError, match="no decodable frames"):
        await pull(source)
    await source.aclose()


# --- still image ----------------------------------------------------------------------------------------------


async def test_image_source_repeats_the_still_at_its_rate(still_path: Path) -> None:
    expected = cv2.imread(str(still_path))
    assert expected is not None
    clock = VirtualClock(start_ns=0)
    frames = await pull(ImageSource(still_path, fps=4.0, frames=3, clock=clock))
    assert [frame.capture_ns for frame in frames] == [0, 250_000_000, 500_000_000]
    assert all(np.array_equal(frame.image, expected) for frame in frames)


async def test_each_image_frame_owns_its_pixels(still_path: Path) -> None:
    frames = await pull(ImageSource(still_path, frames=2, clock=VirtualClock()))
    frames[0].image[:] = 0
    assert frames[1].image.max() == 255


async def test_image_aclose_ends_iteration(still_path: Path) -> None:
    source = ImageSource(still_path, clock=VirtualClock())
    await anext(source)
    await source.aclose()
    assert await pull(source) == []


def test_missing_image_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFoundError, match=r"gone\.png"):
        ImageSource(tmp_path / "gone.png")


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10, b"plain text, not pixels", b""],
    ids=["corrupt-png", "text", "empty"],
)
async def test_an_undecodable_image_fails_loudly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    source = ImageSource(path, clock=VirtualClock())
    with pytest.raises(ImageDecodeError, match=r"broken\.png"):
        await source.open()


@pytest.mark.parametrize("kwargs", [{"fps": 0.0}, {"fps": float("nan")}, {"frames": -2}])
def test_image_source_rejects_bad_settings(still_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(DeviceSpecError):
        ImageSource(still_path, **kwargs)  # type: ignore[arg-type]


# --- webcam (no hardware here: only the failures) -------------------------------------------------------------


async def test_a_missing_camera_index_is_not_found_promptly() -> None:
    source = WebcamSource(63, clock=VirtualClock())
    started = time.monotonic()
    with pytest.raises(DeviceNotFoundError, match="63"):
        await anext(source)
    assert time.monotonic() - started < 5.0
    await source.aclose()


def test_a_missing_camera_path_is_not_found_at_once() -> None:
    with pytest.raises(DeviceNotFoundError, match="/dev/video-none"):
        WebcamSource("/dev/video-none")


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"fps": -1.0}])
def test_webcam_rejects_bad_requests(kwargs: dict[str, float]) -> None:
    with pytest.raises(DeviceSpecError):
        WebcamSource(0, **kwargs)  # type: ignore[arg-type]


def test_webcam_rejects_a_negative_index() -> None:
    with pytest.raises(DeviceSpecError, match="index"):
        WebcamSource(-1)
