"""Battery and heat: what the capturing device reports, and how much work the edge asks of it in return.

``PowerPolicy`` is pure: a ``PowerState`` (battery, charging, thermal) in, ``PowerLimits`` (a frame-rate cap and the
deepest reasoning mode allowed) out. The daemon applies the limits; where a report comes from (a phone's
``DeviceStatus`` on the push-ingest stream, or a JSON status file such as ``termux-battery-status`` writes) does not
matter here. The table, with the default thresholds:

====================================================  ========  ======================  ==============
state                                                 level     frame rate              deepest mode
====================================================  ========  ======================  ==============
thermal critical, or battery <= 5 % and not charging  critical  1 fps                   instant
thermal serious, battery <= 20 % and not charging,    low       half the configured     thinking
or battery <= 5 % while charging
anything else (and nothing reported)                  normal    as configured           contemplating
====================================================  ========  ======================  ==============
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eyeline.edge.errors import EdgeError

THERMAL_STATES = ("unknown", "nominal", "fair", "serious", "critical")
MODE_ORDER = ("instant", "thinking", "contemplating")
NORMAL, LOW, CRITICAL = "normal", "low", "critical"
LEVELS = (NORMAL, LOW, CRITICAL)


class PowerStatusError(EdgeError):
    """A device status report (a status file's JSON) could not be read or understood."""

    retryable = True  # the file is rewritten by its producer; the next poll may read it whole


@dataclass(frozen=True, slots=True)
class PowerState:
    battery_percent: float | None = None   # None: not reported
    charging: bool = False
    thermal: str = "unknown"               # one of THERMAL_STATES


@dataclass(frozen=True, slots=True)
class PowerSettings:
    """Thresholds and what each level allows; the ``[power]`` section of the daemon's configuration."""

    low_battery_percent: float = 20.0
    critical_battery_percent: float = 5.0
    low_rate_factor: float = 0.5           # the frame rate at level low, as a fraction of the configured one
    critical_fps: float = 1.0
    low_max_mode: str = "thinking"
    critical_max_mode: str = "instant"
    hot_celsius: float = 40.0              # a status file's battery temperature: this or more is "serious"
    critical_celsius: float = 45.0         # and this or more is "critical"


@dataclass(frozen=True, slots=True)
class PowerLimits:
    level: str                             # normal, low or critical
    max_fps: float                         # 0 = no cap beyond the configured rate
    max_mode: str                          # the deepest reasoning mode a query may ask for


class PowerPolicy:
    def __init__(self, settings: PowerSettings | None = None) -> None:
        self.settings = settings or PowerSettings()

    def level(self, state: PowerState) -> str:
        s, battery = self.settings, state.battery_percent
        if state.thermal == "critical":
            return CRITICAL
        if battery is not None and battery <= s.critical_battery_percent:
            return LOW if state.charging else CRITICAL
        if state.thermal == "serious":
            return LOW
        if battery is not None and battery <= s.low_battery_percent and not state.charging:
            return LOW
        return NORMAL

    def limits(self, state: PowerState, configured_fps: float) -> PowerLimits:
        """The caps for ``state`` when the edge is configured to send ``configured_fps`` keyframes a second."""
        level = self.level(state)
        if level == CRITICAL:
            return PowerLimits(level, min(configured_fps, self.settings.critical_fps), self.settings.critical_max_mode)
        if level == LOW:
            return PowerLimits(level, configured_fps * self.settings.low_rate_factor, self.settings.low_max_mode)
        return PowerLimits(level, 0.0, MODE_ORDER[-1])


def clamp_mode(requested: str, max_mode: str) -> str:
    """``requested`` ("" = the session's default, which is instant) made no deeper than ``max_mode``."""
    if not requested or MODE_ORDER.index(requested) <= MODE_ORDER.index(max_mode):
        return requested
    return max_mode


class RateCap:
    """Lets frames through at no more than ``max_fps`` (0 = all), by their capture times."""

    def __init__(self) -> None:
        self.max_fps = 0.0
        self._last_ns: int | None = None
        self.held_back = 0

    def admit(self, capture_ns: int) -> bool:
        if self.max_fps > 0 and self._last_ns is not None and capture_ns - self._last_ns < 1e9 / self.max_fps:
            self.held_back += 1
            return False
        self._last_ns = capture_ns
        return True


class PowerGovernor:
    """The latest power report and the limits it sets: ``rate`` gates frames, listeners hear each change."""

    def __init__(self, policy: PowerPolicy, configured_fps: float) -> None:
        self.policy = policy
        self.configured_fps = configured_fps
        self.state = PowerState()
        self.limits = policy.limits(self.state, configured_fps)
        self.rate = RateCap()
        self.reports = 0
        self._listeners: list[Callable[[PowerLimits], None]] = []

    def on_change(self, listener: Callable[[PowerLimits], None]) -> None:
        self._listeners.append(listener)

    def report(self, state: PowerState) -> bool:
        """Take a new report (the latest wins, whichever reporter sent it); True when the limits changed."""
        self.reports += 1
        self.state = state
        limits = self.policy.limits(state, self.configured_fps)
        if limits == self.limits:
            return False
        self.limits = limits
        self.rate.max_fps = limits.max_fps
        for listener in self._listeners:
            listener(limits)
        return True

    def clamp(self, mode: str) -> str:
        return clamp_mode(mode, self.limits.max_mode)


async def poll_status_file(path: Path, settings: PowerSettings, interval_s: float,
                           report: Callable[[PowerState], None], on_error: Callable[[PowerStatusError], None]) -> None:
    """Read ``path`` every ``interval_s`` until cancelled; a bad read keeps the last state and is reported."""
    while True:
        try:
            state = await asyncio.to_thread(read_status_file, path, settings)
        except PowerStatusError as exc:
            on_error(exc)
        else:
            report(state)
        await asyncio.sleep(interval_s)


# ------------------------------------------------------------------ status files


def read_status_file(path: Path, settings: PowerSettings) -> PowerState:
    """A status file's JSON: ``termux-battery-status`` output, or ``{"battery_percent", "charging", "thermal"}``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PowerStatusError(f"power.status_file {path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise PowerStatusError(f"power.status_file {path}: not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PowerStatusError(f"power.status_file {path}: expected a JSON object, got {type(document).__name__}")
    try:
        return parse_status(document, settings)
    except (TypeError, ValueError) as exc:
        raise PowerStatusError(f"power.status_file {path}: {exc}") from exc


def parse_status(document: dict[str, Any], settings: PowerSettings) -> PowerState:
    if "percentage" in document:  # termux-battery-status
        return _termux_state(document, settings)
    percent = document.get("battery_percent")
    thermal = document.get("thermal", "unknown")
    if thermal not in THERMAL_STATES:
        raise ValueError(f"thermal must be one of {', '.join(THERMAL_STATES)}, got {thermal!r}")
    charging = document.get("charging", False)
    if not isinstance(charging, bool):
        raise ValueError(f"charging must be true or false, got {charging!r}")
    return PowerState(None if percent is None else _percent(percent), charging, thermal)


def _termux_state(document: dict[str, Any], settings: PowerSettings) -> PowerState:
    charging = document.get("status") in ("CHARGING", "FULL") or document.get("plugged", "UNPLUGGED") != "UNPLUGGED"
    celsius = document.get("temperature")
    thermal = "unknown"
    if isinstance(celsius, int | float) and not isinstance(celsius, bool):
        thermal = ("critical" if celsius >= settings.critical_celsius
                   else "serious" if celsius >= settings.hot_celsius else "nominal")
    return PowerState(_percent(document["percentage"]), bool(charging), thermal)


def _percent(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"battery percentage must be a number in 0..100, got {value!r}")
    return float(value)
