"""The developer viewer in real headless Chromium, attached to a session that ``eyeline edge --transport webrtc``
started in its own process: the session's live video plays, with the overlays on a canvas over it."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.protos.v1 import session_pb2 as pb

from .test_glasses_page import QUESTION, _badge_blobs, _canvas_image
from .waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _start_edge(cloud: CloudServer, http: HttpServer, token: str, out: Path) -> subprocess.Popen[bytes]:
    args = ["-m", "eyeline.tools.cli", "edge", "--device", "synthetic:shelf?seed=3", "--cloud", cloud.address,
            "--transport", "webrtc", "--whip", f"{http.url}/whip", "--duration", "60", "--video", str(out)]
    return subprocess.Popen([sys.executable, *args], env={**os.environ, "EYELINE_TOKEN": token},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def test_the_viewer_shows_the_overlays_and_trace_of_an_edge_session(
        chromium: Any, web_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner, tmp_path: Path) -> None:
    cloud, http = web_cloud
    token = signer.mint("viewer-test")
    edge = _start_edge(cloud, http, token, tmp_path / "edge.mp4")
    try:
        await wait_until(lambda: bool(cloud.sessions.active()), 30, "the edge's session")
        session_id = cloud.sessions.active()[0].session_id
        assert http.webrtc.peer_of(session_id) is not None  # it came over WebRTC
        session = cloud.sessions.get(session_id)
        assert session is not None
        sent = session.watch(size=256)

        page = await chromium.new_page()
        await page.goto(f"{http.url}/#token={token}&session={session_id}")
        await page.wait_for_selector(f"#sessions li[data-session='{session_id}']", timeout=10_000)
        await wait_until(lambda: session.frame(None) is not None, 20, "a keyframe")
        await page.select_option("#mode", "instant")
        await page.fill("#question", QUESTION)
        await page.click("#ask button")
        await page.wait_for_function("document.getElementById('answer').textContent.length > 0", timeout=90_000)

        messages = [sent.get_nowait() for _ in range(sent.qsize())]
        overlay = next(m.overlay for m in messages if m is not None and m.WhichOneof("kind") == "overlay")
        trace = [m.trace for m in messages if m is not None and m.WhichOneof("kind") == "trace"]
        names = {v: k.removeprefix("STEP_KIND_").lower() for k, v in pb.StepKind.items()}
        steps = await page.locator("#trace li").all_text_contents()
        assert steps == [f"{names[t.kind]}: {t.text}" for t in trace]

        await page.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=20_000)
        played = await page.evaluate("document.getElementById('video').currentTime")
        await asyncio.sleep(1.0)
        assert await page.evaluate("document.getElementById('video').currentTime") > played
        assert len(http.webrtc.viewers) == 1
        # Overlays go on the live view only when asked (the frozen panel shows them on their own keyframe).
        await page.check("#live-overlays")
        # A 4:3 box letterboxes the 16:9 video: the overlay canvas must cover the picture, not the box.
        await page.evaluate("document.getElementById('picture').style.aspectRatio = '4 / 3'")
        await asyncio.sleep(0.3)
        geometry = await page.evaluate(_GEOMETRY)
        _assert_canvas_covers_the_picture(geometry)
        image = await _canvas_image(page)
        assert image.shape[:2] == (geometry["vh"], geometry["vw"])
        height, width = image.shape[:2]
        badges = [(i.badge.center.x * width, i.badge.center.y * height) for i in overlay.items
                  if i.WhichOneof("shape") == "badge"]
        blobs = _badge_blobs(image)
        assert badges and len(blobs) == len(badges)
        for x, y in badges:
            assert min((bx - x) ** 2 + (by - y) ** 2 for bx, by in blobs) <= 4.0 ** 2

        # The frozen panel fetched the overlay's own keyframe from the cloud (this session pushes none: it has
        # live video) and shows the badges on it.
        await page.wait_for_function(f"document.getElementById('frozen').dataset.seq === '{overlay.frame_seq}'",
                                     timeout=10_000)
        frozen = await _frozen_image(page)
        kept = session.history.frame(overlay.frame_seq)
        assert kept is not None and frozen.shape[:2] == kept.image.shape[:2]
        fh, fw = frozen.shape[:2]
        frozen_blobs = _badge_blobs(frozen)
        expected = [(i.badge.center.x * fw, i.badge.center.y * fh) for i in overlay.items
                    if i.WhichOneof("shape") == "badge"]
        assert len(frozen_blobs) == len(expected)
        for x, y in expected:
            assert min((bx - x) ** 2 + (by - y) ** 2 for bx, by in frozen_blobs) <= 4.0 ** 2

        lit = page.locator("#trace li").first
        await lit.hover()
        assert "lit" in (await lit.get_attribute("class") or "")
        await page.close()
        await wait_until(lambda: not http.webrtc.viewers, 10, "the viewer's peer to go with its tab")
    finally:
        edge.send_signal(signal.SIGINT)  # Ctrl-C: the edge hangs up (WHIP DELETE) on its way out
        edge.wait(timeout=15)
    await wait_until(lambda: not http.webrtc.peers and not cloud.sessions.active(), 15, "the edge's peer to go")


async def _frozen_image(page: Any) -> np.ndarray:
    """The frozen keyframe panel's canvas (BGR) at its own resolution, the keyframe's."""
    data_url = await page.evaluate("document.getElementById('frozen').toDataURL('image/png')")
    raw = np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_COLOR)


_GEOMETRY = """() => {
  const video = document.getElementById('video'), canvas = document.getElementById('view');
  const v = video.getBoundingClientRect(), c = canvas.getBoundingClientRect();
  return { vw: video.videoWidth, vh: video.videoHeight, video: [v.x, v.y, v.width, v.height],
           canvas: [c.x, c.y, c.width, c.height] };
}"""


def _assert_canvas_covers_the_picture(g: dict[str, Any]) -> None:
    x, y, width, height = g["video"]
    scale = min(width / g["vw"], height / g["vh"])
    shown = (x + (width - g["vw"] * scale) / 2, y + (height - g["vh"] * scale) / 2, g["vw"] * scale, g["vh"] * scale)
    assert shown[1] > y + 10  # bars above and below: the letterboxing is real
    assert all(abs(a - b) <= 1.0 for a, b in zip(g["canvas"], shown, strict=True)), (g["canvas"], shown)


async def test_the_viewer_api_refuses_a_wrong_token(web_cloud: tuple[CloudServer, HttpServer]) -> None:
    _, http = web_cloud
    forged = TokenSigner(b"not the cloud's secret, 32 bytes!").mint("intruder")
    async with aiohttp.ClientSession() as client:
        for path in ("/api/sessions", "/api/schema", "/api/sessions/x/events"):
            async with client.get(f"{http.url}{path}", headers={"Authorization": f"Bearer {forged}"}) as response:
                assert response.status == 401, path
        async with client.get(f"{http.url}/") as response:
            assert response.status == 200 and "Eyeline viewer" in await response.text()
