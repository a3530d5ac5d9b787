"""The daemon's control routes over real HTTP on loopback: POST /pause and /resume act only for a caller with
the control token, addressed to the device by a local or configured name, and never for a web page."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from eyeline.edge.daemon.config import ConfigError, parse_config
from eyeline.edge.daemon.control import ControlGuard, ControlTokenError, host_name, load_control_token
from eyeline.edge.daemon.metrics import DaemonMetrics, MetricsServer

TOKEN = "a-control-token-for-the-test"


@pytest.fixture
async def server() -> AsyncIterator[tuple[MetricsServer, DaemonMetrics]]:
    metrics = DaemonMetrics()

    def on_pause(paused: bool) -> None:
        metrics.paused = paused

    guard = ControlGuard.for_service(TOKEN, "127.0.0.1", ("glasses.local",))
    served = MetricsServer(metrics, on_pause, host="127.0.0.1", port=0, guard=guard)
    await served.start()
    yield served, metrics
    await served.aclose()


async def _post(port: int, path: str, headers: dict[str, str]) -> int:
    """POST with exactly ``headers`` (Host included: what a rebound DNS name or another page would send)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", "Content-Length: 0", "Connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


def _local(port: int, **more: str) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {TOKEN}", **more}


async def test_pause_and_resume_need_the_control_token(server: tuple[MetricsServer, DaemonMetrics]) -> None:
    served, metrics = server
    port = served.port
    assert await _post(port, "/pause", {"Host": f"127.0.0.1:{port}"}) == 401
    assert await _post(port, "/pause", _local(port, Authorization="Bearer not-the-token")) == 401
    assert await _post(port, "/pause", _local(port, Authorization=f"Basic {TOKEN}")) == 401
    assert not metrics.paused
    assert await _post(port, "/pause", _local(port)) == 200 and metrics.paused
    assert await _post(port, "/resume", {"Host": f"localhost:{port}"}) == 401 and metrics.paused
    assert await _post(port, "/resume", _local(port, Host=f"localhost:{port}")) == 200 and not metrics.paused


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},                     # a page elsewhere posting with fetch()
    {"Origin": "null"},                                    # a sandboxed frame or a file:// page
    {"Sec-Fetch-Site": "cross-site"},                      # a form post from another site
    {"Host": "evil.example:9464"},                         # DNS rebinding: the page's own name, now 127.0.0.1
    {"Host": "127.0.0.1.evil.example"},
    {"Host": ""},
])
async def test_a_web_page_or_a_rebound_name_is_refused_even_with_the_token(
        server: tuple[MetricsServer, DaemonMetrics], headers: dict[str, str]) -> None:
    served, metrics = server
    assert await _post(served.port, "/resume" if metrics.paused else "/pause", _local(served.port, **headers)) == 403
    assert not metrics.paused


async def test_configured_and_loopback_names_are_accepted(server: tuple[MetricsServer, DaemonMetrics]) -> None:
    served, metrics = server
    for host in (f"[::1]:{served.port}", "glasses.local", f"GLASSES.local:{served.port}", "localhost"):
        metrics.paused = False
        assert await _post(served.port, "/pause", _local(served.port, Host=host)) == 200 and metrics.paused, host


async def test_health_and_metrics_stay_open_to_read(server: tuple[MetricsServer, DaemonMetrics]) -> None:
    served, _ = server
    async with aiohttp.ClientSession() as client:
        for path in ("/healthz", "/metrics"):
            async with client.get(f"http://127.0.0.1:{served.port}{path}") as response:
                assert response.status == 200


def test_host_names_lose_their_port() -> None:
    assert [host_name(h) for h in ("[::1]:9464", "localhost:80", "::1", "Glasses.Local", "a:b:c")] == \
        ["::1", "localhost", "::1", "glasses.local", "a:b:c"]


def test_a_missing_token_file_is_made_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "control-token"
    made = load_control_token(path)
    assert len(made) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_control_token(path) == made
    assert load_control_token(None) != load_control_token(None)   # no file: a fresh token each run


def test_a_token_file_others_may_read_or_an_empty_one_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared-token"
    shared.write_text("secret\n")
    shared.chmod(0o644)
    with pytest.raises(ControlTokenError, match="others may read it"):
        load_control_token(shared)
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(ControlTokenError, match="empty"):
        load_control_token(empty)
    with pytest.raises(ControlTokenError, match="cannot write"):
        load_control_token(tmp_path / "no-such-folder" / "token")


def test_the_control_keys_parse_and_a_bad_host_list_is_a_config_error(tmp_path: Path) -> None:
    base = {"device": {"spec": "webcam:0"}, "cloud": {"address": "cloud:50051"}}
    config = parse_config({**base, "service": {"control_token_file": "control-token",
                                               "control_hosts": ["glasses.local"]}}, base=tmp_path)
    assert config.control_token_file == tmp_path / "control-token" and config.control_hosts == ("glasses.local",)
    for bad in ("glasses.local", [""], [1]):
        with pytest.raises(ConfigError, match=r"service\.control_hosts must be a list of non-empty strings"):
            parse_config({**base, "service": {"control_hosts": bad}})
