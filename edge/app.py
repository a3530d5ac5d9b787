"""One edge session from a device to the cloud and back: what ``eyeline edge`` and the demo run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from eyeline.devices.base import CapturedFrame, FrameSource
from eyeline.devices.profiles import GlassesProfile
from eyeline.devices.spec import open_device
from eyeline.edge.display.hud import renderer_for
from eyeline.edge.display.sinks import open_sink, write_snapshot
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.redact import PrivacyStage, RedactedSource
from eyeline.edge.messages import Answer, CloudEvent, HopTimes, TraceStep, Welcome
from eyeline.edge.overlays import Overlay
from eyeline.edge.recording.recorder import (
    RecorderOptions,
    RecordingAudioSource,
    RecordingSampler,
    RecordingSource,
    RecordingUplink,
    SessionRecorder,
    observe_with,
    record_turns,
)
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime, EdgeStats
from eyeline.edge.transport.connect import TransportOptions, open_uplink, with_preview
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import IceServer, MessageSender, Uplink
from eyeline.edge.transport.wire import HelloOut
from eyeline.edge.voice.cloud_asr import CloudTranscriber
from eyeline.edge.voice.front_end import VoiceTurn
from eyeline.edge.voice.listen import (
    ListenOptions,
    PartialPrinter,
    TurnPrinter,
    open_audio,
    run_front_end,
    voice_front_end,
)
from eyeline.protos.clock import Clock, MonotonicClock


class NoAnswerError(EdgeError):
    """A question the cloud did not answer in time; the message says what was still pending."""

    retryable = True


@dataclass(frozen=True, slots=True)
class EdgeAppOptions:
    device: str                         # e.g. "synthetic:shelf", "webcam:0", "video:clip.mp4"
    cloud: str                          # host:port
    token: str
    profile: GlassesProfile
    question: str = ""                  # asked once the first keyframe is up; "" = just stream
    mode: str = ""
    video_path: Path | None = None      # annotated video; None = a window when one exists
    snapshot_path: Path | None = None   # the answer's overlay on the frame it was computed on
    prefer_window: bool = False
    duration_s: float | None = None     # None: until the source ends, or the answer when asking
    linger_s: float = 1.0               # keep rendering this long after the answer
    answer_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    tls_ca: Path | None = None          # trust these roots and speak TLS to the cloud
    config: EdgeConfig = field(default_factory=EdgeConfig)
    record_path: Path | None = None     # record the session to this MCAP file
    record: RecorderOptions = field(default_factory=RecorderOptions)
    transport: str = "grpc"             # grpc, webrtc, or auto (WebRTC, falling back to gRPC)
    whip_url: str = ""                  # "" = http://<cloud host>:8080/whip
    ice_servers: tuple[IceServer, ...] = ()
    ice_timeout_s: float = 5.0
    listen: ListenOptions | None = None  # spoken questions and commands, once the first keyframe is up
    proactive: bool = False             # ask the cloud to offer answers unasked (a shelf, a known machine in view)


@dataclass(slots=True)
class EdgeRunReport:
    welcome: Welcome
    answer: Answer | None = None
    steps: list[TraceStep] = field(default_factory=list)
    overlay: Overlay | None = None
    answered_frame_truth: Any = None    # ground truth of the answered frame, for synthetic devices
    stats: EdgeStats | None = None
    latencies: list[HopTimes] = field(default_factory=list)
    voice_turns: list[VoiceTurn] = field(default_factory=list)
    offers: list[Answer] = field(default_factory=list)   # answers the cloud offered unasked


def hello_for(options: EdgeAppOptions) -> HelloOut:
    p = options.profile
    return HelloOut(token=options.token, profile_name=p.name, width=p.width, height=p.height, fps=p.fps,
                    horizontal_fov_deg=p.horizontal_fov_deg, uplink_budget_kbps=p.uplink_budget_kbps,
                    has_display=p.has_display, mode=options.mode or "instant",
                    capabilities=("overlay", "proactive") if options.proactive else ("overlay",))


async def run_edge(options: EdgeAppOptions, *, clock: Clock | None = None,
                   on_event: Callable[[CloudEvent], None] | None = None) -> EdgeRunReport:
    clock = clock or MonotonicClock()
    held = HoldLastFrame(open_device(options.device, clock=clock, profile=options.profile), clock,
                         options.profile.fps)
    held.holding = bool(options.question)   # until it is answered: a clip may end before it is even asked
    source: FrameSource = held
    try:  # a missing camera or a corrupt file is the user's to fix: say so before dialling the cloud
        await held.open()
    except BaseException:
        await held.aclose()
        raise
    uplink_options = UplinkOptions(options.cloud, connect_timeout_s=options.connect_timeout_s, tls_ca=options.tls_ca)
    recorder = None if options.record_path is None else SessionRecorder(
        options.record_path, options.record, clock=clock,
        info={"device": options.device, "profile": options.profile.name, "question": options.question})
    try:
        uplink, welcome = await _open(options, GrpcUplink(uplink_options, clock=clock), clock)
    except BaseException:
        await source.aclose()
        raise
    report = EdgeRunReport(welcome)
    heard = _Heard(clock)
    # One privacy stage, first: the preview video, the recording and the keyframes all get the redacted frames.
    source = with_preview(RedactedSource(source, PrivacyStage(redact_faces=options.config.redact_faces)), uplink)
    if recorder is not None:  # whatever the transport: queries are recorded as they are handed to it
        await asyncio.to_thread(recorder.open)
        uplink = RecordingUplink(uplink, recorder)
        source, on_event = RecordingSource(source, recorder), observe_with(recorder, on_event)

    cloud_asr = _cloud_transcriber(options, uplink, clock)

    def observe(event: CloudEvent) -> None:
        heard.note(event)
        if isinstance(event, TraceStep):
            report.steps.append(event)
        if isinstance(event, Answer) and event.proactive:
            report.offers.append(event)
        if cloud_asr is not None:
            cloud_asr.deliver(event)
        if on_event is not None:
            on_event(event)

    size = (options.profile.width, options.profile.height)
    sink = open_sink(options.video_path, options.profile.fps, size, options.prefer_window)
    runtime = EdgeRuntime(source, uplink, renderer=renderer_for(options.profile), sink=sink,
                          config=edge_config(options), clock=clock, on_event=observe)
    if recorder is not None:
        runtime.sampler = RecordingSampler(runtime.sampler, recorder)
    try:
        await _drive(runtime, options, report, clock, recorder, cloud_asr, _Asking(held, heard, clock))
    finally:
        await sink.aclose()
        await uplink.aclose()
        if recorder is not None:
            await recorder.aclose()
    report.stats = runtime.stats
    report.latencies = list(runtime.latencies)
    return report


def _cloud_transcriber(options: EdgeAppOptions, uplink: Uplink, clock: Clock) -> CloudTranscriber | None:
    """With ``--asr cloud``, what hears the wearer: the cloud, sent only the speech the edge's VAD found."""
    if options.listen is None or options.listen.asr != "cloud":
        return None
    if not isinstance(uplink, MessageSender):
        raise EdgeError(f"the {options.transport} transport cannot carry audio for cloud speech recognition")
    return CloudTranscriber(uplink, clock=clock)


def edge_config(options: EdgeAppOptions) -> EdgeConfig:
    """The runtime's configuration, with the sampler's byte budget taken from the glasses profile unless set."""
    if options.config.uplink_budget_kbps:
        return options.config
    return replace(options.config, uplink_budget_kbps=options.profile.uplink_budget_kbps)


async def _open(options: EdgeAppOptions, grpc_uplink: Uplink, clock: Clock) -> tuple[Uplink, Welcome]:
    if options.transport == "grpc":
        return grpc_uplink, await grpc_uplink.open(hello_for(options))
    transport = TransportOptions(options.transport, options.cloud, whip_url=options.whip_url,
                                 ice_servers=options.ice_servers, ice_timeout_s=options.ice_timeout_s,
                                 connect_timeout_s=options.connect_timeout_s, tls_ca=options.tls_ca)
    return await open_uplink(transport, hello_for(options), clock=clock)


async def _drive(runtime: EdgeRuntime, options: EdgeAppOptions, report: EdgeRunReport, clock: Clock,
                 recorder: SessionRecorder | None, cloud_asr: CloudTranscriber | None, asking: _Asking) -> None:
    running = asyncio.create_task(runtime.run(), name="edge-runtime")
    try:
        if options.question:
            await _first_keyframe(runtime, running)
            await _ask(runtime, options, report, asking)
        if options.listen is not None:
            await _first_keyframe(runtime, running)
            report.voice_turns = await _listen(runtime, options.listen, clock, recorder, cloud_asr)
        await _wait_until_done(running, options, bool(options.question) or options.listen is not None)
    finally:
        await runtime.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def _listen(runtime: EdgeRuntime, listen: ListenOptions, clock: Clock,
                  recorder: SessionRecorder | None, cloud_asr: CloudTranscriber | None = None) -> list[VoiceTurn]:
    """Hear and answer spoken questions until the audio ends (a file) or the session is stopped; when
    recording, every audio chunk and every utterance heard go into the recording too."""
    audio = open_audio(listen.audio, clock)
    on_turn: Callable[[VoiceTurn], None] = TurnPrinter()
    if recorder is not None:
        audio, on_turn = RecordingAudioSource(audio, recorder), record_turns(recorder, on_turn)
    front = voice_front_end(runtime, listen, clock, on_turn=on_turn, audio=audio, transcriber=cloud_asr,
                            on_partial=PartialPrinter())
    await run_front_end(front)
    return list(front.turns)


async def _first_keyframe(runtime: EdgeRuntime, running: asyncio.Task[None]) -> None:
    """Wait for the first keyframe to go up, or fail with the reason the runtime stopped first."""
    keyframe = asyncio.create_task(runtime.wait_for_keyframe())
    await asyncio.wait({keyframe, running}, return_when=asyncio.FIRST_COMPLETED)
    if keyframe.done():
        return
    keyframe.cancel()
    running.result()  # re-raises the runtime's failure, if it failed
    raise EdgeError("the device ended before any frame was sent")


async def _ask(runtime: EdgeRuntime, options: EdgeAppOptions, report: EdgeRunReport, asking: _Asking) -> None:
    # A file that ends before the answer arrives keeps showing its last frame until it does.
    asking.held.holding = True
    try:
        asked_ns = asking.clock.now_ns()
        query_id = await runtime.ask(options.question, options.mode)
        try:
            report.answer = await asyncio.wait_for(runtime.answer(query_id), options.answer_timeout_s)
        except TimeoutError as exc:
            raise NoAnswerError(asking.pending(options, runtime, query_id, asked_ns)) from exc
    finally:
        asking.held.holding = False
    report.overlay = runtime.overlay_of(report.answer)
    if report.overlay is None:
        return
    frame = runtime.keyframe(report.overlay.frame_seq)
    report.answered_frame_truth = frame.truth if frame is not None else None
    if options.snapshot_path is not None:
        await write_snapshot(options.snapshot_path, await runtime.snapshot(report.overlay.overlay_id))


async def _wait_until_done(running: asyncio.Task[None], options: EdgeAppOptions, asked: bool) -> None:
    limit = options.duration_s if options.duration_s is not None else (options.linger_s if asked else None)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(running), limit)


class HoldLastFrame:
    """A source that, once its device ends while ``holding`` is set (a question is out), repeats the last frame at
    ``fps`` until ``holding`` is cleared or it is closed: a short clip still shows, and gets, its answer."""

    def __init__(self, inner: FrameSource, clock: Clock, fps: float) -> None:
        self._inner = inner
        self._frames = aiter(inner)
        self._clock = clock
        self._period_ns = round(1e9 / fps)
        self._last: CapturedFrame | None = None
        self._ended = False
        self._closed = False
        self.holding = False
        self.held_frames = 0

    def __aiter__(self) -> HoldLastFrame:
        return self

    async def __anext__(self) -> CapturedFrame:
        if not self._ended:
            try:
                self._last = await anext(self._frames)
                return self._last
            except StopAsyncIteration:
                self._ended = True
        if self._closed or not self.holding or self._last is None:
            raise StopAsyncIteration
        await self._clock.sleep_until(self._last.capture_ns + self._period_ns)
        if self._closed or not self.holding:
            raise StopAsyncIteration
        self.held_frames += 1
        self._last = replace(self._last, seq=self._last.seq + 1, capture_ns=self._clock.now_ns())
        return self._last

    async def open(self) -> None:
        """Open the device now where it can be (a camera, a file), so a bad one fails before anything else."""
        if isinstance(self._inner, _Opens):
            await self._inner.open()

    async def aclose(self) -> None:
        self._closed = True
        await self._inner.aclose()


@runtime_checkable
class _Opens(Protocol):
    async def open(self) -> None: ...


class _Heard:
    """What the cloud last sent, for saying what is pending when an answer does not come."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.count = 0
        self.last_ns = 0
        self.last: CloudEvent | None = None
        self.steps: dict[str, list[TraceStep]] = {}

    def note(self, event: CloudEvent) -> None:
        self.count += 1
        self.last_ns, self.last = self._clock.now_ns(), event
        if isinstance(event, TraceStep):
            self.steps.setdefault(event.query_id, []).append(event)


@dataclass(slots=True)
class _Asking:
    held: HoldLastFrame
    heard: _Heard
    clock: Clock

    def pending(self, options: EdgeAppOptions, runtime: EdgeRuntime, query_id: str, asked_ns: int) -> str:
        """One line: the question, what went up, what came back, and what to try."""
        now_ns = self.clock.now_ns()
        sent = runtime.stats.keyframes_sent
        said = f"no answer within {options.answer_timeout_s:g} s to {options.question!r} ({query_id})"
        up = f"the question and {sent} keyframe{'s were' if sent != 1 else ' was'} sent"
        steps = self.heard.steps.get(query_id, [])
        ago = f"{(now_ns - self.heard.last_ns) / 1e9:.1f} s ago"
        last_kind = type(self.heard.last).__name__
        if steps:
            back = (f"the cloud is still working on it: {len(steps)} trace step(s) so far, the last "
                    f"'{steps[-1].kind}: {steps[-1].text[:60]}' {ago}")
        elif self.heard.last_ns > asked_ns:
            back = f"the cloud is up (a {last_kind} came {ago}) but sent no trace step for this question"
        elif self.heard.count:
            back = f"the cloud has sent nothing since the question (its last message, a {last_kind}, came {ago})"
        else:
            back = "the cloud has sent nothing back this session"
        held = " (the device had ended; its last frame was held)" if self.held.held_frames else ""
        return (f"{said}: {up}{held}; {back}. A slow cloud or a deep --mode may need a longer --answer-timeout")
