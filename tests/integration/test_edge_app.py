"""The edge application against a real cloud on loopback: per-hop timing and the cloud going away."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import cv2
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.app import EdgeAppOptions, run_edge
from eyeline.edge.transport.uplink import UplinkError


def options(cloud: CloudServer, signer: TokenSigner, tmp_path: Path, **overrides: object) -> EdgeAppOptions:
    base = {"device": "synthetic:shelf?seed=1", "cloud": cloud.address, "token": signer.mint("edge"),
            "profile": WEBCAM, "video_path": tmp_path / "edge.mp4"}
    return EdgeAppOptions(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.mark.slow
async def test_every_hop_of_the_answered_frame_is_timed_in_order(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    report = await run_edge(options(cloud, signer, tmp_path, question="which has the most protein?"))
    assert report.answer is not None and report.overlay is not None
    (hops,) = report.latencies
    # One machine, one monotonic clock: every hop happens after the one before it.
    order = [hops.capture_ns, hops.sent_ns, hops.received_ns, hops.reasoned_ns, hops.overlay_sent_ns,
             hops.rendered_ns]
    assert all(earlier <= later for earlier, later in itertools.pairwise(order)), order
    assert hops.capture_ns > 0
    assert report.overlay.trace_id == report.answer.trace_id


async def test_the_edge_stops_with_a_clear_error_when_the_cloud_goes_away(
        signer: TokenSigner, tmp_path: Path) -> None:
    server = CloudServer(CloudConfig(port=0, warm_up=False), signer)
    await server.start()
    running = asyncio.create_task(run_edge(options(server, signer, tmp_path, duration_s=30.0)))
    await asyncio.sleep(1.0)
    await server.stop(grace_s=0.5)
    with pytest.raises(UplinkError, match="session stream") as caught:
        await asyncio.wait_for(running, 15)
    assert caught.value.retryable


def frame_sizes(video: Path) -> set[tuple[int, int]]:
    capture = cv2.VideoCapture(str(video))
    sizes = set()
    while True:
        ok, image = capture.read()
        if not ok:
            break
        sizes.add((image.shape[1], image.shape[0]))
    capture.release()
    return sizes


@pytest.mark.slow
async def test_a_real_photo_of_another_size_is_answered_and_shown_at_the_glasses_size(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path, shared_data: Path) -> None:
    photo = shared_data / "nutrition_labels" / "off_5400141167801_3.jpg"   # portrait-ish, not 16:9
    height, width = cv2.imread(str(photo)).shape[:2]
    assert (width, height) != (WEBCAM.width, WEBCAM.height)
    report = await run_edge(options(cloud, signer, tmp_path, device=f"image:{photo}?fps=2",
                                    question="which has the most protein?"))
    assert report.answer is not None and report.answer.final
    assert "3.7" in report.answer.text
    assert frame_sizes(tmp_path / "edge.mp4") == {(WEBCAM.width, WEBCAM.height)}


@pytest.mark.slow
async def test_a_video_of_another_size_is_answered_and_shown_at_the_glasses_size(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    clip, size = tmp_path / "portrait.mp4", (720, 960)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, size)
    scene = make_shelf_scene(2, 3)
    for n in range(20):
        writer.write(render_shelf_frame(scene, n / 10, *size, motion_scale=0.2)[0])
    writer.release()
    report = await run_edge(options(cloud, signer, tmp_path, device=f"video:{clip}?loop=1",
                                    question="which has the most protein?"))
    assert report.answer is not None and report.answer.final
    best = max(scene.products, key=lambda product: product.protein_g)
    assert best.name.lower() in report.answer.text.lower()
    assert frame_sizes(tmp_path / "edge.mp4") == {(WEBCAM.width, WEBCAM.height)}
