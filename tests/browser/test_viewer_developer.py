"""The developer viewer in real headless Chromium, opened after a gRPC session was answered and had moved on
(a late joiner): the answer's overlay and a trace step's evidence are drawn on the keyframe they were computed on,
checked pixel by pixel, beside a live picture that shows the later frame; the session is listed by a readable
name; the transcript, per-question latency and connection panels are filled; and the session's cloud recording
plays back in the page with a timeline that seeks."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from eyeline.protos.v1 import session_pb2 as pb
from eyeline.tools.viewer_screenshots import (
    QUESTIONS,
    StagedSession,
    moved_on,
    open_late_viewer,
    seek,
    stage_session,
    viewer_cloud,
)

from .test_glasses_page import _badge_blobs
from .waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _canvas(page: Any, element: str) -> np.ndarray:
    """A canvas's pixels (BGR) at its own resolution."""
    data_url = await page.evaluate(f"document.getElementById('{element}').toDataURL('image/png')")
    raw = np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)


def _alike(shown: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Where pictures ``a`` and ``b`` differ, the share of ``shown``'s pixels that match each (to a JPEG's noise)."""
    def near(x: np.ndarray, y: np.ndarray, within: int) -> np.ndarray:
        return np.asarray(np.abs(x.astype(int) - y.astype(int)).max(axis=2) <= within)
    telling = ~near(a, b, 60)
    return float(near(shown, a, 24)[telling].mean()), float(near(shown, b, 24)[telling].mean())


def _badges(overlay: pb.Overlay, width: int, height: int) -> list[tuple[float, float]]:
    return [(i.badge.center.x * width, i.badge.center.y * height) for i in overlay.items
            if i.WhichOneof("shape") == "badge"]


def _assert_badges_at(image: np.ndarray, expected: list[tuple[float, float]], tolerance: float) -> None:
    blobs = _badge_blobs(image[:, :, :3])
    assert expected and len(blobs) == len(expected), (blobs, expected)
    for x, y in expected:
        assert min((bx - x) ** 2 + (by - y) ** 2 for bx, by in blobs) <= tolerance ** 2, (x, y, blobs)


async def _assert_frozen_keyframe(page: Any, staged: StagedSession) -> np.ndarray:
    frozen = await _canvas(page, "frozen")
    keyframe = staged.keyframe
    height, width = keyframe.shape[:2]
    assert frozen.shape[:2] == (height, width)
    # The keyframe's pixels, not the live picture's: the camera has since moved a package to the side.
    to_keyframe, to_live = _alike(frozen[:, :, :3], keyframe, moved_on(keyframe))
    assert to_keyframe > 0.7 and to_live < 0.2, (to_keyframe, to_live)
    _assert_badges_at(frozen, _badges(staged.overlay, width, height), 4.0)
    return frozen


async def test_a_late_viewer_sees_the_overlay_and_evidence_on_their_keyframe_and_plays_the_recording_back(
        chromium: Any, tmp_path: Path) -> None:
    async with viewer_cloud(tmp_path / "recordings") as (cloud, http, signer):
        staged = await stage_session(cloud, signer.mint("ana"))
        page = await open_late_viewer(chromium, http.url, staged)

        frozen = await _assert_frozen_keyframe(page, staged)
        # The live picture is the latest keyframe, with no overlay on it unless asked for.
        live = await _canvas(page, "keyframe")
        to_keyframe, to_live = _alike(live[:, :, :3], staged.keyframe, moved_on(staged.keyframe))
        assert to_live > 0.9 and to_keyframe < 0.2, (to_keyframe, to_live)
        assert int((await _canvas(page, "view"))[:, :, 3].max()) == 0

        # The screenshot a person sees: the frozen panel, scaled into its box, with every badge where it belongs.
        box = await page.locator("#frozen").bounding_box()
        shot = cv2.imdecode(np.frombuffer(await page.screenshot(clip=box), np.uint8), cv2.IMREAD_COLOR)
        scale = min(shot.shape[1] / frozen.shape[1], shot.shape[0] / frozen.shape[0])
        left = (shot.shape[1] - frozen.shape[1] * scale) / 2
        top = (shot.shape[0] - frozen.shape[0] * scale) / 2
        expected = [(left + x * scale, top + y * scale) for x, y in _badges(staged.overlay, *frozen.shape[1::-1])]
        _assert_badges_at(shot, expected, 5.0)

        # Hovering a step lights its evidence on the keyframe it read, and nothing else.
        index, step = next((i, s) for i, s in enumerate(staged.trace) if s.kind == pb.STEP_KIND_READ and s.evidence)
        await page.locator("#trace li").nth(index).hover()
        await page.wait_for_function("document.getElementById('frozen-caption').textContent.includes('evidence')")
        lit = await _canvas(page, "frozen")
        changed = np.abs(lit[:, :, :3].astype(int) - frozen[:, :, :3].astype(int)).max(axis=2) > 8
        ys, xs = np.nonzero(changed)
        height, width = frozen.shape[:2]
        x0 = min(b.x0 for b in step.evidence) * width
        x1 = max(b.x1 for b in step.evidence) * width
        y0 = min(b.y0 for b in step.evidence) * height
        y1 = max(b.y1 for b in step.evidence) * height
        assert xs.size > 0
        assert abs(xs.min() - x0) <= 4 and abs(xs.max() - x1) <= 4
        assert abs(ys.min() - y0) <= 4 and abs(ys.max() - y1) <= 4
        yellow = lit[int((y0 + y1) / 2), int((x0 + x1) / 2), :3].astype(int)
        assert yellow[2] > yellow[0] and yellow[1] > yellow[0]   # more red and green than blue: yellowed

        # Everything a late joiner missed: the trace, both questions and answers, latency per question.
        steps = await page.locator("#trace li").all_text_contents()
        names = {v: k.removeprefix("STEP_KIND_").lower() for k, v in pb.StepKind.items()}
        assert steps == [f"{names[s.kind]}: {s.text}" for s in staged.trace]
        transcript = await page.locator("#transcript").inner_text()
        assert all(f"asked: {q}" in transcript for q in QUESTIONS) and transcript.count("answer:") == len(QUESTIONS)
        # Each final answer says where its time went, stage by stage.
        assert transcript.count("timing: queue ") == len(QUESTIONS) and " · ocr " in transcript
        rows = await page.locator("#latency-table tr").all_inner_texts()
        assert len(rows) == len(QUESTIONS) and all(any(q in r for r in rows) for q in QUESTIONS)
        await page.wait_for_function("document.querySelector('#connection td[data-stat=transport]') !== null")
        assert await page.locator("#connection td[data-stat=transport]").inner_text() == "grpc"
        listed = await page.locator(f"#sessions li[data-session='{staged.session_id}'] .name").inner_text()
        assert listed.startswith("ana · ") and staged.session_id not in listed

        # The session's recording, played back: before the first answer nothing is said; at the end, all of it.
        await staged.uplink.aclose()
        await wait_until(lambda: not cloud.sessions.active(), 10, "the session to close")
        await page.goto(f"{http.url}/#token={staged.token}&recording={staged.session_id}")
        await page.reload()
        await page.wait_for_selector("#playback:not([hidden])", timeout=15_000)
        end = await page.evaluate("Number(document.getElementById('timeline').max)")
        assert end > 0
        await seek(page, end)
        await page.wait_for_function("document.getElementById('frozen').dataset.seq === '1'", timeout=15_000)
        await asyncio.sleep(0.3)
        await _assert_frozen_keyframe(page, staged)
        assert await page.locator("#trace li").count() == len(staged.trace)
        assert "Atlas Jerky Bites" in await page.locator("#answer").inner_text()
        await seek(page, 0)
        assert await page.locator("#answer").inner_text() == ""
        assert await page.locator("#trace li").count() == 0
        assert await page.locator("#clock").inner_text() == f"0.0 s / {end / 1000:.1f} s"
        # Play runs the clock on and the recording with it; pause holds it.
        await page.click("#play")
        await page.wait_for_function("Number(document.getElementById('timeline').value) > 500", timeout=10_000)
        await page.click("#play")
        held = await page.evaluate("document.getElementById('timeline').value")
        await asyncio.sleep(0.5)
        assert await page.evaluate("document.getElementById('timeline').value") == held
        assert await page.locator("#play").inner_text() == "Play"
