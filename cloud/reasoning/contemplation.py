"""Contemplating: sub-agents on independent hypotheses in parallel processes, then an orchestrator.

Each sub-agent answers the same question its own way (the frame re-read closely, the frame at another scale,
the frame fused with an earlier view); each runs in a worker process of an ``AgentPool`` with its own OCR
engine, loaded once when the process starts. Agent functions are module-level and take plain data, so they
pickle. The orchestrator cross-verifies: it groups the agents by the product they put first, keeps the
largest group, answers with that group's surest result and says how many agents agreed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import Mode, NormBox, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.fusion import FusedTextReader
from eyeline.cloud.perception.ocr import Image, OcrEngine, TextLine, TextReader
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.protein import ProteinRankingSkill

ORCHESTRATOR = "orchestrator"


@dataclass(frozen=True, slots=True, eq=False)
class AgentJob:
    """One sub-agent's hypothesis, as plain data a worker process can receive."""

    agent: str
    question: str
    image: Image = field(repr=False)
    frame_seq: int
    scale: float = 1.0
    others: tuple[Image, ...] = field(default=(), repr=False)
    catalog: tuple[CatalogProduct, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentReport:
    agent: str
    result: SkillResult
    wall_us: int


# ------------------------------------------------------------------ inside a worker process

_engine: TextReader | None = None


def load_worker_engine(threads: int = 1) -> None:
    """Process initializer: this worker's own OCR engine, loaded once for every agent it will run."""
    global _engine
    _engine = OcrEngine(threads=threads)


class _ThreadedReader:
    """The worker's engine behind the async reader interface skills use; reads run off the agent's loop."""

    def __init__(self, engine: TextReader) -> None:
        self._engine = engine

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return await asyncio.to_thread(self._engine.read, image_bgr)


def run_agent(job: AgentJob) -> AgentReport:
    """Answer ``job`` with the protein skill in Thinking mode on its hypothesis (runs in a worker process)."""
    started = time.perf_counter_ns()
    if _engine is None:
        load_worker_engine()
    assert _engine is not None
    result = asyncio.run(_answer(job, _ThreadedReader(_engine)))
    steps = tuple(replace(step, agent=job.agent) for step in result.steps)
    return AgentReport(job.agent, replace(result, steps=steps), (time.perf_counter_ns() - started) // 1000)


async def _answer(job: AgentJob, reader: _ThreadedReader) -> SkillResult:
    image = job.image
    if job.scale != 1.0:
        # Normalized coordinates are scale-free, so what the agent finds needs no mapping back.
        image = np.asarray(cv2.resize(image, None, fx=job.scale, fy=job.scale, interpolation=cv2.INTER_CUBIC),
                           dtype=np.uint8)
    ocr = FusedTextReader(reader, image, job.others) if job.others else reader
    context = SkillContext(question=job.question, mode=Mode.THINKING, image=image, frame_seq=job.frame_seq, ocr=ocr)
    return await ProteinRankingSkill(job.catalog).answer(context)


# ------------------------------------------------------------------ in the cloud process


class AgentPool:
    """The worker processes sub-agents run in; owned by the cloud server, closed with it."""

    def __init__(self, workers: int = 2) -> None:
        # spawn, not fork: the cloud process holds gRPC and OCR threads a forked child must not inherit.
        self._executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=load_worker_engine)
        self.workers = workers

    @property
    def executor(self) -> Executor:
        return self._executor

    async def warm_up(self) -> None:
        """Start every worker (and its OCR engine) now, not at the first Contemplating question."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self.workers)))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _ready() -> bool:
    return _engine is not None


def agent_jobs(ctx: SkillContext, catalog: Sequence[CatalogProduct]) -> list[AgentJob]:
    """The independent hypotheses: the frame close up, the frame enlarged, the frame fused with earlier views."""
    base = AgentJob(agent="frame", question=ctx.question, image=ctx.image, frame_seq=ctx.frame_seq,
                    catalog=tuple(catalog))
    jobs = [base, replace(base, agent="scale-1.5x", scale=1.5)]
    jobs += [replace(base, agent=f"views-{ctx.frame_seq}+{frame.seq}", others=(frame.image,))
             for frame in ctx.recent[:2]]
    return jobs


async def contemplate(ctx: SkillContext, catalog: Sequence[CatalogProduct], pool: Executor) -> SkillResult:
    """Every sub-agent at once in ``pool``, then the orchestrator's one answer."""
    loop = asyncio.get_running_loop()
    jobs = agent_jobs(ctx, catalog)
    reports = await asyncio.gather(*(loop.run_in_executor(pool, run_agent, job) for job in jobs))
    return orchestrate(reports)


def orchestrate(reports: Sequence[AgentReport]) -> SkillResult:
    """Cross-verify the agents' answers: the top product most of them agree on, said with the agreement."""
    started = time.perf_counter_ns()
    votes = Counter(_top_product(report.result) for report in reports)
    winner, agreed = max(votes.items(), key=lambda item: (item[0] != "", item[1]))
    backing = [report for report in reports if _top_product(report.result) == winner]
    chosen = max(backing, key=lambda report: report.result.confidence)
    steps = tuple(step for report in reports for step in report.result.steps)
    summary = f"{agreed} of {len(reports)} agents agreed"
    detail = "; ".join(f"{r.agent}: {_top_product(r.result) or 'no answer'}" for r in reports)
    confidence = chosen.result.confidence * agreed / len(reports)
    step = TraceStep(StepKind.VERIFY, f"cross-check: {summary} ({detail}); answer from {chosen.agent}",
                     evidence=_top_evidence(chosen.result), confidence=round(confidence, 3),
                     cost_us=(time.perf_counter_ns() - started) // 1000, agent=ORCHESTRATOR)
    return replace(chosen.result, answer=f"{chosen.result.answer} ({summary}.)", steps=(*steps, step),
                   confidence=confidence)


def _top_product(result: SkillResult) -> str:
    """The product an answer ranks first, as its ANSWER step names it (lower case), or "" for none."""
    answer = next((step for step in reversed(result.steps) if step.kind is StepKind.ANSWER), None)
    if answer is None or not answer.evidence or result.confidence <= 0.0:
        return ""
    head = re.split(r" (?:has|tie for) ", result.answer, maxsplit=1)[0]
    return " ".join(head.lower().split())


def _top_evidence(result: SkillResult) -> tuple[NormBox, ...]:
    answer = next((step for step in reversed(result.steps) if step.kind is StepKind.ANSWER), None)
    return answer.evidence if answer is not None else ()


async def run_sequentially(jobs: Sequence[AgentJob]) -> list[AgentReport]:
    """The same sub-agents one after another in this process (the harness's baseline for the parallel run)."""
    return [await asyncio.to_thread(run_agent, job) for job in jobs]
