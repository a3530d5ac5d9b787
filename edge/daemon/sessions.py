"""The daemon's connections to the cloud: one session after another, for the daemon's whole life.

``CloudSessions.run`` opens a connection, runs an ``EdgeRuntime`` over it until the stream breaks or the session
is closed on purpose, and tries again with exponential backoff and jitter; when the remote stays unreachable it
serves a session with the embedded cloud instead (``edge.daemon.fallback``). Every reconnect asks the cloud to resume
the same session (``Hello.resume_session_id``) and the in-flight ledger (``edge.daemon.reconnect``) says what the new
stream keeps of the old one. A session ended on purpose (the daemon stopping, the fallback giving way to the
remote) ends with the runtime; closing the uplink then says Goodbye, so the cloud closes the session at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from eyeline.devices.base import CapturedFrame
from eyeline.devices.profiles import GlassesProfile
from eyeline.edge.daemon.config import DaemonConfig
from eyeline.edge.daemon.fallback import OFFLINE_NOTICE, OfflineFallback
from eyeline.edge.daemon.log import event_log, log
from eyeline.edge.daemon.metrics import DaemonMetrics
from eyeline.edge.daemon.reconnect import InFlightLedger, RandomSource, ReconnectPolicy, Recovery
from eyeline.edge.display.hud import renderer_for
from eyeline.edge.frames.slot import LatestSlot, SlotClosedError
from eyeline.edge.messages import CloudEvent, Welcome
from eyeline.edge.overlays import Overlay
from eyeline.edge.recording.recorder import RecordingSampler, RecordingUplink, SessionRecorder
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import UplinkError
from eyeline.edge.transport.wire import EncodedFrame, HelloOut, QueryOut
from eyeline.protos.clock import Clock
from eyeline.protos.tasks import TaskSet
from eyeline.protos.v1 import session_pb2 as pb


def remote_options(config: DaemonConfig) -> UplinkOptions:
    return UplinkOptions(config.cloud, connect_timeout_s=config.connect_timeout_s, tls_ca=config.tls_ca)


class FrameTap:
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


class SessionUplink:
    """A gRPC uplink whose downlink ending, for whatever reason, reads as a broken (retryable) stream; what goes
    up and comes down passes the daemon's in-flight ledger, which drops overlays that name no frame sent."""

    def __init__(self, inner: GrpcUplink, ledger: InFlightLedger, metrics: DaemonMetrics) -> None:
        self.inner = inner
        self._ledger = ledger
        self._metrics = metrics

    async def push_frame(self, frame: EncodedFrame) -> None:
        self._ledger.sent(frame.seq, frame.trace_id)
        await self.inner.push_frame(frame)

    async def ask(self, query: QueryOut) -> None:
        self._ledger.asked(query)
        await self.inner.ask(query)

    async def send_message(self, message: pb.EdgeMessage) -> None:
        await self.inner.send_message(message)

    async def open(self, hello: HelloOut) -> Welcome:
        return await self.inner.open(hello)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aiter__(self) -> AsyncIterator[CloudEvent]:
        async for event in self.inner:
            if self._ledger.accepts(event):
                yield event
            else:
                self._metrics.overlays_rejected += 1
                event_log("overlay_rejected", reason="names no frame this edge sent")
        raise UplinkError("the cloud ended the session", retryable=True)


class CloudSessions:
    """The daemon's session loop. ``tap`` is where capture offers frames (None while no session is up);
    ``runtime`` and ``uplink`` are the current session's; ``recorder``, once set, records every session."""

    def __init__(self, config: DaemonConfig, token: str, profile: GlassesProfile, *, clock: Clock,
                 rng: RandomSource | None, metrics: DaemonMetrics, fallback: OfflineFallback,
                 stopping: asyncio.Event, observer: Callable[[], Callable[[CloudEvent], None]]) -> None:
        self.config = config
        self._token = token
        self._profile = profile
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._fallback = fallback
        self._stopping = stopping
        self._observer = observer
        self.recorder: SessionRecorder | None = None
        self.tap: FrameTap | None = None
        self.runtime: EdgeRuntime | None = None
        self.uplink: GrpcUplink | None = None
        self.sent_before = 0                     # keyframes sent by the sessions already ended
        self._ledger = InFlightLedger()
        self._carried: dict[str, Overlay] = {}  # overlays of the last connection, for a session that resumes
        self._session_id = ""                   # the session every reconnect asks to resume
        self._recovery: Recovery | None = None

    async def run(self) -> None:
        policy = ReconnectPolicy(self.config.reconnect, clock=self._clock, rng=self._rng)
        opened = 0
        while not self._stopping.is_set():
            if self._fallback.switch.due():
                await self._serve_fallback()
                continue
            uplink = GrpcUplink(remote_options(self.config), clock=self._clock)
            try:
                welcome = await uplink.open(self._hello())
            except UplinkError as exc:
                await uplink.aclose()
                self._fallback.switch.remote_failed()
                await self._connect_failed(exc, policy)
                continue
            self._fallback.switch.remote_reached()
            opened += 1
            self._metrics.reconnects += opened > 1
            policy.succeeded()
            self._welcomed(welcome)
            await self._serve(uplink)

    async def _connect_failed(self, exc: UplinkError, policy: ReconnectPolicy) -> None:
        if not exc.retryable:
            raise exc
        self._metrics.connect_failures += 1
        self._metrics.state = "offline"
        delay = self._fallback.switch.clip_delay(policy.next_delay_s())
        event_log("connect_failed", error=str(exc), retry_in_s=round(delay, 3))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    def _welcomed(self, welcome: Welcome) -> None:
        """Count what the new stream keeps of the old one (see ``edge.daemon.service``'s docstring)."""
        same = bool(self._session_id) and welcome.session_id == self._session_id
        kept = same and welcome.resumed and not welcome.state_lost
        self._metrics.resumes += same and welcome.resumed
        if not kept:
            self._metrics.overlays_discarded += len(self._carried)
            self._carried = {}
        self._recovery = self._ledger.reconnected(welcome) if self._session_id else None
        if self._recovery is not None and self._recovery.lost:
            self._metrics.answers_lost += len(self._recovery.lost)
            event_log("answers_lost", queries=[q.query_id for q in self._recovery.lost])
        self._session_id = welcome.session_id
        event_log("connected", session_id=welcome.session_id, reconnects=self._metrics.reconnects,
                  resumed=welcome.resumed, state_lost=welcome.state_lost)
        self._metrics.session_id, self._metrics.connected, self._metrics.state = welcome.session_id, True, "connected"

    async def _serve_fallback(self) -> None:
        """A session with the embedded cloud, until the remote answers a probe (then a Goodbye ends it)."""
        endpoint = await self._fallback.start_cloud()
        if endpoint is None:
            return
        uplink = GrpcUplink(UplinkOptions(endpoint.address, connect_timeout_s=self.config.connect_timeout_s),
                            clock=self._clock)
        try:
            welcome = await uplink.open(replace(self._hello(), token=endpoint.token))
        except UplinkError as exc:
            await uplink.aclose()
            self._fallback.failed(exc)
            return
        self._welcomed(welcome)
        self._fallback.entered()
        try:
            await self._serve(uplink, offline=True)
        finally:
            self._fallback.left()

    async def _serve(self, uplink: GrpcUplink, *, offline: bool = False) -> None:
        tap = FrameTap()
        runtime, session_uplink = self._runtime_for(tap, uplink)
        self.tap, self.runtime, self.uplink = tap, runtime, uplink
        runtime.notice = OFFLINE_NOTICE if offline else ""
        watching = TaskSet("daemon fallback", logger=log)   # offline: ends the session once the remote is back
        if offline:
            watching.spawn(self._fallback.close_when_back(tap), name="daemon-fallback-watch")
        try:
            await self._reask(session_uplink)
            await runtime.run()
            # Ended on purpose (stopping, or the fallback giving way to the remote): the uplink says Goodbye.
            event_log("session_closed", session_id=self._session_id, offline=offline)
        except UplinkError as exc:
            if not exc.retryable:
                raise
            event_log("connection_lost", error=str(exc), overlays_held=len(runtime.overlays))
        finally:
            self._carried = dict(runtime.overlays)
            await watching.aclose()
            await self._ended(tap, runtime, uplink)

    def _runtime_for(self, tap: FrameTap, uplink: GrpcUplink) -> tuple[EdgeRuntime, SessionUplink]:
        session_uplink = SessionUplink(uplink, self._ledger, self._metrics)
        # Recorded as ``eyeline edge --record`` records: each query as it is handed to the uplink, every cloud
        # event (overlays, answers, trace steps, errors) through the observer, every keyframe through the sampler.
        runtime_uplink = session_uplink if self.recorder is None else RecordingUplink(session_uplink, self.recorder)
        runtime = EdgeRuntime(tap, runtime_uplink, renderer=renderer_for(self._profile), config=self._edge_config(),
                              clock=self._clock, on_event=self._observer())
        runtime.overlays.update(self._carried)
        if self.recorder is not None:
            runtime.sampler = RecordingSampler(runtime.sampler, self.recorder)
        return runtime, session_uplink

    async def _ended(self, tap: FrameTap, runtime: EdgeRuntime, uplink: GrpcUplink) -> None:
        self.tap = None
        await tap.aclose()
        self.sent_before += runtime.stats.keyframes_sent
        self._metrics.frames_sent = self.sent_before
        self._metrics.frames_dropped += runtime.stats.uplink_dropped + tap.slot.dropped
        self.runtime, self.uplink = None, None
        self._metrics.connected, self._metrics.state = False, "offline"
        await uplink.aclose()

    async def _reask(self, uplink: SessionUplink) -> None:
        """Re-asked questions go to the uplink unrecorded: the recording holds each question once."""
        recovery, self._recovery = self._recovery, None
        for query in () if recovery is None else recovery.reask:
            event_log("reasked", query_id=query.query_id)
            await uplink.ask(query)

    def _hello(self) -> HelloOut:
        p = self._profile
        return HelloOut(token=self._token, profile_name=p.name, width=p.width, height=p.height, fps=p.fps,
                        horizontal_fov_deg=p.horizontal_fov_deg, uplink_budget_kbps=p.uplink_budget_kbps,
                        has_display=p.has_display, mode="instant", resume_session_id=self._session_id,
                        last_frame_seq=self._ledger.last_seq,
                        capabilities=("overlay", "proactive") if self.config.proactive else ("overlay",))

    def _edge_config(self) -> EdgeConfig:
        return EdgeConfig(sampling="rate", max_keyframes_per_s=self.config.max_keyframes_per_s,
                          uplink_budget_kbps=self.config.uplink_budget_kbps or self._profile.uplink_budget_kbps,
                          redact_faces=self.config.redact_faces)
