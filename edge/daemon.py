"""The edge as an unattended service: capture never stops for the network, and the session comes back by itself.

One capture task owns the device for the daemon's whole life: it pulls frames, records them locally, and offers
them to whichever connection is up (a latest-frame slot, so an offline edge drops frames instead of queueing
them). One session task opens a connection, runs an ``EdgeRuntime`` over it until the stream breaks, and tries
again with exponential backoff and jitter.

Overlays across a reconnect: every connection has its own ``EdgeRuntime``, and so its own overlay table, which is
dropped with the connection. An overlay can therefore only be drawn on frames of the connection whose frame
sequence it names; overlays computed for frames of a broken connection are never applied to the next one: they
were delivered before the break or are lost, and the loss is counted (``overlays_discarded``) and logged.
A cloud that restarts has no memory of the old session, so the edge opens a new one with the same token and
profile; the recording (one file per daemon run) spans both with contiguous frame sequence numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from eyeline.devices.base import CapturedFrame, DeviceError, FrameSource
from eyeline.devices.clock import Clock, MonotonicClock
from eyeline.devices.profiles import profile_by_name
from eyeline.devices.spec import open_device
from eyeline.edge.config import DaemonConfig
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import CloudEvent, OverlayArrival, Welcome
from eyeline.edge.metrics import DaemonMetrics, MetricsServer
from eyeline.edge.reconnect import RandomSource, ReconnectPolicy
from eyeline.edge.record import RecorderOptions, RecordingSampler, SessionRecorder, observe_with
from eyeline.edge.render import OverlayRenderer
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.slot import LatestSlot, SlotClosedError
from eyeline.edge.uplink import GrpcUplink, UplinkError, UplinkOptions
from eyeline.edge.wire import EncodedFrame, HelloOut, QueryOut
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger("eyeline.daemon")

SourceOpener = Callable[[str], FrameSource]
_STOP_GRACE_S = 5.0


def runtime_send_depth(uplink: GrpcUplink | None) -> int:
    """Messages waiting to go up the stream (0 when offline)."""
    return 0 if uplink is None else uplink.queued


class DeviceStartError(EdgeError):
    """The device could not be opened when the daemon started: a configuration problem, not a hiccup."""


def event_log(event: str, **fields: object) -> None:
    """One structured log line; callers pass counts, ids and states only, never frames or text."""
    log.info(json.dumps({"event": event, **fields}, sort_keys=True))


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        body: dict[str, object] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                                   "logger": record.name}
        try:
            parsed = json.loads(message)
            body.update(parsed if isinstance(parsed, dict) else {"message": message})
        except ValueError:
            body["message"] = message
        return json.dumps(body, sort_keys=True)


class _FrameTap:
    """The frames one connection's runtime sees: the latest captured, until the connection ends."""

    def __init__(self) -> None:
        self.slot: LatestSlot[CapturedFrame] = LatestSlot()

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        with contextlib.suppress(SlotClosedError):
            while True:
                yield await self.slot.get()

    async def aclose(self) -> None:
        self.slot.close()


class _SessionUplink:
    """A gRPC uplink whose downlink ending, for whatever reason, reads as a broken (retryable) stream."""

    def __init__(self, inner: GrpcUplink) -> None:
        self.inner = inner

    async def push_frame(self, frame: EncodedFrame) -> None:
        await self.inner.push_frame(frame)

    async def ask(self, query: QueryOut) -> None:
        await self.inner.ask(query)

    async def send_message(self, message: pb.EdgeMessage) -> None:
        await self.inner.send_message(message)

    async def open(self, hello: HelloOut) -> Welcome:
        return await self.inner.open(hello)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aiter__(self) -> AsyncIterator[CloudEvent]:
        async for event in self.inner:
            yield event
        raise UplinkError("the cloud ended the session", retryable=True)


@dataclass(frozen=True, slots=True)
class DaemonDeps:
    clock: Clock
    rng: RandomSource | None = None
    open_source: SourceOpener | None = None     # None: devices.spec.open_device with the configured profile


class EdgeDaemon:
    def __init__(self, config: DaemonConfig, token: str, deps: DaemonDeps | None = None) -> None:
        self.config = config
        self.metrics = DaemonMetrics()
        self._token = token
        self._deps = deps or DaemonDeps(MonotonicClock())
        self._clock = self._deps.clock
        self._profile = profile_by_name(config.profile)
        self._tap: _FrameTap | None = None
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._stopping = asyncio.Event()
        self._recorder: SessionRecorder | None = None
        self._runtime: EdgeRuntime | None = None
        self._uplink: GrpcUplink | None = None
        self._sent_before = 0
        self.recording_path: Path | None = None
        self.metrics_port = 0

    # ------------------------------------------------------------------ control

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM): capture ends, the recording is closed whole, the session is closed."""
        self._stopping.set()
        self._resumed.set()

    def set_paused(self, paused: bool) -> None:
        """While paused nothing is captured, sent or recorded: the device is not even read."""
        if paused == self.metrics.paused:
            return
        self.metrics.paused = paused
        if paused:
            self._resumed.clear()
        else:
            self._resumed.set()
        event_log("paused" if paused else "resumed")

    def toggle_pause(self) -> None:
        self.set_paused(not self.metrics.paused)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run until the device ends or ``stop()``; raises for what retrying cannot fix."""
        source = self._open_first_source()
        server = await self._start_metrics()
        await self._open_recorder()
        try:
            async with asyncio.TaskGroup() as group:
                capture = group.create_task(self._capture(source), name="daemon-capture")
                sessions = group.create_task(self._sessions(), name="daemon-sessions")
                await capture
                self._stopping.set()
                if self._tap is not None:
                    await self._tap.aclose()
                with contextlib.suppress(TimeoutError):  # a session stuck on a dead link is cancelled
                    await asyncio.wait_for(sessions, _STOP_GRACE_S)
        except* (EdgeError, DeviceError) as failed:
            raise failed.exceptions[0] from None
        finally:
            self.metrics.state = "stopped"
            if self._recorder is not None:
                await self._recorder.aclose()
            if server is not None:
                await server.aclose()
            event_log("stopped", frames_captured=self.metrics.frames_captured, frames_sent=self.metrics.frames_sent)

    def _open_source(self) -> FrameSource:
        if self._deps.open_source is not None:
            return self._deps.open_source(self.config.device)
        return open_device(self.config.device, clock=self._clock, profile=self._profile)

    def _open_first_source(self) -> FrameSource:
        try:
            return self._open_source()
        except DeviceError as exc:
            raise DeviceStartError(f"cannot open device {self.config.device!r}: {exc}") from exc

    async def _start_metrics(self) -> MetricsServer | None:
        if self.config.metrics_port < 0:
            return None
        server = MetricsServer(self.metrics, self.set_paused, refresh=self.refresh_metrics,
                               host=self.config.metrics_host, port=self.config.metrics_port)
        await server.start()
        self.metrics_port = server.port
        event_log("metrics_listening", host=self.config.metrics_host, port=server.port)
        return server

    async def _open_recorder(self) -> None:
        folder = self.config.record_folder
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        self.recording_path = folder / time.strftime("edge-%Y%m%d-%H%M%S.mcap")
        self._recorder = SessionRecorder(self.recording_path, RecorderOptions(image_format=self.config.record_format),
                                         clock=self._clock, info={"device": self.config.device,
                                                                  "profile": self._profile.name})
        await asyncio.to_thread(self._recorder.open)
        event_log("recording", path=str(self.recording_path))

    # ------------------------------------------------------------------ capture

    async def _capture(self, source: FrameSource) -> None:
        """Pull frames for the daemon's whole life; reopen a device that fails with a retryable error."""
        backoff = ReconnectPolicy(self.config.reconnect, clock=self._clock, rng=self._deps.rng)
        while True:
            try:
                await self._pull(source)
                return
            except DeviceError as exc:
                if not exc.retryable:
                    raise
                event_log("device_lost", error=type(exc).__name__)
            finally:
                await source.aclose()
            source = await self._reopen(backoff)

    async def _reopen(self, backoff: ReconnectPolicy) -> FrameSource:
        while True:
            await backoff.wait()
            try:
                source = self._open_source()
            except DeviceError as exc:
                if not exc.retryable:
                    raise
                continue
            self.metrics.device_reopens += 1
            backoff.succeeded()
            event_log("device_reopened", reopens=self.metrics.device_reopens)
            return source

    async def _pull(self, source: FrameSource) -> None:
        frames = aiter(source)
        while not self._stopping.is_set():
            await self._resumed.wait()
            if self._stopping.is_set():
                return
            try:
                frame = await anext(frames)
            except StopAsyncIteration:
                return
            await self._take(frame)

    async def _take(self, frame: CapturedFrame) -> None:
        if self.metrics.paused:  # paused while the device was being read: this frame was never wanted
            return
        self.metrics.frames_captured += 1
        if self._recorder is not None:
            await self._recorder.record_frame(frame)
        if self._tap is None:
            self.metrics.frames_dropped += 1
        else:
            self._tap.slot.put(frame)

    # ------------------------------------------------------------------ sessions

    async def _sessions(self) -> None:
        policy = ReconnectPolicy(self.config.reconnect, clock=self._clock, rng=self._deps.rng)
        opened = 0
        while not self._stopping.is_set():
            uplink = GrpcUplink(UplinkOptions(self.config.cloud, connect_timeout_s=self.config.connect_timeout_s,
                                              tls_ca=self.config.tls_ca), clock=self._clock)
            try:
                welcome = await uplink.open(self._hello())
            except UplinkError as exc:
                await uplink.aclose()
                await self._connect_failed(exc, policy)
                continue
            opened += 1
            self.metrics.reconnects += opened > 1
            policy.succeeded()
            event_log("connected", session_id=welcome.session_id, reconnects=self.metrics.reconnects)
            self.metrics.session_id, self.metrics.connected, self.metrics.state = welcome.session_id, True, "connected"
            await self._serve(uplink)

    async def _connect_failed(self, exc: UplinkError, policy: ReconnectPolicy) -> None:
        if not exc.retryable:
            raise exc
        self.metrics.connect_failures += 1
        self.metrics.state = "offline"
        delay = policy.next_delay_s()
        event_log("connect_failed", error=str(exc), retry_in_s=round(delay, 3))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _serve(self, uplink: GrpcUplink) -> None:
        tap = _FrameTap()
        runtime = EdgeRuntime(tap, _SessionUplink(uplink), renderer=OverlayRenderer(), config=self._edge_config(),
                              clock=self._clock, on_event=self._observer())
        if self._recorder is not None:
            runtime.sampler = RecordingSampler(runtime.sampler, self._recorder)
        self._tap, self._runtime, self._uplink = tap, runtime, uplink
        try:
            await runtime.run()
        except UplinkError as exc:
            if not exc.retryable:
                raise
            event_log("connection_lost", error=str(exc), overlays_discarded=len(runtime.overlays))
            self.metrics.overlays_discarded += len(runtime.overlays)
        finally:
            self._tap = None
            await tap.aclose()
            self.refresh_metrics()
            self._sent_before += runtime.stats.keyframes_sent
            self.metrics.frames_dropped += runtime.stats.uplink_dropped + tap.slot.dropped
            self._runtime, self._uplink = None, None
            self.metrics.connected, self.metrics.state = False, "offline"
            await uplink.aclose()

    def refresh_metrics(self) -> None:
        runtime = self._runtime
        sent = runtime.stats.keyframes_sent if runtime is not None else 0
        self.metrics.frames_sent = self._sent_before + sent
        depths = {"uplink_send": runtime_send_depth(self._uplink)}
        if self._recorder is not None:
            stats = self._recorder.stats
            depths["recorder_frames"] = stats.frames_queued - stats.frames_written
        self.metrics.queue_depths = depths

    def _observer(self) -> Callable[[CloudEvent], None]:
        def observe(event: CloudEvent) -> None:
            if isinstance(event, OverlayArrival):
                self.metrics.overlays_received += 1
                if event.hops.capture_ns:
                    self.metrics.round_trip.observe((self._clock.now_ns() - event.hops.capture_ns) / 1e9)

        return observe if self._recorder is None else observe_with(self._recorder, observe)

    def _hello(self) -> HelloOut:
        p = self._profile
        return HelloOut(token=self._token, profile_name=p.name, width=p.width, height=p.height, fps=p.fps,
                        horizontal_fov_deg=p.horizontal_fov_deg, uplink_budget_kbps=p.uplink_budget_kbps,
                        has_display=p.has_display, mode="instant")

    def _edge_config(self) -> EdgeConfig:
        return EdgeConfig(sampling="rate", max_keyframes_per_s=self.config.max_keyframes_per_s,
                          uplink_budget_kbps=self.config.uplink_budget_kbps or self._profile.uplink_budget_kbps,
                          redact_faces=self.config.redact_faces)


# ------------------------------------------------------------------ the service


def read_token(config: DaemonConfig, environ: dict[str, str]) -> str:
    if config.token_file is not None:
        try:
            token = config.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EdgeError(f"cloud.token_file {config.token_file}: cannot read: {exc.strerror}") from exc
        if not token:
            raise EdgeError(f"cloud.token_file {config.token_file}: the file is empty")
        return token
    token = environ.get("EYELINE_TOKEN", "")
    if not token:
        raise EdgeError("no session token: set cloud.token_file in the configuration or $EYELINE_TOKEN")
    return token


def use_json_logs(level: int = logging.INFO) -> None:
    """Structured logs on stderr, one JSON object a line (what journald and `logcat`-style collectors want)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


async def serve(config: DaemonConfig, token: str, deps: DaemonDeps | None = None) -> EdgeDaemon:
    """Run the daemon until the device ends or SIGTERM/SIGINT; SIGUSR1 toggles the capture pause."""
    import signal

    daemon = EdgeDaemon(config, token, deps)
    loop = asyncio.get_running_loop()
    handlers = {signal.SIGTERM: daemon.stop, signal.SIGINT: daemon.stop, signal.SIGUSR1: daemon.toggle_pause}
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    try:
        await daemon.run()
    finally:
        for signum in handlers:
            loop.remove_signal_handler(signum)
    return daemon
