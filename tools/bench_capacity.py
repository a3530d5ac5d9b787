"""``eyeline bench capacity``: how many edges one cloud serves with answers under 2 s and every keyframe kept.

N simulated edges talk to one cloud over real gRPC on loopback, each through the edge's own uplink
(``GrpcUplink``): every edge shows its own synthetic shelf (a scene per edge, seeded by its index, so no
session's OCR cache helps another's), moving as a head does, one keyframe a second, and asks a shelf question
every few seconds, the edges staggered over the interval. The frames are rendered and encoded before a step
starts, so the edges cost the machine what a real uplink costs the cloud's host: gRPC, not rendering.

A step runs N edges for a fixed time, then lets the answers still in flight arrive. For each question the
harness keeps the wall time from sending it to its final answer arriving, and the answer's own account of
where the time went on the cloud (``Answer.timing``: queue, provisional, OCR, reasoning, overlay). For each
edge it counts the keyframes sent and those the cloud decoded and kept to answer over (a keyframe's own work
on the cloud; its text is read when a question is asked over it, carried from the last keyframe read). N
ramps up until a step fails: the capacity is the largest N whose answer p95 is under the target, with no
question unanswered and no keyframe lost.

The cloud is built here, in this process, with ``CloudConfig``: ``inprocess`` is the cloud as ``eyeline
cloud`` runs it; ``ray`` the same with ``ray="auto"`` (local Ray Serve), once ``CloudConfig`` has that field.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.model import Image
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer, CloudErrorReport
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import EncodedFrame, HelloOut, QueryOut
from eyeline.tools.sections import marked, replace_marked

HEADING = "## Capacity: simulated edges per cloud"
START, END = "<!-- capacity:start -->", "<!-- capacity:end -->"   # the section's bounds in PERFORMANCE.md
QUESTION = "which of these has the most protein?"
STAGES = ("queue", "provisional", "ocr", "reasoning", "overlay")
BACKENDS = ("inprocess", "ray")
WIDTH, HEIGHT = 1280, 720
WARM_QUERY = "warm-up"
# A step's first questions, one per edge at once, each a whole read of a new shelf: room for 24 on a busy machine.
WARM_UP_TIMEOUT_S = 180.0


class CapacityBenchError(RuntimeError):
    """The benchmark cannot run as asked (e.g. a backend this build of the cloud does not have)."""


@dataclass(frozen=True, slots=True)
class Load:
    """What each simulated edge does."""

    seconds: float = 20.0             # how long each step sends keyframes and asks
    keyframe_every_s: float = 1.0
    question_every_s: float = 4.0
    drain_s: float = 15.0             # after the step, how long answers still in flight may take to arrive
    target_p95_ms: float = 2000.0


@dataclass(slots=True)
class StepResult:
    """One step of the ramp: N edges for ``Load.seconds``."""

    sessions: int
    latencies_ms: list[float] = field(default_factory=list)   # question sent -> final answer arrived (wall)
    asked: int = 0
    errors: dict[str, int] = field(default_factory=dict)   # questions answered with an error, by its code
    keyframes_sent: int = 0
    keyframes_kept: int = 0
    stages_us: dict[str, list[int]] = field(default_factory=dict)
    # The ocr stage's parts (registration, detection ...), from clouds whose answers report them: what the
    # reading itself cost, the rest of the stage being the wait for the reader.
    ocr_parts_us: dict[str, list[int]] = field(default_factory=dict)
    cloud_total_us: list[int] = field(default_factory=list)
    load_average: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)

    @property
    def unanswered(self) -> int:
        """Questions with neither an answer nor an error by the end of the drain."""
        return self.asked - self.answered - self.failed

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else math.inf

    def stage_mean_ms(self, stage: str) -> float:
        values = self.stages_us.get(stage, [])
        return sum(values) / len(values) / 1000 if values else 0.0

    def ocr_parts_text(self) -> str:
        """The ocr stage's parts as mean ms per answer ("detection 300 / recognition 200"), or "-"."""
        answers = len(self.stages_us.get("ocr", [])) or 1
        return " / ".join(f"{part} {sum(values) / answers / 1000:.0f}"
                          for part, values in self.ocr_parts_us.items()) or "-"

    def passed(self, target_p95_ms: float) -> bool:
        return (self.answered > 0 and self.failed == 0 and self.unanswered == 0
                and self.percentile(95) < target_p95_ms and self.keyframes_kept == self.keyframes_sent)


@dataclass(slots=True)
class BackendResult:
    backend: str
    steps: list[StepResult] = field(default_factory=list)

    def capacity(self, target_p95_ms: float) -> int:
        """The largest N that passed, all smaller ones having passed too; 0 when N=1 failed."""
        best = 0
        for step in self.steps:
            if not step.passed(target_p95_ms):
                break
            best = step.sessions
        return best


# ------------------------------------------------------------------ the edges

class FrameStore:
    """Each edge's keyframes, rendered and encoded once (before any step), reused by every step."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._frames: dict[int, list[bytes]] = {}

    def frames(self, edge: int) -> list[bytes]:
        if edge not in self._frames:
            scene = make_shelf_scene(seed=100 + edge)
            self._frames[edge] = [_jpeg(render_shelf_frame(scene, 0.37 * edge + k, WIDTH, HEIGHT)[0])
                                  for k in range(self._count)]
        return self._frames[edge]


def _jpeg(image: Image) -> bytes:
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())


@dataclass(slots=True)
class _EdgeTally:
    keyframes_sent: int = 0
    session_id: str = ""
    asked: dict[str, float] = field(default_factory=dict)   # query id -> perf_counter when sent
    answers: list[tuple[float, Answer]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)   # the codes of the errors its questions were answered with
    warmed: asyncio.Event = field(default_factory=asyncio.Event)   # the untimed first question was answered


@dataclass(slots=True)
class _Edge:
    """One simulated edge's open uplink and the task reading what the cloud sends it."""

    uplink: GrpcUplink
    reader: asyncio.Task[None]
    tally: _EdgeTally

    async def close(self) -> None:
        await self.uplink.aclose()
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)


async def _open_edge(index: int, address: str, token: str) -> _Edge:
    uplink = GrpcUplink(UplinkOptions(address, connect_timeout_s=20))
    welcome = await uplink.open(HelloOut(token=token, profile_name="capacity", width=WIDTH, height=HEIGHT,
                                         fps=30.0, horizontal_fov_deg=70.0, uplink_budget_kbps=4000,
                                         has_display=True))
    tally = _EdgeTally(session_id=welcome.session_id)
    return _Edge(uplink, asyncio.create_task(_read(uplink, tally), name=f"capacity-edge-{index}"), tally)


async def _warm_edge(edge: _Edge, index: int, frame: bytes, timeout_s: float) -> None:
    """Show the first keyframe and ask over it, untimed, as a session that has been running has: the
    session's reader holds its shelf, so the timed questions measure a session in its stride, not its start."""
    await edge.uplink.push_frame(EncodedFrame(seq=1, trace_id=f"e{index}f1", capture_ns=time.monotonic_ns(),
                                              data=frame, width=WIDTH, height=HEIGHT))
    edge.tally.keyframes_sent += 1
    await edge.uplink.ask(QueryOut(WARM_QUERY, QUESTION, mode="instant", frame_seq=1))
    try:
        await asyncio.wait_for(edge.tally.warmed.wait(), timeout_s)
    except TimeoutError:
        raise CapacityBenchError(f"edge {index} had no answer to its first question in {timeout_s:g} s") from None


async def _drive_edge(edge: _Edge, index: int, sessions: int, frames: Sequence[bytes], load: Load,
                      start: float) -> None:
    """Keyframes every second from ``start`` (staggered by the edge's index), a question every few seconds,
    each over the latest keyframe sent; ``frames[0]`` was the warm-up's."""
    uplink, tally = edge.uplink, edge.tally
    stagger = index / sessions
    frame_times = [start + (stagger + k) * load.keyframe_every_s for k in range(len(frames) - 1)
                   if k * load.keyframe_every_s < load.seconds]
    ask_times = [start + (stagger + 0.5 + j) * load.question_every_s
                 for j in range(int(load.seconds // load.question_every_s) + 1)]
    ask_times = [t for t in ask_times if t < start + load.seconds]
    events = sorted([(t, "frame", k + 2) for k, t in enumerate(frame_times)]
                    + [(t, "ask", j) for j, t in enumerate(ask_times)])
    latest_seq = 1
    for when, kind, number in events:
        await asyncio.sleep(max(0.0, when - time.perf_counter()))
        if kind == "frame":
            latest_seq = number
            await uplink.push_frame(EncodedFrame(seq=number, trace_id=f"e{index}f{number}",
                                                 capture_ns=time.monotonic_ns(), data=frames[number - 1],
                                                 width=WIDTH, height=HEIGHT))
            tally.keyframes_sent += 1
        else:
            query_id = f"e{index}q{number}"
            tally.asked[query_id] = time.perf_counter()
            await uplink.ask(QueryOut(query_id, QUESTION, mode="instant", frame_seq=latest_seq))


async def _read(uplink: GrpcUplink, tally: _EdgeTally) -> None:
    async for event in uplink:
        if isinstance(event, Answer | CloudErrorReport) and event.query_id == WARM_QUERY:
            if not isinstance(event, Answer) or event.final:
                tally.warmed.set()
        elif isinstance(event, Answer) and event.final and event.query_id in tally.asked:
            tally.answers.append((time.perf_counter(), event))
        elif isinstance(event, CloudErrorReport) and event.query_id in tally.asked:
            tally.errors.append(event.code)


# ------------------------------------------------------------------ the cloud

def cloud_config(backend: str, *, ocr_workers: int = 1) -> CloudConfig:
    """The cloud for ``backend``: as ``eyeline cloud`` builds it, on local Ray Serve for ``ray``."""
    base = CloudConfig(port=0, agent_workers=0, ocr_workers=ocr_workers)
    if backend == "inprocess":
        return base
    if backend == "ray":
        if "ray" not in {f.name for f in dataclasses.fields(CloudConfig)}:
            raise CapacityBenchError("this cloud has no Ray Serve backend yet (CloudConfig has no `ray` field); "
                                     "run with --backend inprocess")
        return dataclasses.replace(base, ray="auto")  # type: ignore[call-arg,unused-ignore]
    raise CapacityBenchError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _kept_keyframes(server: CloudServer, session_id: str) -> int:
    """The keyframes of a session the cloud decoded and kept, as it counted them."""
    session = server.sessions.get(session_id)
    return 0 if session is None else session.stats.keyframes_kept


async def run_step(server: CloudServer, signer: TokenSigner, store: FrameStore, sessions: int,
                   load: Load, on_timed: Callable[[], None] | None = None) -> StepResult:
    """N edges against ``server``: opened and warmed up, then ``load.seconds`` timed (``on_timed`` is told when
    that starts), then the drain; the step's figures."""
    frames = [await asyncio.to_thread(store.frames, index) for index in range(sessions)]
    edges: list[_Edge] = []
    result = StepResult(sessions)
    try:
        for index in range(sessions):     # every session is open before the first keyframe goes
            edges.append(await _open_edge(index, server.address, signer.mint(f"capacity-{index}")))
        await asyncio.gather(*(_warm_edge(edge, i, frames[i][0], WARM_UP_TIMEOUT_S) for i, edge in enumerate(edges)))
        if on_timed is not None:
            on_timed()
        start = time.perf_counter() + 0.2
        await asyncio.gather(*(_drive_edge(edge, i, sessions, frames[i], load, start)
                               for i, edge in enumerate(edges)))
        tallies = [edge.tally for edge in edges]
        await _drain(server, tallies, load.drain_s)
        result.keyframes_kept = sum(_kept_keyframes(server, tally.session_id) for tally in tallies)
    finally:
        await asyncio.gather(*(edge.close() for edge in edges))
    for edge in edges:
        _tally_into(edge.tally, result)
    result.load_average = os.getloadavg()[0]
    return result


async def _drain(server: CloudServer, tallies: list[_EdgeTally], drain_s: float) -> None:
    """Wait, up to ``drain_s``, for every question's answer (or error) and every keyframe sent to be kept: the
    last ones sent may still be on the wire or decoding."""
    deadline = time.perf_counter() + drain_s
    while time.perf_counter() < deadline:
        answered = all(len(t.answers) + len(t.errors) >= len(t.asked) for t in tallies)
        if answered and all(_kept_keyframes(server, t.session_id) >= t.keyframes_sent for t in tallies):
            return
        await asyncio.sleep(0.05)


def _tally_into(tally: _EdgeTally, result: StepResult) -> None:
    result.asked += len(tally.asked)
    for code in tally.errors:
        result.errors[code] = result.errors.get(code, 0) + 1
    result.keyframes_sent += tally.keyframes_sent
    for arrived, answer in tally.answers:
        result.latencies_ms.append((arrived - tally.asked[answer.query_id]) * 1000)
        if answer.timing is not None:
            result.cloud_total_us.append(answer.timing.total_us)
            for stage in answer.timing.stages:
                result.stages_us.setdefault(stage.stage, []).append(stage.us)
            for part in getattr(answer.timing, "ocr_parts", ()):   # reported by newer clouds only
                result.ocr_parts_us.setdefault(part.stage, []).append(part.us)


# ------------------------------------------------------------------ the ramp

class Progress:
    """A one-line progress bar on stderr: steps of the ramp and seconds within the step."""

    def __init__(self, total_s: float, stream: object = sys.stderr, width: int = 30) -> None:
        self._total_s = max(total_s, 1e-9)
        self._stream = stream
        self._width = width
        self._done_s = 0.0

    def show(self, label: str, step_elapsed_s: float) -> None:
        share = min(1.0, (self._done_s + step_elapsed_s) / self._total_s)
        filled = int(share * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        print(f"\r[{bar}] {share:4.0%} {label:<48}", end="", file=self._stream, flush=True)  # type: ignore[call-overload]

    def step_done(self, step_s: float) -> None:
        self._done_s += step_s

    def close(self) -> None:
        print(file=self._stream, flush=True)  # type: ignore[call-overload]


async def _step_with_progress(progress: Progress | None, label: str, load: Load,
                              run: Callable[[Callable[[], None]], Awaitable[StepResult]]) -> StepResult:
    """Run one step, showing the warm-up and then the timed seconds on ``progress``."""
    timed_since: list[float] = []
    work = asyncio.ensure_future(run(lambda: timed_since.append(time.perf_counter())))
    while not work.done():
        if progress is not None:
            elapsed = time.perf_counter() - timed_since[0] if timed_since else 0.0
            phase = "timed" if timed_since and elapsed < load.seconds else "draining" if timed_since else "warm-up"
            progress.show(f"{label} ({phase})", min(load.seconds, elapsed))
        await asyncio.wait({work}, timeout=0.5)
    if progress is not None:
        progress.step_done(load.seconds)
    return work.result()


async def ramp(backend: str, ramp_sessions: Sequence[int], load: Load, *, progress: Progress | None = None,
               whole_ramp: bool = False, ocr_workers: int = 1) -> BackendResult:
    """Run each N of ``ramp_sessions`` in turn against one warm cloud; stop after the first that fails (or go on
    with ``whole_ramp``, for a picture of how latency grows past the capacity)."""
    config = cloud_config(backend, ocr_workers=ocr_workers)
    signer = TokenSigner(os.urandom(32))
    server = CloudServer(config, signer)
    await server.start()
    store = FrameStore(math.ceil(load.seconds / load.keyframe_every_s) + 1)
    result = BackendResult(backend)
    try:
        for sessions in ramp_sessions:
            def run(on_timed: Callable[[], None], n: int = sessions) -> Awaitable[StepResult]:
                return run_step(server, signer, store, n, load, on_timed)

            done = await _step_with_progress(progress, f"{backend}: {sessions} edges", load, run)
            result.steps.append(done)
            if not done.passed(load.target_p95_ms) and not whole_ramp:
                break
    finally:
        await server.stop(grace_s=0.5)
    return result


# ------------------------------------------------------------------ the report

def _ms(value: float) -> str:
    return "-" if math.isinf(value) else f"{value:.0f}"


def render_table(result: BackendResult, load: Load) -> str:
    head = ("| edges | questions answered / asked | p50 ms | p95 ms | p99 ms | keyframes kept / sent "
            "| mean " + " / ".join(STAGES) + " ms | ocr parts, mean ms | load avg | pass |\n"
            "|---:|---:|---:|---:|---:|---:|---|---|---:|---|")
    rows = []
    for step in result.steps:
        stages = " / ".join(f"{step.stage_mean_ms(stage):.0f}" for stage in STAGES)
        errors = ", ".join(f"{count} {code}" for code, count in sorted(step.errors.items()))
        rows.append(f"| {step.sessions} | {step.answered} / {step.asked}{f' (errors: {errors})' if errors else ''} | "
                    f"{_ms(step.percentile(50))} | {_ms(step.percentile(95))} | {_ms(step.percentile(99))} | "
                    f"{step.keyframes_kept} / {step.keyframes_sent} | {stages} | {step.ocr_parts_text()} | "
                    f"{step.load_average:.1f} | "
                    f"{'yes' if step.passed(load.target_p95_ms) else '**no**'} |")
    return head + "\n" + "\n".join(rows)


def render_section(results: Sequence[BackendResult], load: Load, command: str) -> str:
    parts = [HEADING, "",
             f"Command: `{command}` on {os.cpu_count()} cores (shared with other work: see the load average "
             "of each step, the 1-minute figure at its end). Each simulated edge is the edge's gRPC uplink on "
             "loopback, in the same process as the cloud, showing its own synthetic shelf (1280x720 JPEG, a "
             f"scene per edge, moving) one keyframe every {load.keyframe_every_s:g} s and asking "
             f"\"{QUESTION}\" (Instant) every {load.question_every_s:g} s, the edges staggered; each step "
             f"runs {load.seconds:g} s, then waits up to {load.drain_s:g} s for answers in flight. Latency is "
             "the wall time from sending the question to its final answer arriving at the edge; the stages are "
             "the means of the answers' own `Answer.timing`, on the cloud's clock. Kept keyframes are those the "
             "cloud decoded and kept to answer over, by its own count at the end of the drain (a keyframe's "
             "text is read when a question is asked over it). Before the timed seconds each edge shows one "
             "keyframe and asks over it, untimed: a session in its stride has read its shelf once. A step "
             f"passes with p95 under {load.target_p95_ms / 1000:g} s, every question answered without an error "
             "and every keyframe kept; the ramp stops at the first step that fails.", ""]
    for result in results:
        parts += [f"### Backend: {result.backend}", "",
                  f"Capacity: **{result.capacity(load.target_p95_ms)} sessions** at answer p95 under "
                  f"{load.target_p95_ms / 1000:g} s.{where_the_time_goes(result, load)}", "",
                  render_table(result, load), ""]
    return "\n".join(parts)


def where_the_time_goes(result: BackendResult, load: Load) -> str:
    """The first step's largest stage and, when it is OCR, the ceiling it puts on the sessions one cloud
    serves: every question's reading, one after another at the one-edge speed, must fit between questions."""
    first = next((step for step in result.steps if step.stages_us), None)
    if first is None:
        return ""
    stage = max(STAGES, key=first.stage_mean_ms)
    spent_ms = first.stage_mean_ms(stage)
    total_ms = sum(first.stage_mean_ms(s) for s in STAGES)
    text = (f" With {first.sessions} edge{'s' if first.sessions > 1 else ''}, an answer's time on the cloud goes "
            f"mostly to {stage}: {spent_ms:.0f} of {total_ms:.0f} ms.")
    if stage == "ocr" and spent_ms > 0:
        ceiling = load.question_every_s * 1000 / spent_ms
        text += (f" Read one after another at that speed, questions every {load.question_every_s:g} s from each "
                 f"edge saturate the reader at about {ceiling:.1f} edges, before any queueing.")
    return text


def replace_section(document: str, section: str) -> str:
    """``document`` with the capacity section (between its markers) replaced by ``section``, or ``section``
    added at the end."""
    return replace_marked(document, START, END, f"{START}\n{section.rstrip()}\n{END}")


def kept_section(path: Path) -> str:
    """The capacity section ``path`` already holds, markers included (a blank line before it), or "": a full
    ``eyeline bench``, which rewrites the document, keeps it rather than dropping minutes of measurement."""
    return marked(path.read_text() if path.is_file() else "", START, END)


def backends_of(choice: str) -> tuple[str, ...]:
    if choice == "both":
        return BACKENDS
    if choice not in BACKENDS:
        raise CapacityBenchError(f"unknown backend {choice!r}; choose inprocess, ray or both")
    return (choice,)


async def run_capacity(backends: Sequence[str], ramp_sessions: Sequence[int], load: Load, *,
                       progress: bool = True, whole_ramp: bool = False, ocr_workers: int = 1
                       ) -> list[BackendResult]:
    for backend in backends:   # refuse an unknown backend before spending minutes on another
        cloud_config(backend)
    bar = Progress(load.seconds * len(ramp_sessions) * len(backends)) if progress else None
    try:
        return [await ramp(backend, ramp_sessions, load, progress=bar, whole_ramp=whole_ramp, ocr_workers=ocr_workers)
                for backend in backends]
    finally:
        if bar is not None:
            bar.close()


async def write_capacity_section(output: Path | None, backends: Sequence[str], ramp_sessions: Sequence[int],
                                 load: Load, command: str, *, whole_ramp: bool = False, ocr_workers: int = 1) -> int:
    """Measure, print the section, and put it into ``output`` (when given) in place of the last one."""
    results = await run_capacity(backends, ramp_sessions, load, whole_ramp=whole_ramp, ocr_workers=ocr_workers)
    section = render_section(results, load, command)
    print(section)
    if output is not None:
        text = await asyncio.to_thread(lambda: output.read_text() if output.exists() else "# Performance\n")
        await asyncio.to_thread(output.write_text, replace_section(text, section))
    return 0
