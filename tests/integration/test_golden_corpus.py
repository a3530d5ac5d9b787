"""The golden corpus as a conformance suite: every session replayed over a transport gets its expected answer.

Transports covered: gRPC and WebRTC (WHIP signaling, the data channel) against the same cloud. Shelf sessions
must name and rank the products; repair sessions must give the asked step with its arrow on the true component.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.edge.messages import Answer
from eyeline.edge.overlays import ArrowShape, Overlay, PanelShape, StepCardShape
from eyeline.tools.corpus import REPAIR_SKILL, GoldenExpectation, load_expectations
from eyeline.tools.evaluate import ARROW_TOLERANCE, EvalReport, score_run
from eyeline.tools.replay import ReplayOptions, read_script, replay_session

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
EXPECTATIONS = load_expectations(GOLDEN)


@pytest.mark.slow
@pytest.mark.parametrize("expected", EXPECTATIONS, ids=[e.file for e in EXPECTATIONS])
async def test_a_golden_session_replayed_over_grpc_gets_its_expected_answer(
        expected: GoldenExpectation, cloud: CloudServer, signer: TokenSigner) -> None:
    await _check_replay(expected, ReplayOptions(cloud.address, signer.mint("golden"), fast=True))


@pytest.mark.slow
@pytest.mark.parametrize("expected", EXPECTATIONS, ids=[e.file for e in EXPECTATIONS])
async def test_a_golden_session_replayed_over_webrtc_gets_its_expected_answer(
        expected: GoldenExpectation, cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    options = ReplayOptions(cloud.address, signer.mint("golden"), fast=True, transport="webrtc",
                            whip_url=f"{http.url}/whip")
    await _check_replay(expected, options)  # the webrtc transport never falls back to gRPC


async def _check_replay(expected: GoldenExpectation, options: ReplayOptions) -> None:
    script = await asyncio.to_thread(read_script, GOLDEN / expected.file)
    (query,) = script.queries
    assert (query.text, query.frame_seq) == (expected.question, expected.frame_seq)
    run = await replay_session(script, options)
    answer = run.answers[query.query_id]
    assert answer.frame_seq == expected.frame_seq
    overlay = run.overlays[answer.overlay_id]
    if expected.skill == REPAIR_SKILL:
        _check_repair(expected, answer, overlay)
    else:
        _check_shelf(expected, answer, overlay)

    report = EvalReport()
    report.scores.extend(score_run(script, run))
    (score,) = report.scores
    assert report.accuracy == 1.0 and score.kind == ("repair" if expected.skill == REPAIR_SKILL else "shelf")
    if expected.skill == REPAIR_SKILL:  # the arrow's head on the component's true centre, recorded in the file
        assert score.step == expected.step and score.arrow_error is not None
        assert score.arrow_error <= ARROW_TOLERANCE


def _check_shelf(expected: GoldenExpectation, answer: Answer, overlay: Overlay) -> None:
    assert expected.answer_names.lower() in answer.text.lower()
    panel = next(i.shape for i in overlay.items if isinstance(i.shape, PanelShape))
    assert panel.rows[0].text.lower() == expected.answer_names.lower()


def _check_repair(expected: GoldenExpectation, answer: Answer, overlay: Overlay) -> None:
    assert answer.text.startswith(f"Step {expected.step} of ")
    card = next(i.shape for i in overlay.items if isinstance(i.shape, StepCardShape))
    assert card.step == expected.step and card.target_item_id == f"arrow-{expected.target}"
    arrow = next(i.shape for i in overlay.items if i.id == card.target_item_id)
    assert isinstance(arrow, ArrowShape)
