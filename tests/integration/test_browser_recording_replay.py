"""A cloud recording of a session whose frames came only as WebRTC video (the browser-as-glasses page sends no
JPEGs: its track frames are decoded straight into the dispatcher) holds those keyframes, so it can be read as a
script and replayed through a cloud, which answers the recorded question again about the recorded frame."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.base import CapturedFrame
from eyeline.edge.messages import Answer
from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
from eyeline.edge.transport.wire import QueryOut
from eyeline.tools.replay import ReplayOptions, read_script, render_recording, replay_session
from eyeline.tools.viewer_screenshots import shelf_image

from ..browser.waiting import wait_until
from .helpers import hello

QUESTION = "which of these has the most protein?"


async def test_a_recorded_track_only_session_replays_through_a_cloud(
        recording_cloud: CloudServer, cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    http = HttpServer(recording_cloud.cloud)
    await http.start()
    http.webrtc.config = type(http.webrtc.config)(track_keyframes_per_s=2.0)
    uplink = WebRtcUplink(WebRtcOptions(f"{http.url}/whip?track=keyframes", preview_fps=10, preview_width=1280))
    try:
        welcome = await uplink.open(hello(signer.mint("browser")))
        session = recording_cloud.sessions.get(welcome.session_id)
        assert session is not None
        image = shelf_image()

        def shows_the_shelf() -> bool:
            frame = session.frame(None)
            return frame is not None and frame.image.shape == image.shape and float(
                np.abs(frame.image.astype(int) - image).mean()) < 12

        for seq in range(200):
            uplink.offer_preview(CapturedFrame(seq=seq, capture_ns=time.monotonic_ns(), image=image,
                                               redacted=()))   # a shelf: the privacy stage found no face
            await asyncio.sleep(0.05)
            if shows_the_shelf():
                break
        assert shows_the_shelf()
        await uplink.ask(QueryOut("q1", QUESTION, "instant"))
        async with asyncio.timeout(120):
            recorded = await anext(e async for e in uplink if isinstance(e, Answer) and e.final)
    finally:
        await uplink.aclose()
        await wait_until(lambda: not recording_cloud.sessions.active(), 10, "the session to close")
        await http.stop()
    assert "Atlas Jerky Bites" in recorded.text
    folder = recording_cloud.config.record_dir
    assert folder is not None
    script = read_script(folder / f"{welcome.session_id}.mcap")
    assert [q.text for q in script.queries] == [QUESTION]
    assert script.queries[0].frame_seq == recorded.frame_seq in {f.seq for f in script.sent}
    assert script.frame_size == (1280, 720)

    # Re-rendered without a cloud too: the recorded overlay over the recorded frames.
    report = await asyncio.to_thread(render_recording, folder / f"{welcome.session_id}.mcap", tmp_path / "out.mp4")
    assert report.frames >= 1 and report.overlays >= 1 and not report.truncated

    run = await replay_session(script, ReplayOptions(cloud.address, signer.mint("replay"), fast=True,
                                                    answer_timeout_s=120))
    assert run.answers["q1"].text == recorded.text
