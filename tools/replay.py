"""Recorded sessions as tools: replay through a cloud, re-render without one, and repair a crashed file.

``replay_session`` drives the very same edge runtime and gRPC uplink as a live camera, with the recording as
its device: the frames the recording edge sent go up again, in order, and each recorded question is asked
again about the frame it was answered over, so a replay through the same cloud gets the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from mcap.writer import CompressionType, Writer

from eyeline.devices.base import CapturedFrame, FrameSource, Image
from eyeline.devices.profiles import PROFILES, WEBCAM, GlassesProfile
from eyeline.devices.recording import (
    EmptyRecordingError,
    FrameTruth,
    MissingChannelError,
    RecordedMessage,
    RecordingError,
    RecordingReader,
    frame_truth,
)
from eyeline.devices.replay import ReplaySource, decode_image
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.sampler import LADDER, Encoding, KeyframeChoice, Sampler
from eyeline.edge.messages import Answer, CloudErrorReport, CloudEvent, FlowControl, HopTimes, OverlayArrival
from eyeline.edge.overlays import Overlay
from eyeline.edge.recording.recorder import (
    RecorderOptions,
    RecordingSampler,
    RecordingUplink,
    SessionRecorder,
    observe_with,
)
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.connect import TransportOptions, open_uplink
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import Uplink
from eyeline.edge.transport.wire import MODES, HelloOut, QueryOut, cloud_event, overlay_from_wire
from eyeline.protos import recording as layout
from eyeline.protos.clock import Clock, MonotonicClock, VirtualClock
from eyeline.protos.recording_io import ChannelTable
from eyeline.protos.v1 import session_pb2 as pb

_MODE_NAMES = {value: name for name, value in MODES.items()}


class ReplayError(EdgeError):
    """A replay could not reproduce the recorded session (no answer in time, a question with no frame)."""


@dataclass(frozen=True, slots=True)
class RecordedQuery:
    query_id: str
    text: str
    mode: str
    frame_seq: int        # the frame it is asked about: its own pin, else the frame its recorded answer used


@dataclass(frozen=True, slots=True)
class SentFrame:
    seq: int
    keyframe: bool
    encoding: Encoding


@dataclass(frozen=True, slots=True)
class SessionScript:
    """What a recording asked, what it was answered, and what it knows to be true."""

    path: Path
    profile: GlassesProfile
    frame_size: tuple[int, int]
    sent: tuple[SentFrame, ...]          # the frames the recording edge sent, in order
    queries: tuple[RecordedQuery, ...]
    answers: dict[str, Answer]
    overlays: dict[str, Overlay]
    truth: dict[int, FrameTruth]         # ground truth by frame seq: shelf or espresso machine


def read_script(path: str | Path) -> SessionScript:
    """Read a recording's queries, answers, overlays, keyframes and ground truth. Blocking."""
    reader = RecordingReader(path, required=layout.REQUIRED_FOR_EVAL)
    collected = _Collected()
    for recorded in reader.messages(_SCRIPT_TOPICS):
        collected.accept(recorded, reader)
    if not collected.sent:
        raise EmptyRecordingError(f"recording {reader.path} holds no keyframe, so nothing went to a cloud")
    queries = tuple(_pinned(query, collected.answers, reader.path) for query in collected.queries)
    profile = PROFILES.get(reader.metadata.get("profile", ""), WEBCAM)
    return SessionScript(reader.path, profile, collected.frame_size, tuple(collected.sent), queries,
                         collected.answers, collected.overlays, collected.truth)


_SCRIPT_TOPICS = frozenset({layout.KEYFRAMES, layout.QUERIES, layout.ANSWERS, layout.OVERLAYS, layout.TRUTH,
                            layout.CAMERA})


@dataclass(slots=True)
class _Collected:
    sent: list[SentFrame] = field(default_factory=list)
    queries: list[pb.Query] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    overlays: dict[str, Overlay] = field(default_factory=dict)
    truth: dict[int, FrameTruth] = field(default_factory=dict)
    frame_size: tuple[int, int] = (0, 0)

    def accept(self, recorded: RecordedMessage, reader: RecordingReader) -> None:
        message = recorded.message
        match recorded.topic:
            case layout.KEYFRAMES:
                # A cloud's recording does not know the JPEG quality the edge (or, for a browser's video track,
                # the cloud) encoded at: the ladder's best re-encodes the recorded frame closest to what was sent.
                encoding = Encoding(message.max_width, message.quality or LADDER[0].quality)
                self.sent.append(SentFrame(message.seq, message.keyframe, encoding))
            case layout.QUERIES:
                self.queries.append(message)
            case layout.ANSWERS if message.final:
                answer = cloud_event(pb.CloudMessage(answer=message))
                assert isinstance(answer, Answer)
                self.answers[answer.query_id] = answer
            case layout.OVERLAYS:
                self.overlays[message.overlay_id] = overlay_from_wire(message)
            case layout.TRUTH:
                self.truth[message.seq] = frame_truth(message, reader.path)
            case layout.CAMERA if self.frame_size == (0, 0):
                image = decode_image(recorded, reader.path)
                self.frame_size = (int(image.shape[1]), int(image.shape[0]))


def _pinned(query: pb.Query, answers: dict[str, Answer], path: Path) -> RecordedQuery:
    mode = _MODE_NAMES.get(query.mode, "")
    if query.HasField("frame_seq"):
        return RecordedQuery(query.query_id, query.text, mode, query.frame_seq)
    answer = answers.get(query.query_id)
    if answer is None:
        raise MissingChannelError(f"recording {path}: query {query.query_id} names no frame and has no recorded "
                                  f"answer, so the frame it was about is unknown")
    return RecordedQuery(query.query_id, query.text, mode, answer.frame_seq)


# ------------------------------------------------------------------ replaying through a cloud


@dataclass(slots=True)
class ReplayRun:
    answers: dict[str, Answer] = field(default_factory=dict)
    overlays: dict[str, Overlay] = field(default_factory=dict)
    errors: list[CloudErrorReport] = field(default_factory=list)
    frames_sent: int = 0
    latencies: list[HopTimes] = field(default_factory=list)   # frames whose overlay was drawn, every hop timed
    arrivals: list[HopTimes] = field(default_factory=list)    # every overlay as it arrived, not yet drawn


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    cloud: str                          # host:port
    token: str
    record_path: Path | None = None     # record the replayed session too
    fast: bool = False                  # as fast as the edge sends, rather than at recorded pace
    answer_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    transport: str = "grpc"             # grpc, webrtc or auto, as for `eyeline edge --transport`
    whip_url: str = ""                  # for webrtc: "" = http://<cloud host>:8080/whip


async def replay_session(script: SessionScript, options: ReplayOptions) -> ReplayRun:
    """Send the recording's sent frames through ``options.cloud`` again and ask its questions again."""
    clock: Clock = VirtualClock(MonotonicClock().now_ns()) if options.fast else MonotonicClock()
    source = _Lockstep(ReplaySource(script.path, keyframes_only=True, clock=clock), script)
    recorder = None if options.record_path is None else SessionRecorder(
        options.record_path, RecorderOptions(),
        info={"profile": script.profile.name, "device": f"replay:{script.path}"})
    uplink = await _open_uplink(script, options, recorder)
    run = ReplayRun()
    waiter = _AnswerWaiter(run)
    runtime = _replay_runtime(source, uplink, script, waiter, recorder)
    try:
        if recorder is not None:
            await asyncio.to_thread(recorder.open)
        await _drive(runtime, script, options, waiter, uplink, source)
    finally:
        await uplink.aclose()
        if recorder is not None:
            await recorder.aclose()
    run.frames_sent = _frames_sent(runtime)
    run.latencies = list(runtime.latencies)
    return run


async def _open_uplink(script: SessionScript, options: ReplayOptions, recorder: SessionRecorder | None) -> Uplink:
    """An open uplink of the transport ``options`` name; when the replay is recorded, one that records queries."""
    hello = _hello(script.profile, options.token)
    if options.transport == "grpc":
        uplink: Uplink = GrpcUplink(UplinkOptions(options.cloud, connect_timeout_s=options.connect_timeout_s))
        await uplink.open(hello)
    else:
        transport = TransportOptions(options.transport, options.cloud, whip_url=options.whip_url,
                                     connect_timeout_s=options.connect_timeout_s, preview_fps=0)
        uplink, _ = await open_uplink(transport, hello, clock=MonotonicClock())
    return uplink if recorder is None else RecordingUplink(uplink, recorder)


def _replay_runtime(source: _Lockstep, uplink: Uplink, script: SessionScript, waiter: _AnswerWaiter,
                    recorder: SessionRecorder | None) -> EdgeRuntime:
    hook = waiter.observe if recorder is None else observe_with(recorder, waiter.observe)
    sampler: Sampler = _RecordedSampler(script.sent)
    if recorder is not None:
        sampler = RecordingSampler(sampler, recorder)
    runtime = EdgeRuntime(source, uplink, renderer=OverlayRenderer(), config=EdgeConfig(), sampler=sampler,
                          on_event=hook)
    source.sent = lambda: _frames_sent(runtime)
    return runtime


class _RecordedSampler:
    """Sends every replayed frame again, as it was encoded then, whatever the wearer or the cloud asks for now."""

    def __init__(self, sent: tuple[SentFrame, ...]) -> None:
        self._sent = {frame.seq: frame for frame in sent}

    def offer(self, frame: CapturedFrame) -> KeyframeChoice | None:
        recorded = self._sent.get(frame.seq)
        if recorded is None:
            return None
        return KeyframeChoice(frame, "replay", recorded.encoding, recorded.keyframe)

    def request_keyframe(self) -> None:
        pass

    def apply(self, flow: FlowControl) -> None:
        pass

    def sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        pass


def _frames_sent(runtime: EdgeRuntime) -> int:
    stats = runtime.stats
    return stats.keyframes_sent + stats.previews_sent


class _Lockstep:
    """Paces the replayed frames by the edge rather than by a clock, so nothing is dropped or reordered.

    Frame ``i`` goes to the runtime only once frame ``i - 1`` has gone to the uplink and every question the
    recorded session asked before frame ``i`` has been asked again. After the last frame the source stays
    open until ``finish()``, so answers still in flight arrive at a running edge.
    """

    def __init__(self, source: FrameSource, script: SessionScript) -> None:
        self._source = source
        self.sent: Callable[[], int] = lambda: 0
        self.asked = 0
        self._query_positions = [_position(script, query) for query in script.queries]
        self._finished = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        delivered = 0
        async for frame in self._source:
            await _until(lambda index=delivered: self._may_deliver(index))  # type: ignore[misc]
            delivered += 1
            yield frame
        await self._finished.wait()

    def _may_deliver(self, index: int) -> bool:
        pending = self._query_positions[self.asked:]
        return self.sent() >= index and all(index <= position for position in pending)

    def finish(self) -> None:
        self._finished.set()

    async def aclose(self) -> None:
        self._finished.set()
        await self._source.aclose()


def _position(script: SessionScript, query: RecordedQuery) -> int:
    """Where in the sent frames the frame ``query`` is about comes; the replay cannot ask about a frame never sent."""
    for index, frame in enumerate(script.sent):
        if frame.seq == query.frame_seq and frame.keyframe:
            return index
    raise ReplayError(f"query {query.query_id} is about frame {query.frame_seq}, which was never sent as a keyframe")


async def _until(done: Callable[[], bool]) -> None:
    """Poll a counter the runtime keeps; the runtime offers no event for it."""
    while True:
        if done():
            return
        await asyncio.sleep(0.002)


def _hello(profile: GlassesProfile, token: str) -> HelloOut:
    return HelloOut(token=token, profile_name=profile.name, width=profile.width, height=profile.height,
                    fps=profile.fps, horizontal_fov_deg=profile.horizontal_fov_deg,
                    uplink_budget_kbps=profile.uplink_budget_kbps, has_display=profile.has_display)


class _AnswerWaiter:
    def __init__(self, run: ReplayRun) -> None:
        self.run = run
        self._waiting: dict[str, asyncio.Future[Answer]] = {}

    def expect(self, query_id: str) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[query_id] = future
        return future

    def observe(self, event: CloudEvent) -> None:
        match event:
            case OverlayArrival(overlay=overlay, hops=hops):
                self.run.overlays[overlay.overlay_id] = overlay
                self.run.arrivals.append(hops)
            case Answer(final=True):
                self.run.answers[event.query_id] = event
                self._settle(event.query_id, lambda f: f.set_result(event))
            case CloudErrorReport():
                self.run.errors.append(event)
                failure = ReplayError(f"the cloud answered {event.query_id} with {event.code}: {event.message}")
                self._settle(event.query_id, lambda f: f.set_exception(failure))

    def _settle(self, query_id: str, settle: Callable[[asyncio.Future[Answer]], None]) -> None:
        future = self._waiting.pop(query_id, None)
        if future is not None and not future.done():
            settle(future)


async def _drive(runtime: EdgeRuntime, script: SessionScript, options: ReplayOptions, waiter: _AnswerWaiter,
                 uplink: Uplink, source: _Lockstep) -> None:
    running = asyncio.create_task(runtime.run(), name="replay-runtime")
    try:
        for query in script.queries:
            await _sent(runtime, script, query, running)
            answered = waiter.expect(query.query_id)
            await uplink.ask(QueryOut(query.query_id, query.text, query.mode, frame_seq=query.frame_seq))
            source.asked += 1
            await _answered(answered, running, query, options.answer_timeout_s)
        source.finish()
        await running
    finally:
        await runtime.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def _answered(answered: asyncio.Future[Answer], running: asyncio.Task[None], query: RecordedQuery,
                    timeout_s: float) -> None:
    """Wait for the answer, or fail with the reason the runtime stopped first."""
    waiting: set[asyncio.Future[Any]] = {answered, running}
    done, _ = await asyncio.wait(waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    if answered in done:
        answered.result()
        return
    if running in done:
        running.result()
        raise ReplayError(f"the replay ended before {query.query_id} was answered")
    raise ReplayError(f"no answer to {query.query_id} within {timeout_s:g} s")


async def _sent(runtime: EdgeRuntime, script: SessionScript, query: RecordedQuery, running: asyncio.Task[None]) -> None:
    """Wait until the frame ``query`` is about has been handed to the uplink (queries queue behind it)."""
    needed = _position(script, query) + 1
    while _frames_sent(runtime) < needed:
        if running.done():
            running.result()
            raise ReplayError(f"the replay ended before frame {query.frame_seq} was sent")
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------ without a cloud


@dataclass(frozen=True, slots=True)
class RenderReport:
    frames: int
    overlays: int
    truncated: bool


def render_recording(path: str | Path, video_path: Path, renderer: OverlayRenderer | None = None) -> RenderReport:
    """Draw the recorded overlays over the recorded frames, as they arrived, into a video. Blocking."""
    reader = RecordingReader(path)
    renderer = renderer or OverlayRenderer()
    overlays: dict[str, Overlay] = {}
    video = _LazyVideo(video_path)
    try:
        for recorded in reader.messages(frozenset({layout.CAMERA, layout.OVERLAYS})):
            if recorded.topic == layout.OVERLAYS:
                overlays[recorded.message.overlay_id] = overlay_from_wire(recorded.message)
                continue
            video.write(renderer.draw(decode_image(recorded, reader.path), overlays.values()), recorded.log_ns)
    finally:
        video.close()
    if video.frames == 0:
        raise EmptyRecordingError(f"recording {reader.path} holds no camera frames to render")
    return RenderReport(video.frames, len(overlays), reader.truncated)


class _LazyVideo:
    """An MP4 opened on the first frame, at the rate of the first two frames' capture times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames = 0
        self._pending: tuple[Image, int] | None = None
        self._writer: cv2.VideoWriter | None = None

    def write(self, image: Image, capture_ns: int) -> None:
        if self._writer is None and self._pending is None:
            self._pending = (image, capture_ns)
            return
        if self._writer is None and self._pending is not None:
            first, first_ns = self._pending
            self._open(first, 1e9 / max(capture_ns - first_ns, 1))
            self._emit(first)
            self._pending = None
        self._emit(image)

    def _open(self, image: Image, fps: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = (int(image.shape[1]), int(image.shape[0]))
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), min(max(fps, 1.0), 120.0), size)
        if not self._writer.isOpened():
            raise EdgeError(f"cannot write video {self.path}")

    def _emit(self, image: Image) -> None:
        assert self._writer is not None
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is None and self._pending is not None:
            self._open(self._pending[0], 1.0)
            self._emit(self._pending[0])
        if self._writer is not None:
            self._writer.release()


@dataclass(frozen=True, slots=True)
class RepairReport:
    messages: int
    frames: int
    was_truncated: bool


def repair_recording(source: str | Path, target: str | Path) -> RepairReport:
    """Rewrite what ``source`` still holds (every complete chunk) into a finalized, indexed file. Blocking."""
    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise RecordingError(f"repair writes a new file; {target} is the recording itself")
    reader = RecordingReader(source)
    messages = frames = 0
    with target.open("wb") as stream:
        writer = Writer(stream, chunk_size=256 * 1024, compression=CompressionType.NONE)
        channels: ChannelTable | None = None
        for recorded in reader.messages():
            if channels is None:
                writer.start(profile=layout.PROFILE, library="eyeline")
                writer.add_metadata(layout.METADATA_NAME, reader.metadata)
                channels = ChannelTable(writer)
            data = recorded.message.SerializeToString()
            channels.add(recorded.topic, log_ns=recorded.log_ns, data=data, sequence=recorded.sequence)
            messages += 1
            frames += recorded.topic == layout.CAMERA
        if channels is not None:
            writer.finish()  # type: ignore[no-untyped-call]
    if channels is None:
        target.unlink(missing_ok=True)
        raise EmptyRecordingError(f"recording {source} holds no complete message to recover")
    return RepairReport(messages, frames, reader.truncated)
