"""The daemon's cloud session over real gRPC on loopback: a clean stop closes it, and the recording holds the
questions asked on it with their answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.recording import RecordingReader
from eyeline.edge.daemon.service import DaemonDeps, EdgeDaemon
from eyeline.edge.messages import CloudEvent
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.protos import recording as layout
from eyeline.protos.clock import MonotonicClock
from tests.integration.helpers import hello
from tests.integration.test_daemon import daemon_config, run_daemon, until
from tests.integration.test_daemon_fallback import QUESTION, answered, ask_now, cloud_config


@pytest.fixture
async def noop_cloud(signer: TokenSigner) -> AsyncIterator[CloudServer]:
    server = CloudServer(cloud_config(), signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


def port_of(server: CloudServer) -> int:
    return int(server.address.rsplit(":", 1)[1])


async def test_a_stopped_daemon_says_goodbye_and_the_cloud_holds_nothing_for_it(
        noop_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    config = daemon_config(port_of(noop_cloud), tmp_path, record_folder=None, metrics_port=-1)
    daemon = EdgeDaemon(config, signer.mint("glasses"))

    async def connect() -> None:
        def sending() -> bool:
            daemon.refresh_metrics()
            return daemon.metrics.connected and daemon.metrics.frames_sent >= 1

        await until(sending, 20, "a session with frames")
        assert len(noop_cloud.sessions.active()) == 1

    await run_daemon(daemon, connect)
    # Closed at once: not left detached for a resume that will never come.
    assert noop_cloud.sessions.active() == [] and noop_cloud.sessions.detached() == []


async def test_the_daemon_recording_holds_the_question_and_its_answer(
        noop_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    events: list[CloudEvent] = []
    daemon = EdgeDaemon(daemon_config(port_of(noop_cloud), tmp_path, metrics_port=-1), signer.mint("glasses"),
                        DaemonDeps(MonotonicClock(), on_event=events.append))

    async def ask() -> None:
        query_id = await ask_now(daemon)
        await until(answered(events, query_id), 30, "the answer")

    await run_daemon(daemon, ask)
    assert daemon.recording_path is not None
    reader = RecordingReader(daemon.recording_path)
    queries = [m.message for m in reader.messages(frozenset({layout.QUERIES}))]
    assert [(q.text, q.query_id) for q in queries] == [(QUESTION, "q1")]
    answers = [m.message for m in reader.messages(frozenset({layout.ANSWERS}))]
    assert any(a.query_id == "q1" and a.final for a in answers)


async def test_an_uplink_whose_reader_was_cancelled_still_closes_the_session_with_goodbye(
        noop_cloud: CloudServer, signer: TokenSigner) -> None:
    uplink = GrpcUplink(UplinkOptions(noop_cloud.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("glasses")))
    reader = asyncio.create_task(anext(aiter(uplink)))
    await asyncio.sleep(0.1)  # the read is pending, as the runtime's receiver's is when it is cancelled
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert len(noop_cloud.sessions.active()) == 1
    await uplink.aclose()
    assert noop_cloud.sessions.active() == [] and noop_cloud.sessions.detached() == []
