"""Device strings: each kind opens the source it names, and bad strings say what is wrong."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.devices.base import CapturedFrame, DeviceNotFoundError, DeviceSpecError, FrameSource
from eyeline.devices.espresso import EspressoTruth
from eyeline.devices.image import ImageSource
from eyeline.devices.profiles import GlassesProfile
from eyeline.devices.spec import KNOWN_KINDS, DeviceSpec, open_device, parse_device_spec
from eyeline.devices.synthetic import ShelfTruth, SyntheticShelfSource, make_shelf_scene
from eyeline.devices.video import VideoFileSource
from eyeline.devices.webcam import WebcamSource
from eyeline.protos.clock import VirtualClock

SMALL = GlassesProfile("small", 320, 180, 10.0, 70.0, 500, has_display=False)


async def pull(source: FrameSource, limit: int = 100) -> list[CapturedFrame]:
    frames: list[CapturedFrame] = []
    async for frame in source:
        frames.append(frame)
        if len(frames) >= limit:
            break
    await source.aclose()
    return frames


# --- parsing --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("webcam:0", DeviceSpec("webcam", "0")),
        ("webcam:/dev/video2", DeviceSpec("webcam", "/dev/video2")),
        ("Video:clips/a b.mp4?loop=1", DeviceSpec("video", "clips/a b.mp4", (("loop", "1"),))),
        ("image:C:/stills/shelf.png", DeviceSpec("image", "C:/stills/shelf.png")),
        ("synthetic:shelf?seed=3&frames=90", DeviceSpec("synthetic", "shelf", (("seed", "3"), ("frames", "90")))),
    ],
)
def test_parse_splits_kind_target_and_options(spec: str, parsed: DeviceSpec) -> None:
    assert parse_device_spec(spec) == parsed


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("webcam", "KIND:TARGET"),
        (":0", "KIND:TARGET"),
        ("webcam:", "no target"),
        ("synthetic:shelf?seed", "not KEY=VALUE"),
        ("synthetic:shelf?seed=", "not KEY=VALUE"),
        ("synthetic:shelf?seed=1&seed=2", "given twice"),
    ],
)
def test_parse_rejects_malformed_strings(spec: str, problem: str) -> None:
    with pytest.raises(DeviceSpecError, match=problem):
        parse_device_spec(spec)


# --- opening --------------------------------------------------------------------------------------------------


def test_unknown_kind_lists_the_known_kinds() -> None:
    with pytest.raises(DeviceSpecError) as caught:
        open_device("camera:0")
    message = str(caught.value)
    assert "'camera'" in message
    assert all(kind in message for kind in ("webcam", "video", "image", "synthetic", "replay"))
    assert set(KNOWN_KINDS) == {"webcam", "video", "image", "synthetic", "replay"}


def test_unknown_synthetic_scene_lists_the_known_scenes() -> None:
    with pytest.raises(DeviceSpecError, match=r"'kitchen'.*shelf"):
        open_device("synthetic:kitchen")


def test_unknown_option_lists_what_the_kind_understands() -> None:
    with pytest.raises(DeviceSpecError, match=r"colour.*seed"):
        open_device("synthetic:shelf?colour=red")


@pytest.mark.parametrize(
    "spec", ["synthetic:shelf?seed=three", "synthetic:shelf?fps=fast", "webcam:0?width=wide", "video:x.avi?loop=maybe"]
)
def test_bad_option_values_are_named(spec: str, tmp_path: Path) -> None:
    path = tmp_path / "x.avi"
    path.write_bytes(b"")
    with pytest.raises(DeviceSpecError, match="option"):
        open_device(spec.replace("x.avi", str(path)))


async def test_synthetic_spec_opens_the_seeded_scene_with_its_options() -> None:
    source = open_device("synthetic:shelf?seed=3&frames=4&products=3", profile=SMALL, realtime=False)
    assert isinstance(source, SyntheticShelfSource)
    frames = await pull(source)
    assert len(frames) == 4
    truth = frames[0].truth
    assert isinstance(truth, ShelfTruth)
    assert [item.product for item in truth.products] == list(make_shelf_scene(3, 3).products)
    assert (frames[0].width, frames[0].height) == (SMALL.width, SMALL.height)
    assert frames[1].capture_ns - frames[0].capture_ns == 100_000_000  # the profile's 10 fps


async def test_unpaced_synthetic_runs_on_virtual_time_from_the_given_clock() -> None:
    clock = VirtualClock(start_ns=7)
    frames = await pull(open_device("synthetic:shelf?frames=3&fps=1", clock=clock, profile=SMALL, realtime=False))
    assert [frame.capture_ns for frame in frames] == [7, 1_000_000_007, 2_000_000_007]
    assert clock.now_ns() == 7  # its own virtual clock moved, the caller's did not


async def test_still_camera_option_freezes_the_synthetic_view() -> None:
    frames = await pull(open_device("synthetic:shelf?frames=2&motion=0", profile=SMALL, realtime=False))
    assert np.array_equal(frames[0].image, frames[1].image)


async def test_image_spec_repeats_the_file(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((20, 30, 3), 77, np.uint8))
    source = open_device(f"image:{path}?fps=5&frames=2", clock=VirtualClock())
    assert isinstance(source, ImageSource)
    frames = await pull(source)
    assert [frame.capture_ns for frame in frames] == [0, 200_000_000]
    assert all(frame.image.shape == (20, 30, 3) and frame.image.max() == 77 for frame in frames)


async def test_video_spec_loops_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "two.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (32, 24))
    for level in (30, 200):
        writer.write(np.full((24, 32, 3), level, np.uint8))
    writer.release()
    source = open_device(f"video:{path}?loop=1", realtime=False)
    assert isinstance(source, VideoFileSource)
    frames = await pull(source, limit=5)
    assert [round(float(frame.image.mean()), -1) for frame in frames] == [30, 200, 30, 200, 30]


def test_webcam_spec_takes_an_index_or_a_path() -> None:
    assert isinstance(open_device("webcam:0"), WebcamSource)
    with pytest.raises(DeviceNotFoundError, match="/dev/video-absent"):
        open_device("webcam:/dev/video-absent")


def test_missing_files_are_not_found(tmp_path: Path) -> None:
    for kind in ("video", "image"):
        with pytest.raises(DeviceNotFoundError):
            open_device(f"{kind}:{tmp_path / 'nothing'}")


def test_a_pushed_device_outside_the_daemon_says_where_pushed_frames_come_from() -> None:
    with pytest.raises(DeviceSpecError, match=r"push-ingest.*\[ingest\]"):
        open_device("push:phone")


async def test_synthetic_espresso_spec_renders_the_machine_with_its_truth() -> None:
    frames = await pull(open_device("synthetic:espresso?seed=2&frames=2", profile=SMALL, realtime=False))
    assert len(frames) == 2
    truth = frames[0].truth
    assert isinstance(truth, EspressoTruth)
    assert {component.id for component in truth.components} >= {"group_head", "steam_wand"}
    assert (frames[0].width, frames[0].height) == (SMALL.width, SMALL.height)
    assert not np.array_equal(frames[0].image, frames[1].image)  # the head moves between frames
