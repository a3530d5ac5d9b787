"""The daemon's health and Prometheus metrics over HTTP, and the wearer's pause/resume commands.

``GET /healthz`` answers JSON (state, connected, paused, session); ``GET /metrics`` the Prometheus text format;
``POST /pause`` and ``POST /resume`` stop and restart capture, for a caller with the daemon's control token that
is no web page (``edge/daemon/control.py``); ``POST /ask`` and ``/talk`` are added by ``edge/daemon/asking.py``.
Nothing served here holds frame bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from eyeline.edge.daemon.control import ControlGuard


@dataclass(slots=True)
class LatencySummary:
    """A Prometheus summary without quantiles: count and sum of round trips, in seconds."""

    count: int = 0
    total_s: float = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds


@dataclass(slots=True)
class DaemonMetrics:
    frames_captured: int = 0          # pulled from the device, sent or not
    frames_sent: int = 0              # keyframes that went up to the cloud
    frames_dropped: int = 0           # captured but never offered to the cloud: offline, paused, or superseded
    reconnects: int = 0               # sessions opened after the first
    connect_failures: int = 0
    device_reopens: int = 0
    overlays_received: int = 0
    offers_received: int = 0          # answers the cloud offered unasked (proactive turns)
    overlays_discarded: int = 0       # overlays of a connection that broke, never applied to the next one
    overlays_rejected: int = 0        # overlays naming no frame this edge sent: dropped, never drawn
    resumes: int = 0                  # reconnects that continued the same session id
    answers_lost: int = 0             # questions whose answers were lost twice across reconnects
    frames_throttled: int = 0         # held back by the power policy's frame-rate cap (counted as dropped too)
    phone_frames_pushed: int = 0      # push-ingest: frames a phone pushed that decoded
    phone_frames_rejected: int = 0    # push-ingest: corrupt or oversized pushed frames
    phone_messages_relayed: int = 0   # push-ingest: cloud messages passed back to the phone
    power_level: str = "normal"       # normal | low | critical (edge/daemon/power.py)
    power_max_fps: float = 0.0        # the power policy's frame-rate cap; 0 = none
    battery_percent: float = -1.0     # the latest report; -1 = none
    fallbacks: int = 0                # times the daemon fell back to the embedded cloud (edge/daemon/fallback.py)
    offline: bool = False             # on the embedded cloud now: answers come from this device
    round_trip: LatencySummary = field(default_factory=LatencySummary)
    queue_depths: dict[str, int] = field(default_factory=dict)
    connected: bool = False
    paused: bool = False
    session_id: str = ""
    state: str = "starting"


_COUNTERS = (
    ("frames_captured", "Frames pulled from the device."),
    ("frames_sent", "Keyframes sent to the cloud."),
    ("frames_dropped", "Captured frames never offered to the cloud (offline, paused or superseded)."),
    ("reconnects", "Sessions opened after the first."),
    ("connect_failures", "Failed attempts to open a session."),
    ("device_reopens", "Times the device was reopened after failing."),
    ("overlays_received", "Overlays received from the cloud."),
    ("offers_received", "Answers the cloud offered unasked (proactive turns)."),
    ("overlays_discarded", "Overlays of a broken connection, dropped rather than applied to the next one."),
    ("overlays_rejected", "Overlays naming no frame this edge sent, dropped rather than drawn."),
    ("resumes", "Reconnects that continued the same cloud session."),
    ("answers_lost", "Questions whose answer was lost across reconnects (after one retry)."),
    ("frames_throttled", "Frames held back by the power policy's frame-rate cap."),
    ("phone_frames_pushed", "Frames a phone pushed to the ingest service that decoded."),
    ("phone_frames_rejected", "Pushed frames refused as corrupt or over the limits."),
    ("phone_messages_relayed", "Cloud messages relayed back to the pushing phone."),
    ("fallbacks", "Times the remote cloud stayed unreachable and the embedded cloud took over."),
)
_POWER_LEVELS = ("normal", "low", "critical")


def prometheus_text(m: DaemonMetrics) -> str:
    lines: list[str] = []
    for name, help_text in _COUNTERS:
        lines += [f"# HELP eyeline_edge_{name}_total {help_text}", f"# TYPE eyeline_edge_{name}_total counter",
                  f"eyeline_edge_{name}_total {getattr(m, name)}"]
    lines += ["# HELP eyeline_edge_round_trip_seconds Capture to overlay drawn, per overlay.",
              "# TYPE eyeline_edge_round_trip_seconds summary",
              f"eyeline_edge_round_trip_seconds_count {m.round_trip.count}",
              f"eyeline_edge_round_trip_seconds_sum {m.round_trip.total_s:.6f}",
              "# HELP eyeline_edge_queue_depth Items waiting in each internal queue.",
              "# TYPE eyeline_edge_queue_depth gauge"]
    lines += [f'eyeline_edge_queue_depth{{queue="{q}"}} {d}' for q, d in sorted(m.queue_depths.items())]
    for name in ("connected", "paused", "offline"):
        lines += [f"# TYPE eyeline_edge_{name} gauge", f"eyeline_edge_{name} {int(getattr(m, name))}"]
    lines += ["# HELP eyeline_edge_power_level The power policy's level (1 for the current one).",
              "# TYPE eyeline_edge_power_level gauge"]
    lines += [f'eyeline_edge_power_level{{level="{level}"}} {int(level == m.power_level)}' for level in _POWER_LEVELS]
    lines += ["# TYPE eyeline_edge_power_max_fps gauge", f"eyeline_edge_power_max_fps {m.power_max_fps:g}",
              "# TYPE eyeline_edge_battery_percent gauge", f"eyeline_edge_battery_percent {m.battery_percent:g}"]
    return "\n".join(lines) + "\n"


def health(m: DaemonMetrics) -> dict[str, object]:
    return {"state": m.state, "connected": m.connected, "paused": m.paused, "session_id": m.session_id,
            "power": m.power_level, "offline": m.offline}


class MetricsServer:
    """Serves ``metrics`` (read live on every request); ``on_pause(True|False)`` handles the pause commands."""

    def __init__(self, metrics: DaemonMetrics, on_pause: Callable[[bool], None], *, host: str, port: int,
                 guard: ControlGuard, refresh: Callable[[], None] = lambda: None,
                 more_routes: Callable[[web.Application], None] = lambda app: None) -> None:
        self._metrics = metrics
        self._guard = guard
        self._refresh = refresh
        self._on_pause = on_pause
        self._more_routes = more_routes   # POST /ask and /talk (edge/daemon/asking.py), behind the same guard
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/metrics", self._prometheus)
        app.router.add_post("/pause", self._pause)
        app.router.add_post("/resume", self._resume)
        self._more_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _health(self, _: web.Request) -> web.Response:
        status = 200 if self._metrics.state in ("connected", "paused", "offline", "fallback", "starting") else 503
        return web.Response(text=json.dumps(health(self._metrics)), status=status, content_type="application/json")

    async def _prometheus(self, _: web.Request) -> web.Response:
        self._refresh()
        return web.Response(text=prometheus_text(self._metrics), content_type="text/plain", charset="utf-8")

    async def _pause(self, request: web.Request) -> web.Response:
        return await self._control(request, paused=True)

    async def _resume(self, request: web.Request) -> web.Response:
        return await self._control(request, paused=False)

    async def _control(self, request: web.Request, *, paused: bool) -> web.Response:
        refusal = self._guard.refusal(request)
        if refusal is not None:
            raise refusal
        self._on_pause(paused)
        return await self._health(request)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
