"""The browser as the glasses, in real headless Chromium: camera -> WebRTC -> cloud -> overlays on the canvas."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpConfig, HttpServer

from .conftest import CHROMIUM, CHROMIUM_ARGS, ShelfVideo
from .waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUESTION = "which of these has the most protein?"
BADGE_RGB = np.array([255, 0, 255])  # the page's default badge colour, as the edge renderer's


async def _canvas_image(page: Any) -> np.ndarray:
    """The canvas as a BGR image at the canvas's own resolution (the frame's)."""
    data_url = await page.evaluate("document.getElementById('view').toDataURL('image/png')")
    raw = np.frombuffer(__import__("base64").b64decode(data_url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_COLOR)


def _badge_blobs(image: np.ndarray) -> list[tuple[float, float]]:
    bgr = BADGE_RGB[::-1]
    mask = np.all(np.abs(image.astype(int) - bgr) <= 20, axis=2).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
    return [tuple(centroids[i]) for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= 60]


async def test_the_camera_page_gets_the_protein_answer_with_badges_on_the_true_products(
        chromium: Any, web_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner,
        shelf_video: ShelfVideo) -> None:
    cloud, http = web_cloud
    page = await chromium.new_page()
    await page.goto(f"{http.url}/glasses#token={signer.mint('browser')}")
    notice = page.locator("#privacy")   # the wearer is told the camera goes up raw and the cloud destroys faces
    assert await notice.is_visible() and "destroys every" in " ".join((await notice.text_content() or "").split())
    await page.click("#start")
    await page.wait_for_function("document.getElementById('status').textContent.startsWith('session ')",
                                 timeout=20_000)
    assert len(http.webrtc.peers) == 1 and len(cloud.sessions.active()) == 1
    session = cloud.sessions.get(cloud.sessions.active()[0].session_id)
    assert session is not None
    await wait_until(lambda: session.frame(None) is not None, 20, "a decoded track frame")

    await page.fill("#question", QUESTION)
    await page.click("#ask button")
    await page.wait_for_function("document.getElementById('answer').textContent.length > 0", timeout=90_000)
    answer = await page.text_content("#answer")
    assert shelf_video.truth.best_product().display_name.lower() in (answer or "").lower()
    steps = await page.locator("#trace li").all_text_contents()
    assert steps[0].startswith("perceive") and any(step.startswith("answer") for step in steps)

    await asyncio.sleep(0.5)  # a few animation frames draw the overlay
    image = await _canvas_image(page)
    assert image.shape[:2] == shelf_video.image.shape[:2]
    visible = [p for p in shelf_video.truth.products if p.visible_fraction >= 0.99]
    blobs = _badge_blobs(image)
    assert len(blobs) == len(visible)
    for x, y in blobs:
        assert any(p.box[0] <= x <= p.box[2] and p.box[1] <= y <= p.box[3] for p in visible), (x, y)
    await page.screenshot(path=str(shelf_video.path.with_suffix(".png")))
    # The page reports what it drew; its clock is not the cloud's, so the cloud places it by the round trip.
    await wait_until(lambda: bool(session.latency), 5, "a latency record from the page")
    record = session.latency[-1]
    times = [record.received_ns, record.reasoned_ns, record.overlay_sent_ns, record.arrived_ns, record.rendered_ns]
    assert not record.shared_clock and times == sorted(times)

    await page.close()
    await wait_until(lambda: not http.webrtc.peers and not cloud.sessions.active(), 15, "the peer to go")


def _camera_difference(canvas: np.ndarray, camera: np.ndarray, keep_out: np.ndarray | None = None) -> float:
    """Mean absolute difference between the canvas and the camera's picture, outside ``keep_out`` (drawn over)."""
    difference = np.abs(canvas.astype(np.int16) - camera.astype(np.int16)).mean(axis=2)
    return float(difference[keep_out == 0].mean() if keep_out is not None else difference.mean())


async def _start(page: Any, http: HttpServer, signer: TokenSigner) -> None:
    await page.goto(f"{http.url}/glasses#token={signer.mint('browser')}")
    await page.click("#start")
    await page.wait_for_function("document.getElementById('status').textContent.startsWith('session ')",
                                 timeout=20_000)


async def test_the_page_shows_the_live_camera_with_the_overlays_on_it(
        chromium: Any, web_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner,
        shelf_video: ShelfVideo) -> None:
    cloud, http = web_cloud
    page = await chromium.new_page()
    await _start(page, http, signer)
    await page.wait_for_function("!document.getElementById('camera').paused", timeout=10_000)
    await asyncio.sleep(0.5)
    image = await _canvas_image(page)
    assert image.shape[:2] == shelf_video.image.shape[:2]
    assert image.mean() > 40, "the canvas is black: the camera is not drawn"
    assert _camera_difference(image, shelf_video.image) < 12   # the shelf itself, not a blank or another picture

    session = cloud.sessions.get(cloud.sessions.active()[0].session_id)
    assert session is not None
    await wait_until(lambda: session.frame(None) is not None, 20, "a decoded track frame")
    await page.fill("#question", QUESTION)
    await page.click("#ask button")
    await page.wait_for_function("document.getElementById('answer').textContent.length > 0", timeout=90_000)
    await asyncio.sleep(0.5)
    image = await _canvas_image(page)
    drawn = np.any(np.abs(image.astype(np.int16) - shelf_video.image.astype(np.int16)) > 60, axis=2)
    assert 0.001 < drawn.mean() < 0.5, "the overlay is drawn over part of the picture, not instead of it"
    badges = np.all(np.abs(image.astype(int) - BADGE_RGB[::-1]) <= 20, axis=2)
    assert badges.sum() > 60
    keep_out = cv2.dilate(drawn.astype(np.uint8), np.ones((9, 9), np.uint8))
    assert _camera_difference(image, shelf_video.image, keep_out) < 12   # the camera around the overlays
    placed = await page.evaluate("window.eyelinePlaced")
    assert placed["alpha"] == 1 and abs(placed["x"]) < 0.02 and abs(placed["y"]) < 0.03   # a still camera
    await page.close()


async def test_on_a_phone_the_page_fits_the_screen_and_asks_for_the_rear_camera(
        chromium: Any, web_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner,
        shelf_video: ShelfVideo) -> None:
    _, http = web_cloud
    page = await chromium.new_page()
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.add_init_script("""
        const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
        navigator.mediaDevices.getUserMedia = (wanted) => { window.asked = wanted; return open(wanted); };
    """)
    await _start(page, http, signer)
    asked = await page.evaluate("window.asked")
    assert asked["video"]["facingMode"] == {"ideal": "environment"}
    box = await page.locator("#view").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1 and box["width"] > 300
    question = await page.locator("#question").bounding_box()
    assert question is not None and question["x"] + question["width"] <= 390 + 1
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    image = await _canvas_image(page)
    assert _camera_difference(image, shelf_video.image) < 12
    await page.close()


def _png_url(image: np.ndarray) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode()


async def test_overlays_follow_a_pan_of_the_camera_and_fade_when_the_view_changes(
        chromium: Any, web_cloud: tuple[CloudServer, HttpServer], shelf_video: ShelfVideo) -> None:
    from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame

    _, http = web_cloud
    page = await chromium.new_page()
    await page.goto(f"{http.url}/glasses")
    elsewhere = render_shelf_frame(make_shelf_scene(seed=11), 0.0, motion_scale=0.0)[0][::-1, ::-1].copy()
    placed = await page.evaluate("""async ([shelf, other]) => {
        const { WorldLock } = await import('/static/worldlock.js');
        const load = (url) => new Promise((done) => { const i = new Image(); i.onload = () => done(i); i.src = url; });
        const [picture, away] = await Promise.all([load(shelf), load(other)]);
        const frame = (dx, dy, image = picture) => {
            const c = document.createElement('canvas'); c.width = 1280; c.height = 720;
            const g = c.getContext('2d'); g.fillStyle = '#000'; g.fillRect(0, 0, 1280, 720);
            g.drawImage(image, dx, dy); return c;
        };
        const lock = new WorldLock();
        lock.anchor(frame(0, 0));
        return { still: lock.follow(frame(0, 0), 0), panned: lock.follow(frame(100, -40), 16),
                 changed: lock.follow(frame(0, 0, away), 32), gone: lock.follow(frame(0, 0, away), 500) };
    }""", [_png_url(shelf_video.image), _png_url(elsewhere)])
    assert placed["still"] == {"x": 0, "y": 0, "alpha": 1}
    assert abs(placed["panned"]["x"] * 1280 - 100) <= 20 and abs(placed["panned"]["y"] * 720 + 40) <= 20
    assert placed["panned"]["alpha"] == 1
    assert 0 < placed["changed"]["alpha"] <= 1   # it fades rather than vanishing at once
    assert placed["gone"]["alpha"] == 0
    await page.close()


async def test_a_phone_on_the_lan_gets_the_camera_over_https_and_a_clear_error_over_http(
        web_cloud: tuple[CloudServer, HttpServer], signer: TokenSigner, shelf_video: ShelfVideo,
        tmp_path: Path) -> None:
    """As a phone reaches the cloud by a LAN name (not localhost): plain HTTP is no secure origin, so the browser
    offers no camera and the page says what to do; over HTTPS (``--tls-cert``) the camera shows."""
    from playwright.async_api import async_playwright

    cloud, plain = web_cloud
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(subprocess.run, [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=glasses.test",
        "-addext", "subjectAltName=DNS:glasses.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    tls = HttpServer(cloud.cloud, HttpConfig(tls_cert=cert, tls_key=key))
    await tls.start()
    profile = tmp_path / "profile"
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(profile), executable_path=str(CHROMIUM), headless=True, ignore_https_errors=True,
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={shelf_video.path}",
                      "--host-resolver-rules=MAP glasses.test 127.0.0.1"])
            page = await context.new_page()
            token = signer.mint("phone")
            await page.goto(f"http://glasses.test:{plain.port}/glasses#token={token}")
            await page.click("#start")
            await page.wait_for_function("document.getElementById('status').textContent.startsWith('error')",
                                         timeout=10_000)
            assert "open this page over https (eyeline cloud --tls-cert)" in (await page.text_content("#status") or "")

            await page.goto(f"https://glasses.test:{tls.port}/glasses#token={token}")
            assert await page.evaluate("window.isSecureContext")
            await page.click("#start")
            await page.wait_for_function("document.getElementById('status').textContent.startsWith('session ')",
                                         timeout=20_000)
            await asyncio.sleep(0.5)
            assert _camera_difference(await _canvas_image(page), shelf_video.image) < 12
            await context.close()
    finally:
        await tls.stop()


async def test_the_page_draws_a_read_overlay_thin_and_over_none_of_the_text(
        chromium: Any, web_cloud: tuple[CloudServer, HttpServer]) -> None:
    from tests.edge.test_render_cards import text_page

    _, http = web_cloud
    page_image, boxes = text_page(20)
    overlay = {"items": [{"box": {"box": {"x0": x0 / 1280, "y0": y0 / 720, "x1": x1 / 1280, "y1": y1 / 720},
                                  "caption": str(n + 1)}, "rgb": 0x40C0FF}
                         for n, (x0, y0, x1, y1) in enumerate(boxes)]}
    page = await chromium.new_page()
    await page.goto(f"{http.url}/glasses")
    data_url = await page.evaluate("""async ([picture, overlay]) => {
        const { drawOverlay } = await import('/static/draw.js');
        const image = await new Promise((done) => {
            const i = new Image(); i.onload = () => done(i); i.src = picture;
        });
        const canvas = document.createElement('canvas'); canvas.width = 1280; canvas.height = 720;
        const ctx = canvas.getContext('2d'); ctx.drawImage(image, 0, 0);
        drawOverlay(ctx, overlay, 1280, 720);
        return canvas.toDataURL('image/png');
    }""", [_png_url(page_image), overlay])
    raw = np.frombuffer(__import__("base64").b64decode(data_url.split(",", 1)[1]), np.uint8)
    drawn = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    for x0, y0, x1, y1 in boxes:
        assert np.abs(drawn[y0:y1, x0:x1].astype(int) - page_image[y0:y1, x0:x1]).max() <= 2, "text is covered"
        ring = np.any(np.abs(drawn[y0 - 5:y1 + 5, x0 - 5:x1 + 5].astype(int)
                             - page_image[y0 - 5:y1 + 5, x0 - 5:x1 + 5]) > 40, axis=2)
        assert ring[:4].any() and ring[-4:].any() and ring[:, :4].any() and ring[:, -4:].any(), "each line is boxed"
    tags = np.all(np.abs(drawn.astype(int) - (255, 192, 64)) <= 30, axis=2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(tags)
    assert sum(1 for i in range(1, count) if stats[i, cv2.CC_STAT_WIDTH] < 40 and stats[i, cv2.CC_STAT_AREA] > 30) >= 15
    await page.close()
