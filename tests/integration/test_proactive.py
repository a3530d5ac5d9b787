"""Proactive turns over a real session: a shelf or a known machine in view is offered unasked, once per scene,
only to sessions that asked for it."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.reasoning.proactive import (
    MACHINE_OFFER,
    SHELF_OFFER,
    ProactiveConfig,
    Scene,
    SceneKind,
    shelf_scene,
)
from eyeline.devices.espresso import EspressoTruth, make_espresso_scene, render_espresso_frame
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.synthetic import (
    FULLY_VISIBLE,
    LabelLayout,
    ShelfTruth,
    make_shelf_scene,
    render_shelf_frame,
)
from eyeline.edge.app import EdgeAppOptions, run_edge
from eyeline.edge.daemon.config import ConfigError, parse_config
from eyeline.edge.messages import Answer, CloudEvent, OverlayArrival
from eyeline.edge.overlays import ArrowShape, BadgeShape, Overlay
from eyeline.edge.runtime import EdgeConfig
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import HelloOut, QueryOut
from tests.integration.helpers import Session, jpeg_frame

QUESTION = "which of these has the most protein?"
SIZE = (1280, 720)


def _hello(token: str, capabilities: tuple[str, ...]) -> HelloOut:
    return HelloOut(token=token, profile_name="test", width=SIZE[0], height=SIZE[1], fps=30.0,
                    horizontal_fov_deg=70.0, uplink_budget_kbps=4000, has_display=True, capabilities=capabilities)


async def _open(server: CloudServer, signer: TokenSigner, *capabilities: str) -> Session:
    uplink = GrpcUplink(UplinkOptions(server.address, connect_timeout_s=5))
    await uplink.open(_hello(signer.mint("test"), ("overlay", *capabilities)))
    return Session(uplink)


@pytest.fixture
async def eager_cloud(signer: TokenSigner) -> AsyncIterator[CloudServer]:
    """A cloud with no cooldown between offers: only the scene rule holds a second offer back."""
    server = CloudServer(CloudConfig(port=0, warm_up=False, proactive=ProactiveConfig(cooldown_s=0.0)), signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


def _shelf(seed: int = 3, t_s: float = 0.0) -> tuple[np.ndarray, ShelfTruth]:
    return render_shelf_frame(make_shelf_scene(seed), t_s, *SIZE)


def _machine() -> tuple[np.ndarray, EspressoTruth]:
    return render_espresso_frame(make_espresso_scene(0), 0.0, *SIZE)


async def _offer(session: Session) -> tuple[Answer, Overlay]:
    """The next proactive answer, with the overlay that came with it."""
    overlays: dict[str, Overlay] = {}
    while True:
        event: CloudEvent = await session.next(object, within_s=60.0)
        if isinstance(event, OverlayArrival):
            overlays[event.overlay.overlay_id] = event.overlay
        if isinstance(event, Answer):
            assert event.proactive, f"an answer nobody asked for must be marked proactive: {event}"
            return event, overlays[event.overlay_id]


def _badges_on_their_products(overlay: Overlay, truth: ShelfTruth) -> None:
    visible = sorted((p for p in truth.products if p.visible_fraction >= FULLY_VISIBLE),
                     key=lambda p: -p.product.protein_g)
    badges = {item.shape.text: item.shape.center for item in overlay.items if isinstance(item.shape, BadgeShape)}
    assert badges.get("1") is not None, f"no rank-1 badge in {overlay.items}"
    for rank, (x, y) in badges.items():
        x0, y0, x1, y1 = visible[int(rank) - 1].box
        assert x0 <= x * SIZE[0] <= x1 and y0 <= y * SIZE[1] <= y1, f"badge {rank} is off its product"


async def test_an_opted_in_session_is_offered_the_shelf_ranking_and_one_that_did_not_opt_in_is_not(
        cloud: CloudServer, signer: TokenSigner) -> None:
    image, truth = _shelf()
    quiet, eager = await _open(cloud, signer), await _open(cloud, signer, "proactive")
    try:
        await quiet.uplink.push_frame(jpeg_frame(1, image))
        await eager.uplink.push_frame(jpeg_frame(1, image))
        offer, overlay = await _offer(eager)
        assert offer.offer == SHELF_OFFER and offer.frame_seq == 1 and offer.final
        assert offer.text.lower().startswith(truth.best_product().display_name.lower())
        assert overlay.frame_seq == 1 and overlay.query_id == offer.query_id
        _badges_on_their_products(overlay, truth)
        # The quiet session's first answer is the one it asks for, as long after the frame as the offer took.
        await quiet.uplink.ask(QueryOut("q1", QUESTION, frame_seq=1))
        answer = await quiet.next(Answer, within_s=60.0)
        assert isinstance(answer, Answer) and answer.query_id == "q1" and not answer.proactive
        assert cloud.sessions.active() and _offers_made(cloud) == 1
    finally:
        await quiet.close()
        await eager.close()


def _offers_made(server: CloudServer) -> int:
    sessions = [server.sessions.get(info.session_id) for info in server.sessions.active()]
    return sum(session.stats.proactive_offers for session in sessions if session is not None)


@pytest.mark.slow
async def test_one_offer_per_scene_and_a_known_machine_gets_the_repair_guide(eager_cloud: CloudServer,
                                                                            signer: TokenSigner) -> None:
    session = await _open(eager_cloud, signer, "proactive")
    try:
        await session.uplink.push_frame(jpeg_frame(1, _shelf(t_s=0.0)[0]))
        first, _ = await _offer(session)
        assert first.frame_seq == 1
        # The same shelf a moment later (the head moved), then the espresso machine: only the machine is new.
        await session.uplink.push_frame(jpeg_frame(2, _shelf(t_s=0.4)[0]))
        machine, truth = _machine()
        await session.uplink.push_frame(jpeg_frame(3, machine))
        second, overlay = await _offer(session)
        assert second.frame_seq == 3 and second.offer == MACHINE_OFFER
        assert second.query_id != first.query_id and second.text.startswith("Step 1 of")
        arrow = next(item.shape for item in overlay.items if isinstance(item.shape, ArrowShape))
        _arrow_on_a_component(arrow, truth)
    finally:
        await session.close()


def _arrow_on_a_component(arrow: ArrowShape, truth: EspressoTruth) -> None:
    head = (arrow.head[0] * SIZE[0], arrow.head[1] * SIZE[1])
    nearest = min(math.dist(head, component.center) for component in truth.components)
    assert nearest <= 0.05 * math.hypot(*SIZE), f"the arrow points at no component (off by {nearest:.0f} px)"


@pytest.mark.slow
async def test_a_view_with_no_shelf_or_machine_is_not_offered_anything(
        eager_cloud: CloudServer, signer: TokenSigner, shared_data: Path) -> None:
    photo = cv2.imread(str(shared_data / "package_fronts" / "off_0000020713713_35.jpg"))
    assert photo is not None
    session = await _open(eager_cloud, signer, "proactive")
    try:
        await session.uplink.push_frame(jpeg_frame(1, np.asarray(photo, np.uint8)))
        await session.uplink.push_frame(jpeg_frame(2, np.full((SIZE[1], SIZE[0], 3), 235, np.uint8)))
        await session.uplink.push_frame(jpeg_frame(3, _shelf()[0]))
        offer, _ = await _offer(session)   # every keyframe is looked at in turn: only the shelf is offered
        assert offer.frame_seq == 3 and offer.query_id == "offer-1"
    finally:
        await session.close()


@pytest.mark.slow
async def test_a_shelf_with_every_panel_out_of_view_is_still_offered_from_the_catalog(
        eager_cloud: CloudServer, signer: TokenSigner) -> None:
    image, truth = render_shelf_frame(make_shelf_scene(3, layouts=[LabelLayout.HIDDEN] * 5), 0.0, *SIZE)
    session = await _open(eager_cloud, signer, "proactive")
    try:
        await session.uplink.push_frame(jpeg_frame(1, image))
        offer, overlay = await _offer(session)   # no protein amount is in view: the packages make it a shelf
        assert offer.offer == SHELF_OFFER
        assert offer.text.lower().startswith(truth.best_product().display_name.lower())
        _badges_on_their_products(overlay, truth)
    finally:
        await session.close()


@pytest.mark.slow
async def test_no_offer_while_a_question_is_in_flight(eager_cloud: CloudServer, signer: TokenSigner) -> None:
    session = await _open(eager_cloud, signer, "proactive")
    try:
        await session.uplink.push_frame(jpeg_frame(1, _shelf()[0]))
        await session.uplink.ask(QueryOut("q1", QUESTION, frame_seq=1))
        answer = await session.next(Answer, within_s=60.0)
        assert isinstance(answer, Answer) and answer.query_id == "q1" and not answer.proactive
        await session.uplink.push_frame(jpeg_frame(2, _machine()[0]))
        offer, _ = await _offer(session)   # the shelf was the wearer's question, never an offer
        assert offer.query_id == "offer-1" and offer.frame_seq == 2
    finally:
        await session.close()


@pytest.mark.slow
async def test_the_edge_shows_and_counts_an_offer_without_asking(cloud: CloudServer, signer: TokenSigner,
                                                                 tmp_path: Path) -> None:
    options = EdgeAppOptions(device="synthetic:shelf?seed=3&frames=450", cloud=cloud.address,
                             token=signer.mint("edge"), profile=WEBCAM, video_path=tmp_path / "edge.mp4",
                             proactive=True, config=EdgeConfig(redact_faces=False))
    report = await run_edge(options)
    assert report.offers and report.offers[0].offer == SHELF_OFFER
    assert report.stats is not None and report.stats.offers_received == len(report.offers) >= 1
    assert report.answer is None


# ------------------------------------------------------------------ the scene rule, without a model


def _line(text: str) -> TextLine:
    box = NormBox(0.1, 0.1, 0.3, 0.15)
    return TextLine(text, 0.9, box, ((0.1, 0.1), (0.3, 0.1), (0.3, 0.15), (0.1, 0.15)))


def test_a_shelf_needs_several_protein_amounts_and_is_known_by_its_names() -> None:
    assert shelf_scene([_line("Peak Bar"), _line("Protein 20g")], min_labels=2) is None
    scene = shelf_scene([_line("Peak Bar"), _line("Protein 20g"), _line("Oat Crunch"), _line("12 g protein")], 2)
    assert scene == Scene(SceneKind.SHELF, frozenset({"peak bar", "oat crunch"}))
    panned = Scene(SceneKind.SHELF, frozenset({"oat crunch", "choco nut"}))
    other = Scene(SceneKind.SHELF, frozenset({"rice cake", "choco nut"}))
    assert panned.same_as(scene, 0.5) and not other.same_as(scene, 0.5)
    assert not Scene(SceneKind.MACHINE, frozenset({"peak bar"})).same_as(scene, 0.5)


def test_the_daemon_opts_in_with_one_config_key() -> None:
    base = {"device": {"spec": "synthetic:shelf"}, "cloud": {"address": "127.0.0.1:50051"}}
    assert not parse_config(base).proactive
    assert parse_config({**base, "reasoning": {"proactive": True}}).proactive
    with pytest.raises(ConfigError, match=r"reasoning\.proactive must be bool"):
        parse_config({**base, "reasoning": {"proactive": "yes"}}, source="edge.toml")
