"""Offline fallback: when the remote cloud stays unreachable, the daemon talks to a cloud embedded on loopback.

The edge never imports the cloud, so whoever starts the daemon injects a ``FallbackCloud`` (``eyeline edge
--config`` gives it ``eyeline.tools.fallback.EmbeddedCloud``: the same code as ``eyeline cloud``, in-process,
with a secret of its own). ``FallbackSwitch`` decides when: the remote unreachable for ``after_s`` in a row
means fall back; while on the fallback the remote is probed every ``probe_s`` (a bare connection, no session,
so a probe costs the remote nothing) and the daemon goes back as soon as it answers.

The fallback session is a session like any other to the daemon's in-flight ledger: its id differs from the
remote's, so going either way the overlays of the session left are discarded, never applied to the new one,
and a pending question is asked again once (``edge.daemon.reconnect``). While on the fallback every frame shown
carries the notice ``OFFLINE_NOTICE``, and so does every overlay handed on (to a phone, to a caller's hook).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import grpc

from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import CloudEvent, OverlayArrival
from eyeline.edge.overlays import Item, NoticeShape
from eyeline.edge.transport.grpc_uplink import UplinkOptions
from eyeline.protos.clock import Clock

if TYPE_CHECKING:
    from eyeline.edge.daemon.metrics import DaemonMetrics  # the daemon's (it serves them over aiohttp)

log = logging.getLogger("eyeline.daemon")

OFFLINE_NOTICE = "offline: answers from this device"
NOTICE_ITEM_ID = "edge-offline-notice"


@dataclass(frozen=True, slots=True)
class FallbackSettings:
    enabled: bool = True
    after_s: float = 15.0   # the remote unreachable this long in a row: fall back
    probe_s: float = 5.0    # while on the fallback, try the remote this often
    # The embedded cloud's model reasoner (an OpenAI-compatible endpoint reachable offline, e.g. a local
    # llama.cpp server): "" = the embedded engine alone. The key is read from the file, else $EYELINE_MODEL_KEY.
    model_url: str = ""
    model: str = ""
    model_key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class FallbackEndpoint:
    address: str            # host:port of the embedded cloud (loopback)
    token: str              # a session token that cloud accepts


class FallbackCloud(Protocol):
    """A cloud the daemon can start on loopback; ``start`` again after ``aclose`` starts it afresh."""

    async def start(self) -> FallbackEndpoint: ...

    async def aclose(self) -> None: ...


class Closable(Protocol):
    async def aclose(self) -> None: ...


class FallbackError(EdgeError):
    """The embedded cloud could not be started or reached; the daemon keeps trying the remote."""

    retryable = True


def with_offline_notice(event: CloudEvent) -> CloudEvent:
    """``event`` with the offline notice added to its overlay (other events unchanged)."""
    if not isinstance(event, OverlayArrival):
        return event
    overlay = event.overlay
    if any(item.id == NOTICE_ITEM_ID for item in overlay.items):
        return event
    return replace(event, overlay=replace(overlay, items=(*overlay.items, notice_item(OFFLINE_NOTICE))))


def notice_item(text: str) -> Item:
    return Item(NOTICE_ITEM_ID, NoticeShape(text))


class FallbackSwitch:
    """When to fall back and when to probe, on an injected clock; no I/O."""

    def __init__(self, settings: FallbackSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._unreachable_since_ns: int | None = None
        self.offline = False
        self.fallbacks = 0

    def remote_failed(self) -> None:
        """An attempt at the remote failed; the first of a run starts the unreachable clock."""
        if self._unreachable_since_ns is None:
            self._unreachable_since_ns = self._clock.now_ns()

    def remote_reached(self) -> None:
        self._unreachable_since_ns = None

    def remaining_s(self) -> float | None:
        """Seconds until falling back is due (0: now); None when nothing is under way or it is off."""
        if not self.settings.enabled or self.offline or self._unreachable_since_ns is None:
            return None
        elapsed_s = (self._clock.now_ns() - self._unreachable_since_ns) / 1e9
        return max(0.0, self.settings.after_s - elapsed_s)

    def due(self) -> bool:
        return self.remaining_s() == 0.0

    def clip_delay(self, delay_s: float) -> float:
        """A retry delay shortened so that it does not sleep past the moment to fall back."""
        remaining = self.remaining_s()
        return delay_s if remaining is None else min(delay_s, remaining)

    def fell_back(self) -> None:
        self.offline = True
        self.fallbacks += 1

    def fallback_failed(self) -> None:
        """The fallback would not start: try the remote for another ``after_s`` before trying it again."""
        self._unreachable_since_ns = self._clock.now_ns()

    def went_back(self) -> None:
        self.offline = False
        self._unreachable_since_ns = None


async def remote_reachable(options: UplinkOptions) -> bool:
    """Whether a connection to the remote opens within its connect timeout (TLS included); opens no session."""
    if options.tls_ca is None:
        channel = grpc.aio.insecure_channel(options.target)
    else:
        roots = await asyncio.to_thread(options.tls_ca.read_bytes)
        channel = grpc.aio.secure_channel(options.target, grpc.ssl_channel_credentials(root_certificates=roots))
    try:
        await asyncio.wait_for(channel.channel_ready(), options.connect_timeout_s)
        return True
    except TimeoutError:
        return False
    finally:
        await channel.close()


class OfflineFallback:
    """The daemon's fallback: the switch, the embedded cloud's life, the probe, and what metrics and logs say."""

    def __init__(self, settings: FallbackSettings, remote: UplinkOptions, *, clock: Clock,
                 cloud: FallbackCloud | None, metrics: DaemonMetrics) -> None:
        # Without a cloud to fall back to, the switch is off: the daemon just keeps retrying the remote.
        self.switch = FallbackSwitch(replace(settings, enabled=settings.enabled and cloud is not None), clock)
        self._remote = remote
        self._clock = clock
        self._cloud = cloud
        self._metrics = metrics
        self._started = False

    @property
    def offline(self) -> bool:
        return self.switch.offline

    async def start_cloud(self) -> FallbackEndpoint | None:
        """The embedded cloud's endpoint, started if need be; None (logged) when it cannot start."""
        if self._cloud is None:
            return None
        try:
            endpoint = await self._cloud.start()
        except (EdgeError, OSError) as exc:
            self.failed(exc)
            return None
        self._started = True
        return endpoint

    def failed(self, exc: Exception) -> None:
        self.switch.fallback_failed()
        _event("fallback_failed", error=str(exc), retry_in_s=self.switch.settings.after_s)

    def entered(self) -> None:
        self.switch.fell_back()
        self._metrics.offline, self._metrics.fallbacks = True, self.switch.fallbacks
        self._metrics.state, self._metrics.connected = "fallback", False  # connected: to the remote
        _event("offline_fallback", fallbacks=self.switch.fallbacks, probe_s=self.switch.settings.probe_s)

    def left(self) -> None:
        """The fallback session ended (the remote is back, or the daemon is stopping)."""
        self.switch.went_back()
        self._metrics.offline = False
        _event("offline_fallback_ended")

    def mark(self, event: CloudEvent) -> CloudEvent:
        return with_offline_notice(event) if self.switch.offline else event

    async def remote_back(self) -> None:
        """Return once the remote answers a probe; probes every ``probe_s`` on the injected clock."""
        while True:
            await self._clock.sleep_until(self._clock.now_ns() + int(self.switch.settings.probe_s * 1e9))
            if await remote_reachable(self._remote):
                _event("remote_reachable")
                return

    async def close_when_back(self, feed: Closable) -> None:
        """Once the remote is back, end the fallback session as any clean stop does: closing its frame ``feed``
        ends the session's runtime, and closing the uplink then says Goodbye, so the embedded cloud closes it."""
        await self.remote_back()
        await feed.aclose()

    async def aclose(self) -> None:
        if self._cloud is not None and self._started:
            self._started = False
            with contextlib.suppress(EdgeError, OSError):
                await self._cloud.aclose()


def _event(event: str, **fields: object) -> None:
    log.info(json.dumps({"event": event, **fields}, sort_keys=True))
