"""The offline fallback's state machine on a virtual clock, its notice, its metrics and its configuration."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.edge.daemon.config import ConfigError, load_config
from eyeline.edge.daemon.fallback import (
    NOTICE_ITEM_ID,
    OFFLINE_NOTICE,
    FallbackEndpoint,
    FallbackError,
    FallbackSettings,
    FallbackSwitch,
    OfflineFallback,
    remote_reachable,
    with_offline_notice,
)
from eyeline.edge.daemon.metrics import DaemonMetrics, health, prometheus_text
from eyeline.edge.messages import Answer, OverlayArrival
from eyeline.edge.overlays import BadgeShape, Item, NoticeShape, Overlay
from eyeline.edge.transport.grpc_uplink import UplinkOptions
from eyeline.protos.clock import VirtualClock

S = 1_000_000_000


def switch(**settings: object) -> tuple[FallbackSwitch, VirtualClock]:
    clock = VirtualClock()
    return FallbackSwitch(FallbackSettings(**settings), clock), clock  # type: ignore[arg-type]


def test_falling_back_is_due_only_after_the_remote_was_unreachable_for_after_s_in_a_row() -> None:
    fallback, clock = switch(after_s=10.0)
    assert not fallback.due() and fallback.remaining_s() is None  # nothing failed yet
    fallback.remote_failed()
    clock._now_ns += 6 * S
    fallback.remote_failed()  # a later failure does not restart the count
    assert not fallback.due() and fallback.remaining_s() == pytest.approx(4.0)
    clock._now_ns += 4 * S
    assert fallback.due()


def test_reaching_the_remote_restarts_the_count() -> None:
    fallback, clock = switch(after_s=10.0)
    fallback.remote_failed()
    clock._now_ns += 9 * S
    fallback.remote_reached()
    fallback.remote_failed()
    clock._now_ns += 9 * S
    assert not fallback.due()


def test_a_retry_delay_never_sleeps_past_the_moment_to_fall_back() -> None:
    fallback, clock = switch(after_s=10.0)
    assert fallback.clip_delay(30.0) == 30.0
    fallback.remote_failed()
    clock._now_ns += 7 * S
    assert fallback.clip_delay(30.0) == pytest.approx(3.0) and fallback.clip_delay(1.0) == 1.0


def test_disabled_never_falls_back() -> None:
    fallback, clock = switch(enabled=False, after_s=1.0)
    fallback.remote_failed()
    clock._now_ns += 100 * S
    assert not fallback.due() and fallback.clip_delay(30.0) == 30.0


def test_on_the_fallback_nothing_more_is_due_and_going_back_starts_afresh() -> None:
    fallback, clock = switch(after_s=2.0)
    fallback.remote_failed()
    clock._now_ns += 2 * S
    fallback.fell_back()
    assert fallback.offline and fallback.fallbacks == 1 and not fallback.due()
    fallback.went_back()
    assert not fallback.offline and not fallback.due()
    fallback.remote_failed()
    clock._now_ns += 2 * S
    fallback.fell_back()
    assert fallback.fallbacks == 2


def test_a_fallback_that_failed_to_start_waits_after_s_again() -> None:
    fallback, clock = switch(after_s=5.0)
    fallback.remote_failed()
    clock._now_ns += 5 * S
    fallback.fallback_failed()
    assert not fallback.due()
    clock._now_ns += 5 * S
    assert fallback.due()


def overlay(overlay_id: str = "frame-1", *items: Item) -> Overlay:
    return Overlay(overlay_id, "", 1, "t1", 0, items or (Item("b", BadgeShape((0.5, 0.5), "1")),))


def test_the_notice_is_added_once_to_overlays_and_to_nothing_else() -> None:
    marked = with_offline_notice(OverlayArrival(overlay()))
    assert isinstance(marked, OverlayArrival)
    notices = [item for item in marked.overlay.items if isinstance(item.shape, NoticeShape)]
    assert [n.shape.text for n in notices] == [OFFLINE_NOTICE]  # type: ignore[union-attr]
    assert notices[0].id == NOTICE_ITEM_ID
    assert marked.overlay.items[0] == overlay().items[0]  # what the cloud drew stays
    assert with_offline_notice(marked) == marked
    answer = Answer("q1", "text", 1, "t1", "instant", final=True)
    assert with_offline_notice(answer) is answer


class FailingCloud:
    def __init__(self) -> None:
        self.closed = 0

    async def start(self) -> FallbackEndpoint:
        raise FallbackError("no embedded cloud: rapidocr is not installed")

    async def aclose(self) -> None:
        self.closed += 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_fallback(cloud: FailingCloud | None, metrics: DaemonMetrics) -> tuple[OfflineFallback, VirtualClock]:
    clock = VirtualClock()
    remote = UplinkOptions(f"127.0.0.1:{free_port()}", connect_timeout_s=0.2)
    return OfflineFallback(FallbackSettings(after_s=3.0), remote, clock=clock, cloud=cloud, metrics=metrics), clock


async def test_a_cloud_that_cannot_start_is_retried_after_after_s_and_never_counted() -> None:
    metrics = DaemonMetrics()
    fallback, clock = offline_fallback(FailingCloud(), metrics)
    fallback.switch.remote_failed()
    clock._now_ns += 3 * S
    assert await fallback.start_cloud() is None
    assert not fallback.switch.due() and metrics.fallbacks == 0 and not metrics.offline


def test_without_a_cloud_the_daemon_never_falls_back() -> None:
    fallback, clock = offline_fallback(None, DaemonMetrics())
    fallback.switch.remote_failed()
    clock._now_ns += 100 * S
    assert not fallback.switch.due()


def test_metrics_and_health_say_offline_while_on_the_fallback() -> None:
    metrics = DaemonMetrics(connected=True, state="connected")
    fallback, _ = offline_fallback(FailingCloud(), metrics)
    fallback.entered()
    text = prometheus_text(metrics)
    assert "eyeline_edge_offline 1" in text and "eyeline_edge_fallbacks_total 1" in text
    assert "eyeline_edge_connected 0" in text
    assert health(metrics)["offline"] is True and health(metrics)["state"] == "fallback"
    assert fallback.mark(OverlayArrival(overlay())) != OverlayArrival(overlay())
    fallback.left()
    assert "eyeline_edge_offline 0" in prometheus_text(metrics)
    assert fallback.mark(OverlayArrival(overlay())) == OverlayArrival(overlay())


async def test_a_probe_finds_a_listening_cloud_and_not_a_dead_port(cloud: CloudServer) -> None:
    assert await remote_reachable(UplinkOptions(cloud.address, connect_timeout_s=5.0))
    assert not await remote_reachable(UplinkOptions(f"127.0.0.1:{free_port()}", connect_timeout_s=0.2))
    assert not cloud.sessions.active() and not cloud.sessions.detached()  # a probe opens no session


def write(tmp_path: Path, fallback: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(f'[device]\nspec = "synthetic:shelf"\n[cloud]\naddress = "127.0.0.1:1"\n[fallback]\n{fallback}\n')
    return path


def test_fallback_keys_are_read_and_default_to_on(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "after_s = 3\nprobe_s = 0.5\nenabled = false"))
    assert config.fallback == FallbackSettings(enabled=False, after_s=3.0, probe_s=0.5)
    assert load_config(write(tmp_path, "")).fallback == FallbackSettings()


@pytest.mark.parametrize(("line", "names"), [
    ("after_s = 0", "fallback.after_s must be positive"),
    ("probe_s = -1", "fallback.probe_s must be positive"),
    ('enabled = "yes"', "fallback.enabled must be bool"),
    ('after_s = "soon"', "fallback.after_s must be float"),
    ("after = 3", "unknown key fallback.after"),
])
def test_bad_fallback_values_name_the_file_and_the_key(tmp_path: Path, line: str, names: str) -> None:
    path = write(tmp_path, line)
    with pytest.raises(ConfigError, match=names) as raised:
        load_config(path)
    assert str(path) in str(raised.value)

