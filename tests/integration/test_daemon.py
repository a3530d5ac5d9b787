"""The edge daemon against real cloud processes on loopback: restarts, metrics, and start-up errors."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.recording import RecordingReader
from eyeline.edge.daemon.config import DaemonConfig
from eyeline.edge.daemon.reconnect import BackoffSettings
from eyeline.edge.daemon.service import DeviceStartError, EdgeDaemon
from eyeline.protos import recording as layout

SECRET = "daemon-test-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cloud(port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "EYELINE_TOKEN_SECRET": SECRET}
    process = subprocess.Popen([sys.executable, "-m", "eyeline.tools.cli", "cloud", "--port", str(port),
                                "--http-port", "-1", "--frame-skill", "noop"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "listening" in line:
            return process
    raise AssertionError(f"the cloud did not start (exit {process.wait()})")


@pytest.fixture
def cloud_port() -> Iterator[int]:
    yield free_port()


async def until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    for _ in range(int(within_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


def daemon_config(port: int, tmp_path: Path, **changes: object) -> DaemonConfig:
    config = DaemonConfig(device="synthetic:shelf?seed=1&fps=10", cloud=f"127.0.0.1:{port}",
                          profile="rayban-class", connect_timeout_s=1.0, record_folder=tmp_path / "rec",
                          metrics_port=0, reconnect=BackoffSettings(0.2, 1.0, 2.0, 0.1), redact_faces=False)
    return replace(config, **changes)  # type: ignore[arg-type]


async def scrape(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def recorded_seqs(path: Path) -> list[int]:
    return [m.sequence for m in RecordingReader(path).messages(frozenset({layout.CAMERA}))]


async def run_daemon(daemon: EdgeDaemon, body: Callable[[], Awaitable[None]]) -> None:
    running = asyncio.create_task(daemon.run())
    try:
        await body()
    finally:
        daemon.stop()
        await asyncio.wait_for(running, 20)


@pytest.mark.slow
async def test_the_daemon_reconnects_after_the_cloud_is_killed_and_records_without_a_gap(
        cloud_port: int, tmp_path: Path) -> None:
    cloud = start_cloud(cloud_port)
    daemon = EdgeDaemon(daemon_config(cloud_port, tmp_path), TokenSigner(SECRET.encode()).mint("glasses"))

    async def kill_and_restart() -> None:
        nonlocal cloud
        await until(lambda: daemon.metrics.overlays_received >= 2, 30, "overlays on the first session")
        first_session = daemon.metrics.session_id
        cloud.kill()
        cloud.wait()
        await until(lambda: not daemon.metrics.connected, 10, "the edge notices the cloud is gone")
        captured_offline = daemon.metrics.frames_captured
        await asyncio.sleep(1.0)
        assert daemon.metrics.frames_captured > captured_offline  # capture goes on while offline
        cloud = start_cloud(cloud_port)
        await until(lambda: daemon.metrics.connected, 10, "the edge reconnects by itself")
        overlays = daemon.metrics.overlays_received
        await until(lambda: daemon.metrics.overlays_received > overlays, 30, "overlays on the new session")
        # The restarted cloud (same secret) proves the id is its own: the same session goes on, its state lost,
        # so the overlays of the old frames are discarded and none names a frame the edge did not send.
        assert daemon.metrics.session_id == first_session
        metrics = await scrape(daemon.metrics_port)
        assert metrics["eyeline_edge_resumes_total"] == 1 and metrics["eyeline_edge_overlays_rejected_total"] == 0
        assert metrics["eyeline_edge_overlays_discarded_total"] >= 2
        assert metrics["eyeline_edge_reconnects_total"] == 1
        assert metrics["eyeline_edge_connected"] == 1
        assert metrics["eyeline_edge_round_trip_seconds_count"] == daemon.metrics.overlays_received

    try:
        await run_daemon(daemon, kill_and_restart)
    finally:
        cloud.kill()
        cloud.wait()
    assert daemon.recording_path is not None
    seqs = recorded_seqs(daemon.recording_path)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap across the outage
    assert len(seqs) == daemon.metrics.frames_captured


@pytest.mark.slow
async def test_metrics_count_what_the_daemon_did_and_pause_stops_capture(cloud_port: int, tmp_path: Path) -> None:
    cloud = start_cloud(cloud_port)
    config = daemon_config(cloud_port, tmp_path, device="synthetic:shelf?seed=2&fps=10&frames=40")
    daemon = EdgeDaemon(config, TokenSigner(SECRET.encode()).mint("glasses"))

    async def pause_and_resume() -> None:
        await until(lambda: daemon.metrics.overlays_received >= 1, 30, "a first overlay")
        control = {"Authorization": f"Bearer {daemon.control_token}"}
        async with aiohttp.ClientSession(headers=control) as http:
            async with http.post(f"http://127.0.0.1:{daemon.metrics_port}/pause") as response:
                assert (await response.json())["paused"] is True
            captured = daemon.metrics.frames_captured
            await asyncio.sleep(1.0)
            assert daemon.metrics.frames_captured <= captured + 1  # at most the frame being read as it paused
            paused_metrics = await scrape(daemon.metrics_port)
            assert paused_metrics["eyeline_edge_paused"] == 1
            async with http.post(f"http://127.0.0.1:{daemon.metrics_port}/resume"):
                pass
        await until(lambda: daemon.metrics.state == "stopped", 30, "the device to end after resuming")

    try:
        await run_daemon(daemon, pause_and_resume)
    finally:
        cloud.kill()
        cloud.wait()
    m = daemon.metrics
    assert 39 <= m.frames_captured <= 40  # a frame being read as the pause came is discarded, never recorded
    assert daemon.recording_path is not None
    assert len(recorded_seqs(daemon.recording_path)) == m.frames_captured
    sent = [m.sequence for m in RecordingReader(daemon.recording_path).messages(frozenset({layout.KEYFRAMES}))]
    assert m.frames_sent == len(sent)
    assert m.frames_sent + m.frames_dropped <= 40 and m.frames_sent >= 1
    assert m.reconnects == 0


async def test_an_unreachable_cloud_is_retried_with_backoff_not_fatal(tmp_path: Path) -> None:
    config = daemon_config(free_port(), tmp_path, record_folder=None, metrics_port=-1, connect_timeout_s=0.2,
                           reconnect=BackoffSettings(0.05, 0.1, 2.0, 0.0))
    daemon = EdgeDaemon(config, "token")

    async def wait_for_retries() -> None:
        await until(lambda: daemon.metrics.connect_failures >= 3, 10, "three failed attempts")
        assert daemon.metrics.state == "offline" and daemon.metrics.frames_captured > 0

    await run_daemon(daemon, wait_for_retries)


async def test_a_missing_device_stops_the_daemon_with_a_clear_error(tmp_path: Path) -> None:
    config = daemon_config(free_port(), tmp_path, device=f"video:{tmp_path / 'nope.mp4'}", metrics_port=-1)
    with pytest.raises(DeviceStartError, match=r"nope\.mp4"):
        await EdgeDaemon(config, "token").run()


def test_the_cli_exits_nonzero_naming_a_malformed_config_key(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[device]\nspec = "synthetic:shelf"\n'
                    '[cloud]\naddress = "127.0.0.1:1"\ntransport = "carrier-pigeon"\n')
    done = subprocess.run([sys.executable, "-m", "eyeline.tools.cli", "edge", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cloud.transport" in done.stderr and str(path) in done.stderr
