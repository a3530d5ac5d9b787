"""``eyeline ask``: one question about one image or video, answered by a cloud on loopback, as text or JSON.

The path is the live one: an embedded cloud listens on a free loopback port, the edge runtime streams the
image (or plays the video) through the real encoder and gRPC uplink, asks once the first keyframe is up, and
waits for the final answer. The JSON output is documented in ``docs/ask-json.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from eyeline.devices.base import CapturedFrame, FrameSource, FrameTimeline, Image
from eyeline.devices.spec import open_device
from eyeline.edge.app import HoldLastFrame, NoAnswerError
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Answer, AnswerTiming, CloudEvent, TraceStep
from eyeline.edge.overlays import (
    ArrowShape,
    BadgeShape,
    BoxShape,
    Item,
    LabelShape,
    NoticeShape,
    OutlineShape,
    Overlay,
    PanelShape,
    StepCardShape,
)
from eyeline.edge.runtime import EdgeConfig, EdgeRuntime
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import HelloOut
from eyeline.protos.clock import Clock, MonotonicClock

if TYPE_CHECKING:
    from eyeline.cloud.reasoning.budgets import ModelConfig

JSON_SCHEMA_VERSION = 1
MODES = ("instant", "thinking", "contemplating")
# Phone photos are larger than any glasses camera: the edge sends them scaled to this width, as it would a frame.
MAX_WIDTH = 1920


@dataclass(frozen=True, slots=True)
class AskResult:
    """One question's final answer, the overlay it came with, and the trace that led there."""

    question: str
    mode: str
    source: str
    answer: Answer
    overlay: Overlay | None
    steps: tuple[TraceStep, ...]
    interim: tuple[Answer, ...] = ()      # answers shown before the final one (progressive answers)
    elapsed_ms: float = 0.0
    frame_size: tuple[int, int] = (0, 0)
    truth: Any = field(default=None, compare=False)   # ground truth of the answered frame, when the source has it
    answer_arrived_ns: int = 0            # the final answer's arrival at the edge, on the edge's clock


class StillSource:
    """A :class:`~eyeline.devices.base.FrameSource` showing one in-memory image (with its truth) ``fps`` times a
    second, until closed: what the evaluation set streams."""

    def __init__(self, image: Image, truth: Any = None, *, fps: float = 4.0, clock: Clock | None = None) -> None:
        self._image, self._truth = image, truth
        self._clock: Clock = clock or MonotonicClock()
        self._timeline = FrameTimeline(fps, self._clock)
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CapturedFrame:
        if self._closed:
            raise StopAsyncIteration
        seq, capture_ns = self._timeline.take()
        await self._clock.sleep_until(capture_ns)
        if self._closed:
            raise StopAsyncIteration
        return CapturedFrame(seq=seq, capture_ns=capture_ns, image=self._image.copy(), truth=self._truth)

    async def aclose(self) -> None:
        self._closed = True


def _hello(token: str, size: tuple[int, int], mode: str) -> HelloOut:
    return HelloOut(token=token, profile_name="ask", width=size[0], height=size[1], fps=4.0, horizontal_fov_deg=70.0,
                    uplink_budget_kbps=0, has_display=True, mode=mode or "instant")


async def ask_over(address: str, token: str, source: FrameSource, question: str, *, mode: str = "",
                   source_name: str = "", size: tuple[int, int] = (1280, 720),
                   timeout_s: float = 120.0) -> AskResult:
    """Stream ``source`` to the cloud at ``address``, ask ``question`` once a keyframe is up, return the answer."""
    uplink = GrpcUplink(UplinkOptions(address))
    try:
        await uplink.open(_hello(token, size, mode))
    except BaseException:
        await source.aclose()
        raise
    events: list[CloudEvent] = []
    arrived: dict[str, int] = {}
    clock = MonotonicClock()   # the clock the runtime stamps questions with, so the return hop compares

    def on_event(event: CloudEvent) -> None:
        events.append(event)
        if isinstance(event, Answer) and event.final:
            arrived.setdefault(event.query_id, clock.now_ns())

    runtime = EdgeRuntime(source, uplink, renderer=OverlayRenderer(), config=EdgeConfig(max_width=MAX_WIDTH),
                          on_event=on_event)
    running = asyncio.create_task(runtime.run(), name="ask-runtime")
    try:
        result = await _question(runtime, running, events, question, mode, source_name, timeout_s)
        return replace(result, answer_arrived_ns=arrived.get(result.answer.query_id, 0))
    finally:
        await runtime.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await uplink.aclose()


async def _question(runtime: EdgeRuntime, running: asyncio.Task[None], events: list[CloudEvent], question: str,
                    mode: str, source_name: str, timeout_s: float) -> AskResult:
    keyframe = asyncio.create_task(runtime.wait_for_keyframe())
    await asyncio.wait({keyframe, running}, return_when=asyncio.FIRST_COMPLETED)
    if not keyframe.done():
        keyframe.cancel()
        running.result()
        raise EdgeError(f"{source_name or 'the source'} ended before any frame was sent")
    started = time.perf_counter()
    query_id = await runtime.ask(question, mode)
    try:
        answer = await asyncio.wait_for(runtime.answer(query_id), timeout_s)
    except TimeoutError as exc:
        raise NoAnswerError(f"no answer within {timeout_s:g} s to {question!r}: the question and "
                            f"{runtime.stats.keyframes_sent} keyframe(s) were sent, {_heard(events, query_id)}; "
                            "a slow cloud or a deep --mode may need a longer --timeout") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    overlay = runtime.overlay_of(answer)
    frame = runtime.keyframe(answer.frame_seq)
    size = (frame.image.shape[1], frame.image.shape[0]) if frame is not None else (0, 0)
    return AskResult(
        question=question, mode=answer.mode or mode, source=source_name, answer=answer, overlay=overlay,
        steps=tuple(e for e in events if isinstance(e, TraceStep) and e.query_id == query_id),
        interim=tuple(e for e in events if isinstance(e, Answer) and e.query_id == query_id and not e.final),
        elapsed_ms=elapsed_ms, frame_size=size, truth=frame.truth if frame is not None else None)


async def run_ask(*, image: Path | None = None, video: Path | None = None, question: str, mode: str = "",
                  timeout_s: float = 120.0, model: ModelConfig | None = None) -> AskResult:
    """Start a cloud on loopback, stream the image or video to it through the edge, and ask ``question``."""
    from eyeline.cloud.app import CloudConfig, CloudServer
    from eyeline.cloud.ingress.auth import TokenSigner

    if (image is None) == (video is None):
        raise EdgeError("give exactly one of an image or a video to ask about")
    path = image if image is not None else video
    # A clip that ends before its answer keeps its last frame in view until the answer comes.
    source = HoldLastFrame(open_device(f"image:{path}" if image is not None else f"video:{path}"), MonotonicClock(),
                           fps=10.0)
    source.holding = True
    signer = TokenSigner(os.urandom(32))
    server = CloudServer(CloudConfig(port=0, model=model), signer)
    await server.start()
    try:
        return await ask_over(server.address, signer.mint("ask", 600), source, question, mode=mode,
                              source_name=str(path), timeout_s=timeout_s)
    finally:
        await server.stop(grace_s=1.0)


# ------------------------------------------------------------------ output


def _heard(events: list[CloudEvent], query_id: str) -> str:
    """What the cloud said about the question so far, for a timeout's message."""
    steps = [e for e in events if isinstance(e, TraceStep) and e.query_id == query_id]
    if steps:
        return f"the cloud is still working on it ({len(steps)} trace step(s), the last '{steps[-1].kind}')"
    return "the cloud sent no trace step for it" if events else "the cloud has sent nothing back"


def result_json(result: AskResult) -> dict[str, Any]:
    """The documented JSON form of an answer (``docs/ask-json.md``)."""
    return {
        "schema": JSON_SCHEMA_VERSION,
        "question": result.question,
        "mode": result.mode,
        "source": result.source,
        "answer": {"text": result.answer.text, "final": result.answer.final, "frame_seq": result.answer.frame_seq,
                   "facts": [{"product": f.product, "nutrient": f.nutrient, "amount": f.amount, "unit": f.unit,
                              "basis": f.basis, "serving_g": f.serving_g or None, "computed": f.computed}
                             for f in result.answer.facts]},
        "interim_answers": [answer.text for answer in result.interim],
        "frame": {"width": result.frame_size[0], "height": result.frame_size[1]},
        "overlay": None if result.overlay is None else {
            "overlay_id": result.overlay.overlay_id, "frame_seq": result.overlay.frame_seq,
            "items": [item_json(item) for item in result.overlay.items]},
        "trace": [{"index": s.index, "kind": s.kind, "agent": s.agent, "text": s.text,
                   "confidence": round(s.confidence, 4), "cost_us": s.cost_us,
                   "evidence": [[b.x0, b.y0, b.x1, b.y1] for b in s.evidence]} for s in result.steps],
        "elapsed_ms": round(result.elapsed_ms, 1),
        "timing": timing_json(result.answer.timing, result.answer_arrived_ns),
    }


def timing_json(timing: AnswerTiming | None, arrived_ns: int = 0) -> dict[str, Any] | None:
    """Where the final answer's time went on the cloud, stage by stage, and its trips (``docs/ask-json.md``)."""
    if timing is None:
        return None
    return {"stages": [{"stage": s.stage, "us": s.us} for s in timing.stages], "total_us": timing.total_us,
            "warm": timing.warm, "frame_decode_us": timing.frame_decode_us,
            "ocr_parts": [{"stage": s.stage, "us": s.us} for s in timing.ocr_parts],
            "segmentation_us": timing.segmentation_us,
            "hops": {"uplink_us": timing.uplink_us(), "return_us": timing.return_us(arrived_ns)}}


def item_json(item: Item) -> dict[str, Any]:
    base: dict[str, Any] = {"id": item.id, "rgb": f"#{item.rgb:06x}"}
    match item.shape:
        case BoxShape(box=b, caption=caption):
            return base | {"kind": "box", "box": [b.x0, b.y0, b.x1, b.y1], "caption": caption}
        case OutlineShape(points=points):
            return base | {"kind": "outline", "points": [list(p) for p in points]}
        case BadgeShape(center=center, text=text):
            return base | {"kind": "badge", "center": list(center), "text": text}
        case ArrowShape(tail=tail, head=head, text=text):
            return base | {"kind": "arrow", "tail": list(tail), "head": list(head), "text": text}
        case LabelShape(anchor=anchor, text=text):
            return base | {"kind": "label", "anchor": list(anchor), "text": text}
        case PanelShape(title=title, rows=rows):
            return base | {"kind": "panel", "title": title,
                           "rows": [{"rank": r.rank, "text": r.text, "value": r.value} for r in rows]}
        case StepCardShape():
            s = item.shape
            return base | {"kind": "step_card", "step": s.step, "total": s.total, "instruction": s.instruction,
                           "target_item_id": s.target_item_id, "warning": s.warning}
        case NoticeShape(text=text):
            return base | {"kind": "notice", "text": text}
    raise EdgeError(f"overlay item {item.id!r} has a shape this command cannot write: {type(item.shape).__name__}")


def result_text(result: AskResult) -> str:
    lines = [result.answer.text, "", f"trace ({result.mode}, {result.elapsed_ms:.0f} ms):"]
    lines += [f"  {s.index + 1}. [{s.agent or '-'}] {s.kind}: {s.text} (confidence {s.confidence:.2f})"
              for s in result.steps]
    return "\n".join(lines)

