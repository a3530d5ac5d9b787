"""The daemon's offline fallback over real gRPC on loopback: the remote cloud unreachable, the embedded cloud
answers (and every overlay says so), then the remote appears and the daemon goes back to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.edge.daemon.fallback import OFFLINE_NOTICE, FallbackSettings
from eyeline.edge.daemon.reconnect import BackoffSettings
from eyeline.edge.daemon.service import DaemonDeps, EdgeDaemon
from eyeline.edge.messages import Answer, CloudEvent, OverlayArrival
from eyeline.edge.overlays import NoticeShape
from eyeline.protos.clock import MonotonicClock
from eyeline.tools.fallback import EmbeddedCloud
from tests.integration.test_daemon import daemon_config, free_port, recorded_seqs, run_daemon, scrape, until

QUESTION = "which of these has the most protein?"


def cloud_config(port: int = 0) -> CloudConfig:
    return CloudConfig(port=port, warm_up=False, frame_skill="noop", agent_workers=0)


def says_offline(event: OverlayArrival) -> bool:
    return any(isinstance(item.shape, NoticeShape) and item.shape.text == OFFLINE_NOTICE
               for item in event.overlay.items)


async def ask_now(daemon: EdgeDaemon) -> str:
    """Ask as soon as a session is up to carry the question."""
    for _ in range(100):
        query_id = await daemon.ask(QUESTION, "instant")
        if query_id is not None:
            return query_id
        await asyncio.sleep(0.1)
    raise AssertionError("no session came up to ask on")


def answered(events: list[CloudEvent], query_id: str, since: int = 0) -> Callable[[], bool]:
    """Query ids are per session, so an answer is looked for among the events since the question."""
    return lambda: any(isinstance(e, Answer) and e.final and e.query_id == query_id for e in events[since:])


@pytest.mark.slow
async def test_an_unreachable_remote_falls_back_to_the_embedded_cloud_and_back_when_it_returns(
        signer: TokenSigner, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here until the remote "returns"
    embedded = EmbeddedCloud(cloud_config())
    events: list[CloudEvent] = []
    config = daemon_config(port, tmp_path, connect_timeout_s=0.3, reconnect=BackoffSettings(0.1, 0.3, 2.0, 0.0),
                           fallback=FallbackSettings(after_s=1.0, probe_s=0.3))
    daemon = EdgeDaemon(config, signer.mint("glasses"),
                        DaemonDeps(MonotonicClock(), fallback_cloud=embedded, on_event=events.append))
    remote = CloudServer(cloud_config(port), signer)

    async def offline_then_back() -> None:
        await until(lambda: daemon.metrics.offline, 15, "the fallback after after_s")
        assert daemon.metrics.connect_failures >= 2  # it tried the remote first
        offline_query = await ask_now(daemon)
        await until(answered(events, offline_query), 60, "an answer from the embedded cloud")
        assert embedded.server is not None and len(embedded.server.sessions.active()) == 1
        overlays = [e for e in events if isinstance(e, OverlayArrival)]
        assert overlays and all(says_offline(e) for e in overlays)
        metrics = await scrape(daemon.metrics_port)
        assert metrics["eyeline_edge_offline"] == 1 and metrics["eyeline_edge_fallbacks_total"] == 1
        assert metrics["eyeline_edge_connected"] == 0
        captured = daemon.metrics.frames_captured

        await remote.start()
        await until(lambda: daemon.metrics.connected and not daemon.metrics.offline, 15, "back on the remote")
        await until(lambda: not embedded.server.sessions.active(), 5, "the fallback session ended")  # type: ignore[union-attr]
        assert not embedded.server.sessions.detached()  # ended with a Goodbye, not left to be resumed
        held = remote.sessions.get(daemon.metrics.session_id)
        assert held is not None and len(remote.sessions.active()) == 1
        metrics = await scrape(daemon.metrics_port)
        assert metrics["eyeline_edge_offline"] == 0 and metrics["eyeline_edge_connected"] == 1
        assert metrics["eyeline_edge_overlays_rejected_total"] == 0
        assert metrics["eyeline_edge_overlays_discarded_total"] >= 1  # the fallback's, never carried onto the remote

        seen = len(events)
        remote_query = await ask_now(daemon)
        await until(answered(events, remote_query, seen), 60, "an answer from the remote cloud")
        assert held.stats.queries == 1  # asked of the remote, not of the embedded cloud
        assert not any(says_offline(e) for e in events[seen:] if isinstance(e, OverlayArrival))
        assert daemon.metrics.frames_captured > captured  # capture went on across the switch

    try:
        await run_daemon(daemon, offline_then_back)
    finally:
        await remote.stop(grace_s=0.5)
    assert embedded.server is None  # the daemon stopped its embedded cloud
    assert daemon.recording_path is not None
    seqs = recorded_seqs(daemon.recording_path)
    assert seqs == list(range(len(seqs))) and len(seqs) == daemon.metrics.frames_captured
