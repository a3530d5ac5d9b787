"""Real headless Chromium (Debian's ``chromium``, driven by Playwright) against a real cloud with WHIP and the
viewer on loopback; the fake camera plays a ``.y4m`` rendered from the synthetic shelf."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.synthetic import ShelfTruth, make_shelf_scene, render_shelf_frame

CHROMIUM = Path("/usr/bin/chromium")
# Without these, headless Chromium on a closed network hangs on background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass(frozen=True)
class ShelfVideo:
    path: Path
    image: np.ndarray
    truth: ShelfTruth


def write_y4m(path: Path, image: np.ndarray, frames: int, fps: int = 30) -> None:
    """``image`` (BGR) repeated ``frames`` times as a 4:2:0 YUV4MPEG2 file, what Chromium's fake camera plays."""
    height, width = image.shape[:2]
    planes = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)


@pytest.fixture
def shelf_video(tmp_path: Path) -> ShelfVideo:
    """The shelf seen by a camera held still, so every frame the cloud decodes has the same ground truth."""
    image, truth = render_shelf_frame(make_shelf_scene(seed=3), 0.0, motion_scale=0.0)
    path = tmp_path / "shelf.y4m"
    write_y4m(path, image, frames=15)
    return ShelfVideo(path, image, truth)


@pytest.fixture
async def web_cloud(signer: TokenSigner) -> AsyncIterator[tuple[CloudServer, HttpServer]]:
    cloud = CloudServer(CloudConfig(port=0, warm_up=False), signer)
    await cloud.start()
    http = HttpServer(cloud.cloud)
    await http.start()
    yield cloud, http
    await http.stop()
    await cloud.stop(grace_s=0.5)


@pytest.fixture
async def chromium(shelf_video: ShelfVideo) -> AsyncIterator[Any]:
    """A browser context with a fresh profile whose fake camera plays the shelf video."""
    if not await asyncio.to_thread(CHROMIUM.exists):
        pytest.fail(f"{CHROMIUM} is missing: tools/setup.sh installs Debian's chromium package")
    from playwright.async_api import async_playwright

    profile = Path(tempfile.mkdtemp(prefix="eyeline-chromium-"))
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={shelf_video.path}"],
            viewport={"width": 1600, "height": 1000})
        yield context
        await context.close()
    shutil.rmtree(profile, ignore_errors=True)
