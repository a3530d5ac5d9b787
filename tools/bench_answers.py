"""The answer-latency section of ``eyeline bench``: question to overlay for an Instant shelf answer, warm.

Two clouds run in this process on loopback gRPC, both warm (their OCR loaded and run before they listen):
Eyeline, which answers at once from the session's last read view (a provisional overlay) and then over the
asked keyframe, reading only the outlines in the changed regions whose cached text no longer holds, and the
baseline, the path before that (``reuse_recognition=False``: the changed regions read whole, on one mosaic).
Each round opens a session on each, shows a shelf keyframe and asks (which fills the session's tracked OCR
cache, untimed), then shows the shelf as the head moved and asks again: that second question is timed, from
sending it to the first and to the final overlay arriving at the edge. Rounds alternate between the clouds so
both see the same load. The
final answers' cloud-side stages (``Answer.timing``), the OCR stage's parts and the question's and answer's
trips (one process, one monotonic clock) are reported as medians.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer, OverlayArrival
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import EncodedFrame, HelloOut, QueryOut
from eyeline.tools.sections import replace_headed

QUESTION = "which of these has the most protein?"
HEADING = "## Answers: question -> provisional and final overlay (Instant shelf answer, warm)"
STAGE_NAMES = ("queue", "provisional", "ocr", "reasoning", "overlay")
PART_NAMES = ("registration", "detection", "orientation", "recognition", "segmentation", "uplink", "return")
TABLE_HEAD = ("| path | first overlay p50 ms | first p95 ms | final overlay p50 ms | final p95 ms | "
              f"stages: {' / '.join(STAGE_NAMES)} | warm |\n|---|---|---|---|---|---|---|")
PARTS_HEAD = (f"| path | {' | '.join(PART_NAMES)} |\n|---|{'---|' * len(PART_NAMES)}")


@dataclass(slots=True)
class Samples:
    name: str
    first_ms: list[float] = field(default_factory=list)
    final_ms: list[float] = field(default_factory=list)
    stages_us: dict[str, list[int]] = field(default_factory=dict)
    warm: list[bool] = field(default_factory=list)
    parts_us: dict[str, list[int]] = field(default_factory=dict)   # OCR parts, segmentation and trips


def _frame(seq: int, seed: int, t_s: float) -> EncodedFrame:
    image, _ = render_shelf_frame(make_shelf_scene(seed), t_s, 1280, 720)
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    return EncodedFrame(seq=seq, trace_id=f"b{seq}", capture_ns=time.monotonic_ns(), data=data, width=1280,
                        height=720)


def _hello(token: str) -> HelloOut:
    return HelloOut(token=token, profile_name="bench", width=1280, height=720, fps=30.0, horizontal_fov_deg=70.0,
                    uplink_budget_kbps=4000, has_display=True)


async def _ask_and_time(uplink: GrpcUplink, events: asyncio.Queue[object], query_id: str,
                        seq: int) -> tuple[float, float, Answer, int]:
    """Ask over keyframe ``seq``; (ms to the first overlay, ms to the final overlay, the final answer, the
    answer's arrival in ns of the monotonic clock the cloud in this process stamps with)."""
    sent = time.perf_counter()
    await uplink.ask(QueryOut(query_id, QUESTION, mode="instant", frame_seq=seq, asked_ns=time.monotonic_ns()))
    first_ms = final_ms = -1.0
    answer: Answer | None = None
    arrived_ns = 0
    while final_ms < 0 or answer is None:
        event = await asyncio.wait_for(events.get(), 120)
        if isinstance(event, OverlayArrival) and event.overlay.overlay_id == f"answer-{query_id}":
            elapsed = (time.perf_counter() - sent) * 1000
            first_ms = elapsed if first_ms < 0 else first_ms
            if event.overlay.final:
                final_ms = elapsed
        elif isinstance(event, Answer) and event.query_id == query_id and event.final:
            answer, arrived_ns = event, time.monotonic_ns()
    return first_ms, final_ms, answer, arrived_ns


async def _round(server: CloudServer, signer: TokenSigner, seed: int, samples: Samples) -> None:
    uplink = GrpcUplink(UplinkOptions(server.address, connect_timeout_s=10))
    await uplink.open(_hello(signer.mint("bench")))
    events: asyncio.Queue[object] = asyncio.Queue()

    async def read() -> None:
        async for event in uplink:
            await events.put(event)

    reader = asyncio.create_task(read())
    try:
        first, moved = await asyncio.to_thread(lambda: (_frame(1, seed, 0.0), _frame(2, seed, 0.4)))
        await uplink.push_frame(first)
        await _ask_and_time(uplink, events, "warm", 1)          # the session reads the shelf once
        await uplink.push_frame(moved)
        first_ms, final_ms, answer, arrived_ns = await _ask_and_time(uplink, events, "timed", 2)
    finally:
        await uplink.aclose()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    samples.first_ms.append(first_ms)
    samples.final_ms.append(final_ms)
    if answer.timing is not None:
        samples.warm.append(answer.timing.warm)
        for stage in answer.timing.stages:
            samples.stages_us.setdefault(stage.stage, []).append(stage.us)
        parts = {part.stage: part.us for part in answer.timing.ocr_parts}
        parts["segmentation"] = answer.timing.segmentation_us
        parts["uplink"] = answer.timing.uplink_us() or 0
        parts["return"] = answer.timing.return_us(arrived_ns) or 0
        for name in PART_NAMES:
            samples.parts_us.setdefault(name, []).append(parts.get(name, 0))


async def run_answers(rounds: int) -> tuple[Samples, Samples, tuple[float, float, float]]:
    """(Eyeline, the baseline, the load average at the end) over ``rounds`` alternating rounds."""
    signer = TokenSigner(os.urandom(32))
    eyeline = CloudServer(CloudConfig(port=0, agent_workers=0), signer)
    baseline = CloudServer(CloudConfig(port=0, agent_workers=0, reuse_recognition=False), signer)
    await eyeline.start()
    await baseline.start()
    ours = Samples("Eyeline (changed regions detected, only new outlines recognised)")
    theirs = Samples("baseline (today's path: changed regions read whole)")
    try:
        for index in range(rounds):
            pair = ((eyeline, ours), (baseline, theirs))
            for server, samples in pair if index % 2 == 0 else reversed(pair):
                await _round(server, signer, seed=10 + index, samples=samples)
    finally:
        await eyeline.stop(grace_s=0.5)
        await baseline.stop(grace_s=0.5)
    return ours, theirs, os.getloadavg()


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def render_answers(ours: Samples, theirs: Samples, load: tuple[float, float, float], rounds: int) -> str:
    def row(s: Samples) -> str:
        stages = " / ".join(f"{statistics.median(s.stages_us.get(n, [0])) / 1000:.0f}" for n in STAGE_NAMES)
        return (f"| {s.name} | {statistics.median(s.first_ms):.0f} | {_p95(s.first_ms):.0f} | "
                f"{statistics.median(s.final_ms):.0f} | {_p95(s.final_ms):.0f} | {stages} | "
                f"{sum(s.warm)}/{len(s.warm)} |")

    def parts(s: Samples) -> str:
        return f"| {s.name} | " + " | ".join(f"{statistics.median(s.parts_us.get(n, [0])) / 1000:.1f}"
                                             for n in PART_NAMES) + " |"

    first_ratio = statistics.median(ours.first_ms) / statistics.median(theirs.first_ms)
    final_ratio = statistics.median(ours.final_ms) / statistics.median(theirs.final_ms)
    cores = os.cpu_count()
    return f"""{HEADING}

Command: `eyeline bench --only-answers --rounds {rounds}`. {rounds} rounds per cloud, alternating, in one process on
loopback gRPC; each round shows a 1280x720 shelf keyframe and asks (untimed: the session reads it), then shows the
shelf as the head moved and asks again: timed from sending the question to the overlay arriving at the edge. Both
clouds are warm (OCR loaded and run on a camera-size frame before they listen). Stages are the final answer's
`Answer.timing` medians, in ms, on the cloud's clock. The machine is shared with other work, so compare the
ratios, measured in the same run, rather than the absolute times.
Load average at the end of the run: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min), {cores} cores.

{TABLE_HEAD}
{row(ours)}
{row(theirs)}

First overlay, Eyeline / baseline (p50): {first_ratio:.2f}. Final overlay, Eyeline / baseline (p50): {final_ratio:.2f}.

Where the final answer's OCR went (medians, ms): the `ocr` stage's parts (`Answer.timing.ocr_parts`), the package
segmentation that runs alongside it, and the question's trip to the cloud and the answer's trip back (loopback).

{PARTS_HEAD}
{parts(ours)}
{parts(theirs)}
"""


def replace_section(document: str, section: str) -> str:
    """``document`` with this benchmark's section replaced by ``section``, or ``section`` added at the end."""
    return replace_headed(document, HEADING, section)


async def answers_section(rounds: int) -> str:
    ours, theirs, load = await run_answers(rounds)
    return render_answers(ours, theirs, load, rounds)


async def write_answers_section(output: Path, rounds: int) -> int:
    """Measure, print the section and put it into ``output`` in place of the last one."""
    section = await answers_section(rounds)
    text = await asyncio.to_thread(lambda: output.read_text() if output.exists() else "# Performance\n")
    await asyncio.to_thread(output.write_text, replace_section(text, section))
    print(section)
    return 0
