"""Contemplating: sub-agents on independent hypotheses in parallel processes, then an orchestrator.

Each sub-agent answers the same question its own way (the frame re-read closely, the frame at another scale,
the frame fused with an earlier view, and one that reads only the products' names and answers from the
knowledge pack's catalog, never from a panel's numbers); each runs in a worker process of an ``AgentPool``
with its own OCR engine, loaded once when the process starts. Agent functions are module-level and take plain
data, so they pickle. The orchestrator cross-verifies: it groups the agents by the product they put first, keeps the
largest group, answers with that group's surest result and says how many agents agreed, and whether the
knowledge agent, whose evidence is independent of the panels, agrees with the panel readers.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import Image, Mode, NormBox, SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.fusion import FusedTextReader
from eyeline.cloud.perception.ocr import AsyncTextReader, OcrEngine, TextLine, TextReader
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.grounding import CatalogMatcher
from eyeline.cloud.skills.shelf.ranking import (
    ProductReading,
    Source,
    answer_text,
    catalog_reading,
    overlay_items,
    rank_by_protein,
)
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.cloud.skills.shelf.text import find_unlabelled, group_products
from eyeline.protos.clock import Clock, MonotonicClock, elapsed_us

ORCHESTRATOR = "orchestrator"
KNOWLEDGE_AGENT = "knowledge"
# The catalog vouches for a product's figures, not for which package this is: the name match is the doubt,
# and a name match alone is trusted a little less than a panel read in full.
KNOWLEDGE_TRUST = 0.9


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
    knowledge_only: bool = False
    # The text the session has already read on this frame: the knowledge agent, given it, reads no pixels.
    lines: tuple[TextLine, ...] | None = field(default=None, repr=False)


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
    # Jobs carry plain data only, so the worker measures on a real clock of its own.
    clock = MonotonicClock()
    started = clock.now_ns()
    if _engine is None:
        load_worker_engine()
    assert _engine is not None
    answer = answer_from_knowledge if job.knowledge_only else _answer
    result = asyncio.run(answer(job, _ThreadedReader(_engine), clock=clock))
    steps = tuple(replace(step, agent=job.agent) for step in result.steps)
    return AgentReport(job.agent, replace(result, steps=steps), elapsed_us(clock, started))


async def _answer(job: AgentJob, reader: AsyncTextReader, *, clock: Clock) -> SkillResult:
    image = job.image
    if job.scale != 1.0:
        # Normalized coordinates are scale-free, so what the agent finds needs no mapping back.
        image = np.asarray(cv2.resize(image, None, fx=job.scale, fy=job.scale, interpolation=cv2.INTER_CUBIC),
                           dtype=np.uint8)
    ocr = FusedTextReader(reader, image, job.others) if job.others else reader
    context = SkillContext(question=job.question, mode=Mode.THINKING, image=image, frame_seq=job.frame_seq, ocr=ocr,
                           clock=clock)
    return await ProteinRankingSkill(job.catalog).answer(context)


async def answer_from_knowledge(job: AgentJob, reader: AsyncTextReader, *, clock: Clock) -> SkillResult:
    """Rank the products whose names are read by the catalog's figures alone; panels' numbers are not used."""
    started = clock.now_ns()
    lines = job.lines if job.lines is not None else await reader.read(job.image)
    steps = [TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines",
                       evidence=tuple(line.box for line in lines), cost_us=elapsed_us(clock, started),
                       agent=KNOWLEDGE_AGENT)]
    matcher = CatalogMatcher(job.catalog)
    readings = [_catalog_step(name, region, matcher, steps, clock)
                for name, region in _product_names(job.image, lines)]
    started = clock.now_ns()
    ranking = rank_by_protein(r for r in readings if r.source is Source.CATALOG)
    text = answer_text(ranking)
    confidence = KNOWLEDGE_TRUST * min((r.confidence for r in ranking.ranked), default=0.0)
    steps.append(TraceStep(StepKind.ANSWER, text, evidence=tuple(r.region for r in ranking.ranked[:1]),
                           confidence=round(confidence, 3), cost_us=elapsed_us(clock, started), agent=KNOWLEDGE_AGENT))
    return SkillResult(answer=text, items=overlay_items(ranking), steps=tuple(steps), confidence=confidence)


def _product_names(image: Image, lines: Sequence[TextLine]) -> list[tuple[str, NormBox]]:
    """Each package's read name and where it is, whether or not its panel is readable."""
    aspect = image.shape[1] / image.shape[0]
    products = group_products(lines, aspect=aspect)
    named = [(product.name, product.region) for product in products if product.name]
    return named + [(text.name, text.region) for text in find_unlabelled(lines, products, aspect)]


def _catalog_step(name: str, region: NormBox, matcher: CatalogMatcher, steps: list[TraceStep],
                  clock: Clock) -> ProductReading:
    started = clock.now_ns()
    reading = catalog_reading(name, region, matcher)
    said = (f"catalog: {reading.per_serving_g} g per serving" if reading.source is Source.CATALOG
            else "not in the catalog")
    steps.append(TraceStep(StepKind.GROUND, f"{name!r}: {said}", evidence=(region,),
                           confidence=reading.confidence, cost_us=elapsed_us(clock, started), agent=KNOWLEDGE_AGENT))
    return reading


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


def agent_jobs(ctx: SkillContext, catalog: Sequence[CatalogProduct],
               lines: tuple[TextLine, ...] | None = None) -> list[AgentJob]:
    """The independent hypotheses: the frame close up, the frame enlarged, the frame fused with earlier views,
    and (with a catalog) the products' names alone, from ``lines`` when the session has read them already."""
    base = AgentJob(agent="frame", question=ctx.question, image=ctx.image, frame_seq=ctx.frame_seq,
                    catalog=tuple(catalog))
    jobs = [base, replace(base, agent="scale-1.5x", scale=1.5)]
    jobs += [replace(base, agent=f"views-{ctx.frame_seq}+{frame.seq}", others=(frame.image,))
             for frame in ctx.recent[:2]]
    if catalog:
        jobs.append(replace(base, agent=KNOWLEDGE_AGENT, knowledge_only=True, lines=lines))
    return jobs


async def contemplate(ctx: SkillContext, catalog: Sequence[CatalogProduct], pool: Executor) -> SkillResult:
    """Every sub-agent at once in ``pool``, then the orchestrator's one answer."""
    loop = asyncio.get_running_loop()
    # The earlier passes read this frame already: the session's reader has the lines at no cost, so the
    # knowledge agent does not spend a worker on a second OCR pass of the same pixels.
    lines = tuple(await ctx.ocr.read(ctx.image)) if catalog else None
    jobs = agent_jobs(ctx, catalog, lines)
    reports = await asyncio.gather(*(loop.run_in_executor(pool, run_agent, job) for job in jobs))
    return orchestrate(reports, ctx.clock)


def orchestrate(reports: Sequence[AgentReport], clock: Clock) -> SkillResult:
    """Cross-verify the agents' answers: the top product most of them agree on, said with the agreement."""
    started = clock.now_ns()
    votes = Counter(_top_product(report.result) for report in reports)
    winner, agreed = max(votes.items(), key=lambda item: (item[0] != "", item[1]))
    backing = [report for report in reports if _top_product(report.result) == winner]
    chosen = max(backing, key=lambda report: report.result.confidence)
    steps = tuple(step for report in reports for step in report.result.steps)
    summary = f"{agreed} of {len(reports)} agents agreed"
    detail = "; ".join(f"{r.agent}: {_top_product(r.result) or 'no answer'}" for r in reports)
    detail += _knowledge_check(reports)
    confidence = chosen.result.confidence * agreed / len(reports)
    step = TraceStep(StepKind.VERIFY, f"cross-check: {summary} ({detail}); answer from {chosen.agent}",
                     evidence=_top_evidence(chosen.result), confidence=round(confidence, 3),
                     cost_us=elapsed_us(clock, started), agent=ORCHESTRATOR)
    return replace(chosen.result, answer=f"{chosen.result.answer} ({summary}.)", steps=(*steps, step),
                   confidence=confidence)


def _knowledge_check(reports: Sequence[AgentReport]) -> str:
    """Whether the knowledge agent names the product the panel readers put first (most of them)."""
    knowledge = next((r for r in reports if r.agent == KNOWLEDGE_AGENT), None)
    panel_votes = Counter(_top_product(r.result) for r in reports if r.agent != KNOWLEDGE_AGENT)
    panel_votes.pop("", None)
    if knowledge is None or not _top_product(knowledge.result) or not panel_votes:
        return ""
    panel_top = panel_votes.most_common(1)[0][0]
    return "; the catalog " + ("agrees with" if _top_product(knowledge.result) == panel_top else "disagrees with") \
        + " the panels"


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
