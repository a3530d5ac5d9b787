"""Screenshots of the developer viewer, for ``docs/viewer/``: ``python -m eyeline.tools.viewer_screenshots --out
docs/viewer/``.

A real cloud (recording its sessions) and the viewer on loopback; a gRPC session sends the synthetic shelf as
keyframe 1, asks about it, reports the overlays drawn (so there is per-hop latency), and then sends other
frames, so the live picture has moved on from the keyframe the answer was computed on. Debian's Chromium opens
the viewer after all that (a late joiner) and is photographed: the live session with the frozen keyframe, a trace
step's evidence lit, and the session's recording played back; then a WebRTC edge's live video with its
connection stats. ``stage_session`` is shared with the browser tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer, CloudErrorReport, CloudEvent
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import EncodedFrame, HelloOut, QueryOut
from eyeline.protos.v1 import session_pb2 as pb

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTIONS = ("rank these by protein", "which of these has the most protein?")


@dataclass(frozen=True)
class StagedSession:
    session_id: str
    token: str
    keyframe: np.ndarray          # keyframe 1, what the answers were computed on (BGR, as decoded by the cloud)
    overlay: pb.Overlay           # the last answer's overlay, on keyframe 1
    trace: tuple[pb.TraceStep, ...]
    uplink: GrpcUplink


def shelf_image(seed: int = 3) -> np.ndarray:
    image, _ = render_shelf_frame(make_shelf_scene(seed=seed), 0.0, motion_scale=0.0)
    return image


def moved_on(image: np.ndarray) -> np.ndarray:
    """What the camera shows a moment later: the scene shifted a package's width to the side."""
    return np.roll(image, image.shape[1] // 5, axis=1)


def encoded(seq: int, image: np.ndarray) -> EncodedFrame:
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    return EncodedFrame(seq=seq, trace_id=f"t{seq}", capture_ns=time.monotonic_ns(), data=data,
                        width=image.shape[1], height=image.shape[0], keyframe=True)


async def _wait(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {within_s:g} s")
        await asyncio.sleep(0.05)


async def stage_session(cloud: CloudServer, token: str, questions: tuple[str, ...] = QUESTIONS) -> StagedSession:
    """A gRPC session answered about keyframe 1, its overlays reported drawn, then moved on to other frames."""
    uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=10))
    welcome = await uplink.open(HelloOut(token=token, profile_name="rayban-class", width=1280, height=720, fps=30.0,
                                         horizontal_fov_deg=70.0, uplink_budget_kbps=4000, has_display=True))
    events: asyncio.Queue[CloudEvent] = asyncio.Queue()
    reader = asyncio.create_task(_read(uplink, events))
    try:
        session = cloud.sessions.get(welcome.session_id)
        assert session is not None
        first_image = shelf_image()
        first = encoded(1, first_image)
        await uplink.push_frame(first)
        await _wait(lambda: session.frame(1) is not None, 30, "keyframe 1 kept")
        for index, question in enumerate(questions, start=1):
            await uplink.ask(QueryOut(f"q{index}", question, "instant", frame_seq=1))
            await _answered(events, f"q{index}")
            await _report_drawn(uplink, session.history.messages(), f"q{index}")
        # The camera moves on: the shelf a package to the side, so an overlay drawn on it would be a package off.
        for seq in range(2, 5):
            await uplink.push_frame(encoded(seq, moved_on(first_image)))
        await _wait(lambda: session.frame(4) is not None, 30, "the later frames")
        keyframe = session.history.frame(1)
        assert keyframe is not None
        said = session.history.messages()
        overlay = [m.overlay for m in said if m.WhichOneof("kind") == "overlay"][-1]
        last = overlay.query_id
        trace = tuple(m.trace for m in said if m.WhichOneof("kind") == "trace" and m.trace.query_id == last)
        return StagedSession(welcome.session_id, token, keyframe.image, overlay, trace, uplink)
    finally:
        reader.cancel()


async def _answered(events: asyncio.Queue[CloudEvent], query_id: str) -> None:
    while True:
        event = await asyncio.wait_for(events.get(), 180)
        if isinstance(event, CloudErrorReport) and event.query_id == query_id:
            raise RuntimeError(f"the cloud could not answer {query_id}: {event.message}")
        if isinstance(event, Answer) and event.query_id == query_id and event.final:
            return


async def _read(uplink: GrpcUplink, events: asyncio.Queue[CloudEvent]) -> None:
    async for event in uplink:
        events.put_nowait(event)


async def _report_drawn(uplink: GrpcUplink, said: tuple[pb.CloudMessage, ...], query_id: str) -> None:
    """Ack the query's overlays as drawn now, as an edge sharing the cloud's clock would, for per-hop latency."""
    now = time.monotonic_ns()
    rendered = []
    for message in said:
        if message.WhichOneof("kind") == "overlay" and message.overlay.query_id == query_id:
            hops = pb.HopTimes()
            hops.CopyFrom(message.overlay.hops)
            hops.rendered_ns = now
            rendered.append(pb.RenderedOverlay(trace_id=message.overlay.trace_id,
                                               overlay_id=message.overlay.overlay_id, hops=hops, arrived_ns=now - 1))
    await uplink.send_message(pb.EdgeMessage(ack=pb.Ack(rendered=rendered, sent_ns=now)))


@asynccontextmanager
async def viewer_cloud(record_dir: Path) -> AsyncIterator[tuple[CloudServer, HttpServer, TokenSigner]]:
    signer = TokenSigner(os.urandom(32))
    cloud = CloudServer(CloudConfig(port=0, warm_up=False, record_dir=record_dir), signer)
    await cloud.start()
    http = HttpServer(cloud.cloud)
    await http.start()
    try:
        yield cloud, http, signer
    finally:
        await http.stop()
        await cloud.stop(grace_s=0.5)


@asynccontextmanager
async def chromium_context() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    profile = Path(tempfile.mkdtemp(prefix="eyeline-chromium-"))
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1800, "height": 1000})
            yield context
            await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


async def open_late_viewer(context: Any, url: str, staged: StagedSession) -> Any:
    """The viewer opened on the staged session after its answers: the frozen panel shows keyframe 1."""
    page = await context.new_page()
    await page.goto(f"{url}/#token={staged.token}&session={staged.session_id}")
    await page.wait_for_function("document.getElementById('frozen').dataset.seq === '1' && "
                                 "document.getElementById('frozen').dataset.overlay !== ''", timeout=30_000)
    await page.wait_for_function("document.querySelectorAll('#latency-table tr').length > 0", timeout=15_000)
    return page


async def capture(out: Path) -> list[Path]:
    """Take the screenshot set into ``out``; returns the files written."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="eyeline-recordings-") as folder:
        async with viewer_cloud(Path(folder)) as (cloud, http, signer), chromium_context() as context:
            staged = await stage_session(cloud, signer.mint("ana"))
            page = await open_late_viewer(context, http.url, staged)
            await asyncio.sleep(1.5)   # a few STATS records: bandwidth and connection
            written.append(await _shoot(page, out / "live-session.png"))
            step = next((i for i, s in enumerate(staged.trace) if s.kind == pb.STEP_KIND_READ and s.evidence), 0)
            await page.locator("#trace li").nth(step).hover()
            await asyncio.sleep(0.3)
            written.append(await _shoot(page, out / "trace-evidence.png"))
            await staged.uplink.aclose()
            await _wait(lambda: not cloud.sessions.active(), 10, "the session to close")
            written.append(await _webrtc_session(context, cloud, http, signer, out / "webrtc-connection.png"))
            await page.goto(f"{http.url}/#token={staged.token}&recording={staged.session_id}")
            await page.reload()
            await page.wait_for_selector("#playback:not([hidden])", timeout=15_000)
            end = await page.evaluate("Number(document.getElementById('timeline').max)")
            await seek(page, end)
            await page.wait_for_function("document.getElementById('frozen').dataset.seq === '1'", timeout=15_000)
            written.append(await _shoot(page, out / "playback.png"))
    return written


async def _webrtc_session(context: Any, cloud: CloudServer, http: HttpServer, signer: TokenSigner,
                          path: Path) -> Path:
    """A WebRTC edge showing the shelf on its video track: live video in the viewer, and its connection stats."""
    from eyeline.devices.base import CapturedFrame
    from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink

    token = signer.mint("bo")
    edge = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=15, preview_width=1280))
    welcome = await edge.open(HelloOut(token=token, profile_name="webcam", width=1280, height=720, fps=15.0,
                                       horizontal_fov_deg=70.0, uplink_budget_kbps=4000, has_display=True))
    image = shelf_image(seed=5)
    stop = asyncio.Event()

    async def show() -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            edge.offer_preview(CapturedFrame(seq=seq, capture_ns=time.monotonic_ns(), image=image))
            await asyncio.sleep(1 / 15)

    showing = asyncio.create_task(show())
    try:
        page = await context.new_page()
        await page.goto(f"{http.url}/#token={token}&session={welcome.session_id}")
        await page.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=30_000)
        await page.wait_for_function("(document.querySelector('#connection td[data-stat=RTT]')?.textContent ?? '')"
                                     ".endsWith('smoothed)')", timeout=15_000)
        await asyncio.sleep(2.5)   # a few seconds of bandwidth
        await _shoot(page, path)
        await page.close()
    finally:
        stop.set()
        await showing
        await edge.aclose()
    return path


async def seek(page: Any, t_ms: float) -> None:
    """Drag the playback timeline to ``t_ms``, as a person would."""
    await page.evaluate("(t) => { const line = document.getElementById('timeline'); line.value = t; "
                        "line.dispatchEvent(new Event('input')); }", t_ms)


async def _shoot(page: Any, path: Path) -> Path:
    await page.screenshot(path=str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eyeline.tools.viewer_screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/viewer"))
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} is missing: tools/setup.sh installs Debian's chromium package", file=sys.stderr)
        return 2
    for path in asyncio.run(capture(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
