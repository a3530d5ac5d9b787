"""The golden corpus as a conformance suite: every session replayed over a transport gets its expected answer.

Transports covered: gRPC and WebRTC (WHIP signaling, the data channel) against the same cloud. The corpus holds
shelf sessions only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eyeline.cloud.auth import TokenSigner
from eyeline.cloud.http import HttpServer
from eyeline.cloud.server import CloudServer
from eyeline.edge.overlays import PanelShape
from eyeline.tools.corpus import GoldenExpectation, load_expectations
from eyeline.tools.evaluate import EvalReport, score_run
from eyeline.tools.replay import ReplayOptions, read_script, replay_session

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
EXPECTATIONS = load_expectations(GOLDEN)


@pytest.fixture
async def http(cloud: CloudServer) -> AsyncIterator[HttpServer]:
    server = HttpServer(cloud)
    await server.start()
    yield server
    await server.stop()


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
    assert expected.answer_names.lower() in answer.text.lower()
    panel = next(i.shape for i in run.overlays[f"answer-{query.query_id}"].items if isinstance(i.shape, PanelShape))
    assert panel.rows[0].text.lower() == expected.answer_names.lower()

    report = EvalReport()
    report.scores.extend(score_run(script, run))
    assert report.accuracy == 1.0 and report.scores[0].expected == expected.answer_names
