"""The edge as an unattended service: capture never stops for the network, and the session comes back by itself.

One capture task owns the device for the daemon's whole life: it pulls frames, has their faces destroyed (the
privacy stage, ``edge.frames.redact``, camera and phone frames alike), records them locally, and offers them to
whichever connection is up (a latest-frame slot, so an offline edge drops frames instead of queueing them). One
session task (``edge.daemon_session``) opens a connection, runs an ``EdgeRuntime`` over it until the stream breaks,
and tries again with exponential backoff and jitter.

Overlays across a reconnect: the daemon numbers captured frames itself, so a frame seq names one frame for the
daemon's whole life (a reopened device starts nothing over), and every reconnect asks the cloud to resume the
same session (``Hello.resume_session_id``). Resumed with its state, the session goes on under the same id: the
overlays already received stay, and answers computed while the edge was away arrive and are applied. Resumed
with its state lost (the cloud restarted) or replaced by a new session, the old overlays are discarded (counted,
``overlays_discarded``) and pending questions are asked again once or reported lost (``answers_lost``); see
``edge.daemon.reconnect``. Whatever happens, an overlay whose frame seq and trace id do not name a frame this daemon
sent is dropped (``overlays_rejected``), never drawn. The recording (one file per daemon run) spans every
connection with contiguous frame sequence numbers. A remote that stays unreachable is stood in for by a cloud
embedded on loopback, when one is given (``edge.daemon.fallback``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from eyeline.devices.base import CapturedFrame, DeviceError, FrameSource
from eyeline.devices.profiles import profile_by_name
from eyeline.devices.push import PushedFrameSource, PushLimits, is_push_spec
from eyeline.devices.spec import open_device
from eyeline.edge.daemon.asking import AskRoutes, DaemonAsker, DaemonVoice
from eyeline.edge.daemon.config import DaemonConfig
from eyeline.edge.daemon.control import ControlGuard, load_control_token
from eyeline.edge.daemon.fallback import FallbackCloud, OfflineFallback
from eyeline.edge.daemon.ingest import IngestOptions, PhoneIngest, read_ingest_token
from eyeline.edge.daemon.log import event_log, log
from eyeline.edge.daemon.metrics import DaemonMetrics, MetricsServer
from eyeline.edge.daemon.power import PowerGovernor, PowerLimits, PowerPolicy, PowerState, poll_status_file
from eyeline.edge.daemon.reconnect import RandomSource, ReconnectPolicy
from eyeline.edge.daemon.sessions import CloudSessions, remote_options
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.redact import PrivacyStage
from eyeline.edge.messages import Answer, CloudEvent, OverlayArrival
from eyeline.edge.recording.recorder import RecorderOptions, SessionRecorder, observe_with
from eyeline.edge.runtime import EdgeRuntime, QueryFailedError
from eyeline.edge.transport.grpc_uplink import GrpcUplink
from eyeline.edge.transport.uplink import UplinkError
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.tasks import TaskSet
from eyeline.protos.v1 import session_pb2 as pb

SourceOpener = Callable[[str], FrameSource]
_STOP_GRACE_S = 5.0


def runtime_send_depth(uplink: GrpcUplink | None) -> int:
    """Messages waiting to go up the stream (0 when offline)."""
    return 0 if uplink is None else uplink.queued


class DeviceStartError(EdgeError):
    """The device could not be opened when the daemon started: a configuration problem, not a hiccup."""


@dataclass(frozen=True, slots=True)
class DaemonDeps:
    clock: Clock
    rng: RandomSource | None = None
    open_source: SourceOpener | None = None     # None: devices.spec.open_device with the configured profile
    fallback_cloud: FallbackCloud | None = None  # None: never fall back, keep retrying the remote (fallback.py)
    on_event: Callable[[CloudEvent], None] | None = None  # sees every cloud event, as the phone would


class EdgeDaemon:
    def __init__(self, config: DaemonConfig, token: str, deps: DaemonDeps | None = None) -> None:
        self.config = config
        self.metrics = DaemonMetrics()
        self._deps = deps or DaemonDeps(MonotonicClock())
        self._clock = self._deps.clock
        self._profile = profile_by_name(config.profile)
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._stopping = asyncio.Event()
        self._recorder: SessionRecorder | None = None
        self._privacy = PrivacyStage(redact_faces=config.redact_faces)
        self._seqs = itertools.count()          # the daemon's own frame numbering, never reset
        self.recording_path: Path | None = None
        self.metrics_port = 0
        self.control_token = ""   # what POST /pause and /resume need as a bearer token, once the endpoint runs
        self.power = PowerGovernor(PowerPolicy(config.power), config.max_keyframes_per_s)
        self.power.on_change(self._power_changed)
        self._pushed = PushedFrameSource(self._clock) if is_push_spec(config.device) else None
        self.ingest: PhoneIngest | None = None
        self._asking = TaskSet("daemon asking", logger=log)  # the phone's questions, until their final answers
        self.fallback = OfflineFallback(config.fallback, remote_options(config), clock=self._clock,
                                        cloud=self._deps.fallback_cloud, metrics=self.metrics)
        self.sessions = CloudSessions(config, token, self._profile, clock=self._clock, rng=self._deps.rng,
                                      metrics=self.metrics, fallback=self.fallback, stopping=self._stopping,
                                      observer=self._observer)
        self.asker = DaemonAsker(lambda: self.sessions.runtime, self.power.clamp)   # POST /ask and the voice
        self.voice = DaemonVoice(config, self.asker, self._clock) if config.voice_audio else None

    # ------------------------------------------------------------------ control

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM): capture ends, the recording is closed whole, the session is closed."""
        self._stopping.set()
        self._resumed.set()
        if self._pushed is not None:
            self._pushed.close()

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
            await self._start_ingest()
            async with asyncio.TaskGroup() as group:
                capture = group.create_task(self._capture(source), name="daemon-capture")
                sessions = group.create_task(self.sessions.run(), name="daemon-sessions")
                power = group.create_task(self._poll_power(), name="daemon-power")
                voice = group.create_task(self.voice.run(), name="daemon-voice") if self.voice else None
                await capture
                if voice is not None:
                    voice.cancel()
                self._stopping.set()
                if self.sessions.tap is not None:
                    await self.sessions.tap.aclose()
                with contextlib.suppress(TimeoutError):  # a session stuck on a dead link is cancelled
                    await asyncio.wait_for(sessions, _STOP_GRACE_S)
                power.cancel()
        except* (EdgeError, DeviceError) as failed:
            raise failed.exceptions[0] from None
        finally:
            self.metrics.state = "stopped"
            await self._asking.aclose()
            if self.ingest is not None:
                await self.ingest.aclose()
            await self.fallback.aclose()
            if self._recorder is not None:
                await self._recorder.aclose()
            if server is not None:
                await server.aclose()
            event_log("stopped", frames_captured=self.metrics.frames_captured, frames_sent=self.metrics.frames_sent)

    def _open_source(self) -> FrameSource:
        if self._pushed is not None:
            return self._pushed
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
        self.control_token = await asyncio.to_thread(load_control_token, self.config.control_token_file)
        guard = ControlGuard.for_service(self.control_token, self.config.metrics_host, self.config.control_hosts)
        routes = AskRoutes(self.asker, guard, lambda: self.voice.gate if self.voice is not None else None)
        server = MetricsServer(self.metrics, self.set_paused, refresh=self.refresh_metrics, guard=guard,
                               host=self.config.metrics_host, port=self.config.metrics_port, more_routes=routes.add_to)
        await server.start()
        self.metrics_port = server.port
        event_log("metrics_listening", host=self.config.metrics_host, port=server.port)
        return server

    async def _open_recorder(self) -> None:
        folder = self.config.record_folder
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        # Named by the calendar date and local time, for people browsing the folder: genuinely the wall clock.
        self.recording_path = folder / time.strftime("edge-%Y%m%d-%H%M%S.mcap")
        self._recorder = SessionRecorder(self.recording_path, RecorderOptions(image_format=self.config.record_format),
                                         clock=self._clock, info={"device": self.config.device,
                                                                  "profile": self._profile.name})
        await asyncio.to_thread(self._recorder.open)
        self.sessions.recorder = self._recorder
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
        # The privacy stage, once per frame, camera or phone alike: the recording and the session see it redacted.
        frame = await self._privacy.redact(frame)
        self.metrics.frames_captured += 1
        pulled_seq, frame = frame.seq, replace(frame, seq=next(self._seqs))
        if self._pushed is not None:  # what the cloud says about this frame is told to the phone by this seq
            self._pushed.renumber(pulled_seq, frame.seq)
        if self._recorder is not None:
            await self._recorder.record_frame(frame)
        if not self.power.rate.admit(frame.capture_ns):  # recorded whole, sent no faster than power allows
            self.metrics.frames_throttled += 1
            self.metrics.frames_dropped += 1
        elif (tap := self.sessions.tap) is None:
            self.metrics.frames_dropped += 1
        else:
            tap.slot.put(frame)

    def refresh_metrics(self) -> None:
        runtime = self.sessions.runtime
        sent = runtime.stats.keyframes_sent if runtime is not None else 0
        self.metrics.frames_sent = self.sessions.sent_before + sent
        depths = {"uplink_send": runtime_send_depth(self.sessions.uplink)}
        if self._recorder is not None:
            stats = self._recorder.stats
            depths["recorder_frames"] = stats.frames_queued - stats.frames_written
        self.metrics.queue_depths = depths
        if self.ingest is not None:
            pushed = self.ingest.stats
            self.metrics.phone_frames_pushed, self.metrics.phone_frames_rejected = pushed.frames_pushed, \
                pushed.frames_rejected
            self.metrics.phone_messages_relayed = pushed.relayed

    def _observer(self) -> Callable[[CloudEvent], None]:
        def observe(event: CloudEvent) -> None:
            event = self.fallback.mark(event)  # on the fallback, overlays handed on say "offline"
            if self._deps.on_event is not None:
                self._deps.on_event(event)
            if self.ingest is not None:
                self.ingest.relay(event)
            if isinstance(event, Answer) and event.proactive:
                self.metrics.offers_received += 1
            if isinstance(event, OverlayArrival):
                self.metrics.overlays_received += 1
                if event.hops.capture_ns:
                    self.metrics.round_trip.observe((self._clock.now_ns() - event.hops.capture_ns) / 1e9)

        return observe if self._recorder is None else observe_with(self._recorder, observe)

    # ------------------------------------------------------------------ the phone (push-ingest) and power

    async def _start_ingest(self) -> None:
        if not self.config.ingest_listen or self.config.ingest_token_file is None:
            return
        token = await asyncio.to_thread(read_ingest_token, self.config.ingest_token_file)
        options = IngestOptions(self.config.ingest_listen, token, PushLimits(self.config.ingest_max_frame_bytes),
                                tls_cert=self.config.ingest_tls_cert, tls_key=self.config.ingest_tls_key)
        # Without a push: device nothing reads the frames; the latest-wins source keeps only the newest.
        self.ingest = PhoneIngest(options, self._pushed or PushedFrameSource(self._clock), self)
        await self.ingest.start()
        event_log("ingest_listening", listen=self.config.ingest_listen, port=self.ingest.port)

    async def _poll_power(self) -> None:
        if self.config.power_status_file is not None:
            await poll_status_file(self.config.power_status_file, self.config.power, self.config.power_poll_s,
                                   self.report_power, lambda exc: event_log("power_status_unread", error=str(exc)))

    @property
    def paused(self) -> bool:
        return self.metrics.paused

    def report_power(self, state: PowerState) -> None:
        """A battery/thermal report from the phone or the status file; the latest one sets the limits."""
        self.metrics.battery_percent = -1.0 if state.battery_percent is None else state.battery_percent
        self.power.report(state)

    def _power_changed(self, limits: PowerLimits) -> None:
        self.metrics.power_level, self.metrics.power_max_fps = limits.level, limits.max_fps
        event_log("power", level=limits.level, max_fps=limits.max_fps, max_mode=limits.max_mode)
        if self.ingest is not None:
            self.ingest.advise(limits)

    async def ask(self, text: str, mode: str) -> str | None:
        """Ask about what is in view now, no deeper than power allows; the query id, or None with no session up."""
        runtime = self.sessions.runtime
        if runtime is None or self._asking.closed:   # no session, or the daemon has stopped
            return None
        try:
            query_id = await runtime.ask(text, self.power.clamp(mode))
        except UplinkError:
            return None
        # Reading the final answer (relayed to the phone as it arrives) frees what the runtime keeps for it.
        if not self._asking.closed:   # the daemon stopped while it asked: nobody is left to wait
            self._asking.spawn(_final_answer(runtime, query_id), name=f"daemon-answer-{query_id}")
        return query_id

    async def forward(self, message: pb.EdgeMessage) -> bool:
        """Send a phone's message (audio) up the cloud session as it is; False with no session up."""
        uplink = self.sessions.uplink
        if uplink is None:
            return False
        try:
            await uplink.send_message(message)
        except UplinkError:
            return False
        return True


async def _final_answer(runtime: EdgeRuntime, query_id: str) -> None:
    with contextlib.suppress(QueryFailedError):   # a failed query was reported to the phone
        await runtime.answer(query_id)


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
