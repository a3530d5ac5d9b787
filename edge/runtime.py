"""The edge runtime: ``source → privacy → slot → sampler → encoder → uplink`` and ``downlink → overlays → renderer →
sink``.

Every stage is a task owned by ``EdgeRuntime.run``; video moves through latest-frame slots, so a slow
stage drops stale frames (counted) instead of queueing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from eyeline.devices.base import CapturedFrame, DeviceError, FrameSource, Image
from eyeline.edge.display.anchor import AnchorFade, SceneTracker
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.display.sinks import FrameSink
from eyeline.edge.errors import EdgeError
from eyeline.edge.frames.encode import JpegEncoder, new_trace_id
from eyeline.edge.frames.redact import PrivacyStage, RedactedSource
from eyeline.edge.frames.sampler import (
    Encoding,
    FrameFilter,
    KeyframeChoice,
    RateSampler,
    Sampler,
    SceneSampler,
    SceneSamplerConfig,
    as_sampler,
)
from eyeline.edge.frames.slot import LatestSlot, SlotClosedError
from eyeline.edge.messages import (
    Answer,
    CloudErrorReport,
    CloudEvent,
    FlowControl,
    HopTimes,
    OverlayArrival,
    TraceStep,
)
from eyeline.edge.overlays import Item, NoticeShape, Overlay
from eyeline.edge.transport.uplink import MessageSender, Uplink
from eyeline.edge.transport.wire import QueryOut, RenderedOut, UtteranceOut, ack_message
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.privacy import Redactor

log = logging.getLogger(__name__)


class QueryFailedError(EdgeError):
    """The cloud answered a query with an error."""

    def __init__(self, report: CloudErrorReport) -> None:
        super().__init__(f"{report.code}: {report.message}")
        self.report = report
        self.retryable = report.retryable


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    jpeg_quality: int = 80
    max_width: int = 0                # 0 = send at capture resolution
    max_keyframes_per_s: float = 2.0
    keyframes_kept: int = 16          # sent frames kept to draw an overlay onto the frame it was computed on
    latency_records: int = 1000
    report_interval_s: float = 0.5    # how often drawn overlays are reported to the cloud (its latency graph)
    sampling: str = "scene"           # "scene": SceneSampler; "rate": RateSampler at max_keyframes_per_s
    uplink_budget_kbps: int = 0       # the glasses profile's budget; 0 = unlimited
    preview_interval_s: float = 0.0   # a low-resolution preview this often between keyframes; 0 = none
    redact_faces: bool = True         # False only by an explicit choice, which is logged
    anchor_overlays: bool = True      # track the scene and keep overlays on what they point at
    fresh_keyframe_s: float = 1.5     # a question waits this long for a keyframe of what is in view now
    overlays_kept: int = 16           # per kind (frame overlays, answers): the newest stay, older ones are dropped


@dataclass(slots=True)
class EdgeStats:
    captured: int = 0
    keyframes_sent: int = 0
    overlays_received: int = 0
    frames_rendered: int = 0
    cloud_errors: int = 0
    uplink_dropped: int = 0           # filled from the slots when read
    render_dropped: int = 0
    previews_sent: int = 0
    regions_redacted: int = 0         # face regions destroyed before frames left the device
    anchors_lost: int = 0             # displayed frames on which tracking had to start over
    offers_received: int = 0          # answers the cloud offered unasked (proactive turns)


@dataclass(slots=True)
class _Channels:
    uplink: LatestSlot[CapturedFrame] = field(default_factory=LatestSlot)
    display: LatestSlot[CapturedFrame] = field(default_factory=LatestSlot)


EventHook = Callable[[CloudEvent], None]


class EdgeRuntime:
    def __init__(self, source: FrameSource, uplink: Uplink, *, renderer: OverlayRenderer,
                 sink: FrameSink | None = None, config: EdgeConfig | None = None, clock: Clock | None = None,
                 sampler: Sampler | FrameFilter | None = None, on_event: EventHook | None = None,
                 redactor: Redactor | None = None) -> None:
        self.config = config or EdgeConfig()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="edge-cpu")
        # The privacy stage: a caller that put it before its own taps (preview, recording) hands over frames
        # already redacted, which pass through untouched; any other source is redacted here, before the slots.
        self._source = RedactedSource(source, PrivacyStage(redactor, redact_faces=self.config.redact_faces,
                                                           executor=self._pool))
        self._uplink = uplink
        self._renderer = renderer
        self._sink = sink
        self._clock = clock or MonotonicClock()
        encoding = Encoding(self.config.max_width, self.config.jpeg_quality)
        self.sampler = _default_sampler(self.config) if sampler is None else as_sampler(sampler, encoding)
        self._on_event = on_event
        self._encoder = JpegEncoder(self._pool, self.config.jpeg_quality, self.config.max_width)
        self.tracker = SceneTracker() if self.config.anchor_overlays else None
        self._fade = AnchorFade(self.tracker) if self.tracker is not None else None
        self._channels = _Channels()
        self._keyframes: OrderedDict[int, CapturedFrame] = OrderedDict()
        self._asked_on: deque[int] = deque(maxlen=4)  # keyframes recent questions were about
        self.overlays: dict[str, Overlay] = {}  # by arrival, oldest first; bounded by config.overlays_kept
        self.notice = ""  # a line the edge itself shows on every frame (the daemon's offline fallback), "" = none
        self.latencies: deque[HopTimes] = deque(maxlen=self.config.latency_records)
        self._pending_hops: dict[str, HopTimes] = {}
        self._arrived_ns: dict[str, int] = {}
        self._rendered: deque[RenderedOut] = deque(maxlen=64)  # drawn, not yet reported; the oldest give way
        self._answers: dict[str, asyncio.Future[Answer]] = {}
        self._offers: set[str] = set()  # query ids of the proactive offers shown; a question of the wearer's ends them
        self._query_ids = itertools.count(1)
        self._first_keyframe = asyncio.Event()
        self._keyframe_waiters: list[asyncio.Future[int]] = []
        self._last_pushed_keyframe: int | None = None
        self._stats = EdgeStats()

    @property
    def stats(self) -> EdgeStats:
        return replace(self._stats, uplink_dropped=self._channels.uplink.dropped,
                       render_dropped=self._channels.display.dropped)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run until the source ends or ``stop()`` is called; the uplink is closed by its owner.

        A failing stage stops the others; its ``EdgeError`` (a broken stream, a sink that cannot write) or
        ``DeviceError`` (a camera that cannot be opened) is raised as itself rather than inside an exception group.
        """
        try:
            async with asyncio.TaskGroup() as group:
                receiver = group.create_task(self._receive(), name="edge-receive")
                sender = group.create_task(self._send(), name="edge-send")
                renderer = group.create_task(self._render(), name="edge-render")
                reporter = group.create_task(self._report_rendered(), name="edge-report")
                await self._capture()
                self._channels.uplink.close()
                self._channels.display.close()
                await asyncio.gather(sender, renderer)
                reporter.cancel()
                # Best effort on the way out: a stream already ended loses only this last report.
                with contextlib.suppress(EdgeError):
                    await self._flush_rendered()
                receiver.cancel()
        except* (EdgeError, DeviceError) as failed:
            raise failed.exceptions[0] from None
        finally:
            self._pool.shutdown(wait=False)

    async def stop(self) -> None:
        await self._source.aclose()

    async def _capture(self) -> None:
        async for frame in self._source:
            self._stats.captured += 1
            self._channels.uplink.put(frame)
            self._channels.display.put(frame)

    def _remember(self, keyframe: CapturedFrame) -> None:
        """Keep the last sent keyframes, and those recent questions were asked on, whose answers are to come."""
        self._keyframes[keyframe.seq] = keyframe
        while len(self._keyframes) > self.config.keyframes_kept:
            oldest = next((seq for seq in self._keyframes if seq not in self._asked_on), None)
            if oldest is None:
                break
            del self._keyframes[oldest]

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(SlotClosedError):
            while True:
                frame = await self._channels.uplink.get()
                choice = await loop.run_in_executor(self._pool, self.sampler.offer, frame)
                if choice is not None:
                    await self._send_choice(choice)

    async def _send_choice(self, choice: KeyframeChoice) -> None:
        frame, encoding = choice.frame, choice.encoding
        if choice.keyframe:
            self._remember(frame)
            if self.tracker is not None:
                await asyncio.get_running_loop().run_in_executor(self._pool, self.tracker.add, frame)
        encoded = await self._encoder.encode(frame, new_trace_id(), choice.keyframe, quality=encoding.quality,
                                             max_width=encoding.max_width or self.config.max_width)
        self.sampler.sent(choice, len(encoded.data))
        await self._uplink.push_frame(encoded)
        self._stats.regions_redacted += len(encoded.redacted)
        if not choice.keyframe:
            self._stats.previews_sent += 1
            return
        # Only a keyframe already queued to the uplink may be named by a query: the query goes out after it.
        self._last_pushed_keyframe = frame.seq
        self._stats.keyframes_sent += 1
        self._first_keyframe.set()
        for waiter in self._keyframe_waiters:
            if not waiter.done():
                waiter.set_result(frame.seq)
        self._keyframe_waiters.clear()

    def request_keyframe(self) -> None:
        """The wearer wants the cloud to see what is in view now."""
        self.sampler.request_keyframe()

    def _compose(self, frame: CapturedFrame, overlays: list[Overlay]) -> Image:
        """CPU work for one displayed frame: follow the scene, then draw every overlay where it now belongs."""
        if self.tracker is None or self._fade is None:
            return self._renderer.draw(frame.image, overlays)
        if not self.tracker.track(frame):
            self._stats.anchors_lost += 1
        project, opacity = self._fade.for_frame(frame.capture_ns)
        return self._renderer.draw(frame.image, overlays, project=project, opacity=opacity,
                                   card_opacity=self._fade.card_opacity(opacity))

    async def _render(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(SlotClosedError):
            while True:
                frame = await self._channels.display.get()
                overlays = list(self.overlays.values())
                if self.notice:
                    overlays.append(_notice_overlay(self.notice, frame))
                image = await loop.run_in_executor(self._pool, self._compose, frame, overlays)
                self._mark_rendered(overlays)
                self._stats.frames_rendered += 1
                if self._sink is not None:
                    await self._sink.write(image, frame.capture_ns)

    def _mark_rendered(self, overlays: list[Overlay]) -> None:
        now_ns = self._clock.now_ns()
        for overlay in overlays:
            key = overlay.trace_id + overlay.overlay_id
            hops = self._pending_hops.pop(key, None)
            if hops is not None:
                drawn = replace(hops, rendered_ns=now_ns)
                self.latencies.append(drawn)
                arrived_ns = self._arrived_ns.pop(key, now_ns)
                self._rendered.append(RenderedOut(overlay.trace_id, overlay.overlay_id, drawn, arrived_ns))

    async def _report_rendered(self) -> None:
        if not isinstance(self._uplink, MessageSender) or self.config.report_interval_s <= 0:
            return
        while True:
            await asyncio.sleep(self.config.report_interval_s)
            await self._flush_rendered()

    async def _flush_rendered(self) -> None:
        if not self._rendered or not isinstance(self._uplink, MessageSender):
            return
        rendered = tuple(self._rendered)
        self._rendered.clear()
        await self._uplink.send_message(ack_message(rendered, sent_ns=self._clock.now_ns()))

    async def _receive(self) -> None:
        async for event in self._uplink:
            self._handle(event)
            if self._on_event is not None:
                self._on_event(event)

    def _handle(self, event: CloudEvent) -> None:
        match event:
            case OverlayArrival(overlay=overlay, hops=hops):
                self._stats.overlays_received += 1
                self.overlays.pop(overlay.overlay_id, None)  # a replaced overlay counts as the newest
                self.overlays[overlay.overlay_id] = overlay
                self._bound_overlays(overlay)
                self._pending_hops[overlay.trace_id + overlay.overlay_id] = hops
                self._arrived_ns[overlay.trace_id + overlay.overlay_id] = self._clock.now_ns()
            case Answer() if event.proactive:
                self._offered(event)
            case Answer() if event.final:
                self._resolve(event.query_id, event)
            case FlowControl():
                self.sampler.apply(event)
            case CloudErrorReport():
                self._stats.cloud_errors += 1
                log.warning("cloud error %s: %s", event.code, event.message)
                if event.query_id:
                    self._fail(event.query_id, QueryFailedError(event))
            case TraceStep() | Answer():
                pass

    def _bound_overlays(self, newest: Overlay) -> None:
        """A cloud that overlays every frame (a frame skill) sends a new overlay id per frame: keep only the newest
        ``overlays_kept`` of the newest's kind (frame overlays, or answers to questions) so memory stays flat."""
        same_kind = [key for key, overlay in self.overlays.items() if bool(overlay.query_id) == bool(newest.query_id)]
        for key in same_kind[:max(0, len(same_kind) - self.config.overlays_kept)]:
            dropped = self.overlays.pop(key)
            self._pending_hops.pop(dropped.trace_id + key, None)
            self._arrived_ns.pop(dropped.trace_id + key, None)
            if self._fade is not None:
                self._fade.forget(key)

    def _offered(self, offer: Answer) -> None:
        """A proactive offer: drawn like any answer (its overlay came first), counted, logged without its text."""
        if offer.query_id not in self._offers:
            self._stats.offers_received += 1
            self._offers.add(offer.query_id)
            log.info("the cloud offered %s on frame %d unasked", offer.query_id, offer.frame_seq)

    def _withdraw_offers(self) -> None:
        """The wearer asked: the answer replaces what was offered, rather than drawing beside it."""
        for overlay_id in [key for key, overlay in self.overlays.items() if overlay.query_id in self._offers]:
            del self.overlays[overlay_id]
            if self._fade is not None:
                self._fade.forget(overlay_id)
        self._offers.clear()

    # ------------------------------------------------------------------ asking

    async def wait_for_keyframe(self) -> None:
        await self._first_keyframe.wait()

    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        """Send a question about the latest keyframe (with the utterance, when spoken); returns its query id
        (see ``answer``)."""
        query_id = f"q{next(self._query_ids)}"
        asked_ns = self._clock.now_ns()
        self._withdraw_offers()
        frame_seq = await self._fresh_keyframe()
        if frame_seq is None:
            frame_seq = self._last_pushed_keyframe
        if frame_seq is not None:
            self._asked_on.append(frame_seq)
        self._answers[query_id] = asyncio.get_running_loop().create_future()
        await self._uplink.ask(QueryOut(query_id, text, mode, frame_seq=frame_seq, asked_ns=asked_ns,
                                        utterance=utterance))
        return query_id

    async def _fresh_keyframe(self) -> int | None:
        """Have the sampler send what is in view now, as the wearer asks; its seq, or None if none went in time."""
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._keyframe_waiters.append(waiter)
        self.sampler.request_keyframe()
        try:
            return await asyncio.wait_for(waiter, self.config.fresh_keyframe_s)
        except TimeoutError:
            return None
        finally:
            if waiter in self._keyframe_waiters:
                self._keyframe_waiters.remove(waiter)

    async def answer(self, query_id: str) -> Answer:
        """The final answer to ``query_id``; raises ``QueryFailedError`` if the cloud reported an error."""
        try:
            return await self._answers[query_id]
        finally:
            self._answers.pop(query_id, None)

    def overlay_of(self, answer: Answer) -> Overlay | None:
        """The overlay that shows ``answer`` (the one its ``overlay_id`` names), while it is kept."""
        return self.overlays.get(answer.overlay_id) if answer.overlay_id else None

    def _resolve(self, query_id: str, answer: Answer) -> None:
        future = self._answers.get(query_id)
        if future is not None and not future.done():
            future.set_result(answer)

    def _fail(self, query_id: str, error: QueryFailedError) -> None:
        future = self._answers.get(query_id)
        if future is not None and not future.done():
            future.set_exception(error)

    # ------------------------------------------------------------------ snapshots

    def keyframe(self, seq: int) -> CapturedFrame | None:
        """A frame sent to the cloud, while it is among the last ``keyframes_kept``."""
        return self._keyframes.get(seq)

    async def snapshot(self, overlay_id: str) -> Image:
        """The overlay drawn onto the very frame it was computed on."""
        overlay = self.overlays.get(overlay_id)
        if overlay is None:
            raise EdgeError(f"no overlay {overlay_id!r} has arrived")
        frame = self._keyframes.get(overlay.frame_seq)
        if frame is None:
            raise EdgeError(f"keyframe {overlay.frame_seq} is no longer kept; raise EdgeConfig.keyframes_kept")
        return await asyncio.to_thread(self._renderer.draw, frame.image, [overlay])


def _notice_overlay(text: str, frame: CapturedFrame) -> Overlay:
    """A screen-space notice of the edge's own, drawn on ``frame``; it names no frame the cloud saw."""
    return Overlay("edge-notice", "", frame.seq, "", frame.capture_ns, (Item("edge-notice", NoticeShape(text)),))


def _default_sampler(config: EdgeConfig) -> Sampler:
    if config.sampling == "rate":
        return RateSampler(config.max_keyframes_per_s, Encoding(config.max_width, config.jpeg_quality))
    if config.sampling != "scene":
        raise EdgeError(f"EdgeConfig.sampling must be 'scene' or 'rate', got {config.sampling!r}")
    return SceneSampler(SceneSamplerConfig(uplink_budget_kbps=config.uplink_budget_kbps,
                                           preview_interval_s=config.preview_interval_s,
                                           max_keyframes_per_s=config.max_keyframes_per_s))
