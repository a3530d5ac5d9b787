"""The power policy's table, status reports as a phone or Termux writes them, and the daemon applying them."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import pytest

from eyeline.edge.daemon.config import ConfigError, DaemonConfig, parse_config
from eyeline.edge.daemon.ingest_stream import power_state
from eyeline.edge.daemon.power import (
    PowerGovernor,
    PowerPolicy,
    PowerSettings,
    PowerState,
    PowerStatusError,
    RateCap,
    clamp_mode,
    read_status_file,
)
from eyeline.edge.daemon.reconnect import BackoffSettings
from eyeline.edge.daemon.service import EdgeDaemon
from eyeline.protos.v1 import session_pb2 as pb

POLICY = PowerPolicy()


@pytest.mark.parametrize(("state", "level", "max_fps", "max_mode"), [
    (PowerState(), "normal", 0.0, "contemplating"),
    (PowerState(80.0), "normal", 0.0, "contemplating"),
    (PowerState(21.0), "normal", 0.0, "contemplating"),
    (PowerState(20.0), "low", 2.0, "thinking"),
    (PowerState(15.0, charging=True), "normal", 0.0, "contemplating"),
    (PowerState(5.0), "critical", 1.0, "instant"),
    (PowerState(3.0, charging=True), "low", 2.0, "thinking"),
    (PowerState(90.0, thermal="fair"), "normal", 0.0, "contemplating"),
    (PowerState(90.0, thermal="serious"), "low", 2.0, "thinking"),
    (PowerState(90.0, charging=True, thermal="critical"), "critical", 1.0, "instant"),
    (PowerState(None, thermal="critical"), "critical", 1.0, "instant"),
])
def test_the_policy_table(state: PowerState, level: str, max_fps: float, max_mode: str) -> None:
    limits = POLICY.limits(state, configured_fps=4.0)
    assert (limits.level, limits.max_fps, limits.max_mode) == (level, max_fps, max_mode)


def test_thresholds_and_caps_come_from_the_settings() -> None:
    policy = PowerPolicy(PowerSettings(low_battery_percent=50, critical_battery_percent=10, low_rate_factor=0.25,
                                       critical_fps=0.5, low_max_mode="instant"))
    assert policy.limits(PowerState(40.0), 4.0).max_fps == 1.0
    assert policy.limits(PowerState(40.0), 4.0).max_mode == "instant"
    assert policy.limits(PowerState(9.0), 4.0).max_fps == 0.5
    assert policy.limits(PowerState(60.0), 4.0).level == "normal"
    assert policy.limits(PowerState(1.0), 0.2).max_fps == 0.2  # critical never raises a rate set lower


@pytest.mark.parametrize(("requested", "ceiling", "expected"), [
    ("contemplating", "thinking", "thinking"), ("contemplating", "instant", "instant"),
    ("thinking", "instant", "instant"), ("instant", "thinking", "instant"), ("", "instant", ""),
    ("thinking", "contemplating", "thinking"),
])
def test_modes_are_clamped_to_the_ceiling(requested: str, ceiling: str, expected: str) -> None:
    assert clamp_mode(requested, ceiling) == expected


def test_the_rate_cap_lets_frames_through_no_faster_than_set() -> None:
    cap = RateCap()
    assert all(cap.admit(i * 100_000_000) for i in range(10))  # no cap: every frame
    cap.max_fps = 2.0
    admitted = [t for t in range(10, 40) if cap.admit(t * 100_000_000)]  # 3 s of 10 fps
    assert len(admitted) == 6
    assert cap.held_back == 24


def test_the_governor_tells_listeners_only_when_the_limits_change() -> None:
    governor = PowerGovernor(POLICY, configured_fps=2.0)
    heard: list[str] = []
    governor.on_change(lambda limits: heard.append(limits.level))
    assert not governor.report(PowerState(90.0))
    assert governor.report(PowerState(4.0))
    assert not governor.report(PowerState(3.0))
    assert governor.report(PowerState(4.0, charging=True))
    assert heard == ["critical", "low"]
    assert governor.rate.max_fps == 1.0
    assert governor.clamp("contemplating") == "thinking"


def test_a_phone_device_status_becomes_a_power_state() -> None:
    status = pb.DeviceStatus(battery_percent=12.5, charging=False, thermal=pb.THERMAL_STATE_SERIOUS)
    assert power_state(status) == PowerState(12.5, False, "serious")
    assert power_state(pb.DeviceStatus()) == PowerState(None, False, "unknown")


def test_termux_battery_status_is_read(tmp_path: Path) -> None:
    path = tmp_path / "battery.json"
    path.write_text(json.dumps({"health": "GOOD", "percentage": 14, "plugged": "UNPLUGGED",
                                "status": "DISCHARGING", "temperature": 41.5, "current": -300000}))
    assert read_status_file(path, PowerSettings()) == PowerState(14.0, False, "serious")
    path.write_text(json.dumps({"percentage": 14, "plugged": "PLUGGED_AC", "status": "CHARGING",
                                "temperature": 30.0}))
    assert read_status_file(path, PowerSettings()) == PowerState(14.0, True, "nominal")


def test_a_plain_status_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text(json.dumps({"battery_percent": 55, "charging": True, "thermal": "critical"}))
    assert read_status_file(path, PowerSettings()) == PowerState(55.0, True, "critical")


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"percentage": 140}', "0..100"),
    ('{"battery_percent": "low"}', "0..100"),
    ('{"thermal": "toasty"}', "thermal must be one of"),
    ('{"charging": "yes"}', "charging must be true or false"),
])
def test_a_bad_status_file_names_the_file_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "status.json"
    path.write_text(text)
    with pytest.raises(PowerStatusError, match=problem) as caught:
        read_status_file(path, PowerSettings())
    assert str(path) in str(caught.value)


def test_a_missing_status_file_is_an_error_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(PowerStatusError, match="cannot read"):
        read_status_file(tmp_path / "absent.json", PowerSettings())


def test_power_configuration_keys(tmp_path: Path) -> None:
    base = {"device": {"spec": "synthetic:shelf"}, "cloud": {"address": "127.0.0.1:1"}}
    config = parse_config({**base, "power": {"status_file": "battery.json", "critical_fps": 2,
                                             "low_battery_percent": 30}}, base=tmp_path)
    assert config.power_status_file == tmp_path / "battery.json"
    assert config.power == PowerSettings(low_battery_percent=30.0, critical_fps=2.0)
    with pytest.raises(ConfigError, match=r"power\.low_max_mode must be one of"):
        parse_config({**base, "power": {"low_max_mode": "pondering"}})
    with pytest.raises(ConfigError, match=r"power\.low_battery_percent"):
        parse_config({**base, "power": {"low_battery_percent": 3, "critical_battery_percent": 10}})
    with pytest.raises(ConfigError, match=r"unknown key power\.battery"):
        parse_config({**base, "power": {"battery": 3}})


# ------------------------------------------------------------------ the daemon applies it


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _scrape(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


async def _until(condition: object, within_s: float, what: str) -> None:
    assert callable(condition)
    for _ in range(int(within_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


async def test_the_daemon_follows_a_termux_status_file(tmp_path: Path) -> None:
    status = tmp_path / "battery.json"
    status.write_text(json.dumps({"percentage": 3, "plugged": "UNPLUGGED", "status": "DISCHARGING",
                                  "temperature": 30.0}))
    config = DaemonConfig(device="synthetic:shelf?seed=1&fps=10", cloud=f"127.0.0.1:{_closed_port()}",
                          profile="rayban-class", connect_timeout_s=0.5, metrics_port=0, redact_faces=False,
                          reconnect=BackoffSettings(0.2, 0.5, 2.0, 0.1), power_status_file=status, power_poll_s=0.1)
    daemon = EdgeDaemon(config, "unused-token")
    running = asyncio.create_task(daemon.run())
    try:
        await _until(lambda: daemon.metrics.power_level == "critical", 10, "the status file is read")
        metrics = await _scrape(daemon.metrics_port)
        assert metrics['eyeline_edge_power_level{level="critical"}'] == 1
        assert metrics['eyeline_edge_power_level{level="normal"}'] == 0
        assert metrics["eyeline_edge_battery_percent"] == 3
        assert metrics["eyeline_edge_power_max_fps"] == 1
        await _until(lambda: daemon.metrics.frames_throttled > 5, 10, "frames over 1 fps are held back")
        status.write_text(json.dumps({"percentage": 3, "plugged": "PLUGGED_USB", "status": "CHARGING"}))
        await _until(lambda: daemon.metrics.power_level == "low", 10, "charging lifts it to low")
        status.write_text("{garbage")
        await asyncio.sleep(0.3)
        assert daemon.metrics.power_level == "low"  # an unreadable report keeps the last state
    finally:
        daemon.stop()
        await asyncio.wait_for(running, 20)
