"""Rank the products in view by protein per serving, read from their nutrition panels.

The chain of steps: perceive (OCR the frame), group (which lines belong to which package, see
``shelf_text``), read (each package's name and protein, see ``labels``), compare (rank), answer.

Nothing is guessed: a package whose protein amount cannot be read is left out of the ranking, so is one
whose text runs into the frame's edge (it is cut off, so its name and panel may be incomplete), and a
frame with no readable amount gets an answer that says so.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import (
    Mode,
    NormBox,
    SkillResult,
    StepKind,
    TraceStep,
)
from eyeline.cloud.perception.crops import from_crop, package_crop
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.perception.segmentation import ProductSegmenter
from eyeline.cloud.skills.base import Pass, Skill, SkillContext
from eyeline.cloud.skills.nutrition.intents import Ask, parse_question
from eyeline.cloud.skills.shelf.fronts import front_readings
from eyeline.cloud.skills.shelf.grounding import CatalogMatcher
from eyeline.cloud.skills.shelf.ranking import (
    ProductReading,
    Ranking,
    Source,
    answer_text,
    catalog_reading,
    on_packages,
    overlay_items,
    rank_by_protein,
)
from eyeline.cloud.skills.shelf.text import (
    ProductText,
    UnlabelledText,
    find_unlabelled,
    group_products,
    read_product,
    same_column,
)
from eyeline.protos.clock import Clock, elapsed_us

AGENT = "shelf"

# What the deeper modes may spend on a shelf question (``passes.ShelfPasses``), given the skill they deepen.
DeeperPasses = Callable[[Skill, Mode], Sequence[Pass]]

# ------------------------------------------------------------------ the skill

_PROTEIN_QUESTION = re.compile(r"\bprotein", re.IGNORECASE)
_RANKING_WORDS = re.compile(r"\b(most|highest|higher|more|max\w*|rank\w*|best|top|richest|compare|sort\w*|order\w*|"
                            r"which|largest|biggest|greatest)\b", re.IGNORECASE)


class ProteinRankingSkill:
    """Ranks the packages in view by protein and pins the ranks onto them.

    ``catalog`` grounds packages whose panel cannot be read; without one they are "unknown". In
    ``THINKING`` and ``CONTEMPLATING`` modes, packages read with low confidence or not at all are re-read
    from a crop at twice the resolution before ranking; the planner stops there once all are confident.
    ``passes`` are the deeper passes the skill declares for those modes (none: it answers in one pass).
    """

    name = "protein"
    examples = ("which of these has the most protein?", "rank by protein")

    def __init__(self, catalog: Sequence[CatalogProduct] = (), passes: DeeperPasses | None = None,
                 segmenter: ProductSegmenter | None = None) -> None:
        self._matcher = CatalogMatcher(catalog)
        self._catalog = tuple(catalog)
        self._passes = passes
        self._segmenter = segmenter or ProductSegmenter()   # a Serve deployment's, with --ray

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return self._passes(self, mode) if self._passes is not None else ()

    def matches(self, question: str) -> bool:
        if not (_PROTEIN_QUESTION.search(question) and _RANKING_WORDS.search(question)):
            return False
        parsed = parse_question(question)   # "does A have more protein than B?" is a yes/no, not a ranking
        return parsed is None or parsed.ask is not Ask.COMPARE

    async def answer(self, ctx: SkillContext) -> SkillResult:
        steps: list[TraceStep] = []
        (lines, read_step), (packages, segment_step) = await asyncio.gather(self._perceive(ctx), self._segment(ctx))
        steps += (read_step, segment_step)
        aspect = ctx.image.shape[1] / ctx.image.shape[0]
        readings = self._read_all(lines, packages, aspect, steps, ctx.clock)
        if ctx.mode is not Mode.INSTANT and _doubtful(readings):
            readings = await self._reread(ctx, readings, packages, steps)
        readings = self._fronts(lines, packages, readings, steps, ctx.clock)
        readings = on_packages(self._verify(readings, steps, ctx.clock), packages)
        ranking = self._compare(readings, steps, ctx.clock)
        started = ctx.clock.now_ns()
        text = answer_text(ranking)
        steps.append(TraceStep(StepKind.ANSWER, text, evidence=tuple(r.region for r in ranking.ranked[:1]),
                               confidence=min((r.confidence for r in ranking.ranked[:1]), default=0.0),
                               cost_us=elapsed_us(ctx.clock, started), agent=AGENT))
        return SkillResult(answer=text, items=overlay_items(ranking), steps=tuple(steps),
                           confidence=_ranking_confidence(ranking))

    @staticmethod
    async def _perceive(ctx: SkillContext) -> tuple[tuple[TextLine, ...], TraceStep]:
        started = ctx.clock.now_ns()
        lines = await ctx.ocr.read(ctx.image)
        return lines, TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines",
                                evidence=tuple(line.box for line in lines), cost_us=elapsed_us(ctx.clock, started),
                                agent=AGENT)

    async def _segment(self, ctx: SkillContext) -> tuple[tuple[NormBox, ...], TraceStep]:
        """The packages themselves: text is grouped within them, and badges sit on them rather than on text."""
        started = ctx.clock.now_ns()
        regions = await self._segmenter.segment(ctx.image)
        step = TraceStep(StepKind.PERCEIVE, f"segmented {len(regions)} package regions",
                         evidence=tuple(region.box for region in regions),
                         confidence=min((region.score for region in regions), default=0.0),
                         cost_us=elapsed_us(ctx.clock, started), agent=AGENT)
        return tuple(region.box for region in regions), step

    def _read_all(self, lines: Sequence[TextLine], packages: Sequence[NormBox], aspect: float,
                  steps: list[TraceStep], clock: Clock) -> list[ProductReading]:
        products = self._group(lines, packages, aspect=aspect, steps=steps, clock=clock)
        readings = [self._read(product, steps, clock) for product in products]
        for unlabelled in find_unlabelled(lines, products, aspect, packages):
            reading = self._ground(unlabelled, steps, clock)
            if reading is not None:
                readings.append(reading)
        return readings

    @staticmethod
    def _group(lines: Sequence[TextLine], packages: Sequence[NormBox], *, aspect: float,
               steps: list[TraceStep], clock: Clock) -> tuple[ProductText, ...]:
        started = clock.now_ns()
        products = group_products(lines, aspect=aspect, packages=packages)
        steps.append(TraceStep(StepKind.GROUP, f"{len(products)} products with a protein amount",
                               evidence=tuple(product.region for product in products),
                               cost_us=elapsed_us(clock, started), agent=AGENT))
        return products

    @staticmethod
    def _read(product: ProductText, steps: list[TraceStep], clock: Clock) -> ProductReading:
        started = clock.now_ns()
        reading = read_product(product)
        text = f"{reading.display_name}: protein {reading.protein_g:g} g"
        text += f" ({reading.note})" if reading.note else ""
        if reading.cut_off:
            text += " (package cut off at the edge of view; not ranked)"
        steps.append(TraceStep(StepKind.READ, text, evidence=(product.protein_line.box,),
                               confidence=reading.confidence, cost_us=elapsed_us(clock, started), agent=AGENT))
        return reading

    def _ground(self, unlabelled: UnlabelledText, steps: list[TraceStep], clock: Clock) -> ProductReading | None:
        """Catalog figures for a package with no readable amount; unknown only if a panel shows it is one."""
        started = clock.now_ns()
        reading = catalog_reading(unlabelled.name, unlabelled.region, self._matcher)
        if reading.source is Source.UNKNOWN and not unlabelled.has_panel:
            return None  # display text with no panel and no catalog entry: a sign, a sticker, not a product
        text = (f"{unlabelled.name!r}: no readable amount; " + (
            f"catalog says {reading.per_serving_g} g per serving" if reading.source is Source.CATALOG
            else "not in the catalog, so unknown"))
        steps.append(TraceStep(StepKind.GROUND, text, evidence=(unlabelled.region,), confidence=reading.confidence,
                               cost_us=elapsed_us(clock, started), agent=AGENT))
        return reading

    def _fronts(self, lines: Sequence[TextLine], packages: Sequence[NormBox], readings: list[ProductReading],
                steps: list[TraceStep], clock: Clock) -> list[ProductReading]:
        """Packages with no reading of their own, known by their fronts' words through the catalog; a front
        named this way replaces the unknown reading of the same place."""
        started = clock.now_ns()
        fronts = front_readings(lines, packages, readings, self._catalog)
        for reading in fronts:
            figure = (f"{reading.per_serving_g:g} g per serving" if reading.per_serving_g is not None
                      else f"{reading.per_100g:g} g per 100 g" if reading.per_100g is not None else "no protein figure")
            steps.append(TraceStep(StepKind.GROUND, f"{reading.display_name}: no panel in view; {reading.note}; from "
                                   f"the catalog: {figure}", evidence=(reading.region,),
                                   confidence=reading.confidence, cost_us=elapsed_us(clock, started), agent=AGENT))
        kept = [r for r in readings if not (r.source is Source.UNKNOWN and any(
            _centre_in(f.region, r.region) for f in fronts))]
        return kept + fronts

    async def _reread(self, ctx: SkillContext, readings: list[ProductReading], packages: Sequence[NormBox],
                      steps: list[TraceStep]) -> list[ProductReading]:
        """Re-read each doubtful package from a crop at twice the resolution; keep the better reading."""
        better: list[ProductReading] = []
        budget = MAX_REREADS
        for reading in sorted(readings, key=lambda r: r.confidence):
            if not _is_doubtful(reading) or budget == 0:
                better.append(reading)
                continue
            budget -= 1
            started = ctx.clock.now_ns()
            crop, window = package_crop(ctx.image, reading.region)
            lines = tuple(from_crop(line, window) for line in await ctx.ocr.read(crop))
            aspect = ctx.image.shape[1] / ctx.image.shape[0]
            found = [read_product(p) for p in group_products(lines, aspect=aspect, packages=packages)]
            found = [r for r in found if _same_package(r.region, reading.region)]
            best = max(found, key=lambda r: r.confidence, default=None)
            chosen = best if best is not None and best.confidence > reading.confidence else reading
            chosen = _keep_name(chosen, reading)
            steps.append(TraceStep(StepKind.READ, f"re-read {reading.display_name} at 2x: "
                                   f"{chosen.protein_g:g} g ({chosen.source.value})", evidence=(window,),
                                   confidence=chosen.confidence, cost_us=elapsed_us(ctx.clock, started), agent=AGENT))
            better.append(chosen)
        return better

    def _verify(self, readings: Sequence[ProductReading], steps: list[TraceStep],
                clock: Clock) -> list[ProductReading]:
        """Check label figures against the catalog where the name matches; a disagreement lowers confidence."""
        checked: list[ProductReading] = []
        for reading in readings:
            match = self._matcher.match(reading.name) if self._matcher and reading.source is Source.LABEL else None
            stated = match.product.per_serving_g if match is not None else None
            if stated is not None and reading.per_serving_g is not None and abs(stated - reading.per_serving_g) > 0.5:
                started = clock.now_ns()
                reading = replace(reading, confidence=reading.confidence * 0.5)
                steps.append(TraceStep(StepKind.VERIFY, f"{reading.display_name}: label reads "
                                       f"{reading.per_serving_g:g} g, catalog states {stated:g} g per serving",
                                       evidence=(reading.region,), confidence=reading.confidence,
                                       cost_us=elapsed_us(clock, started), agent=AGENT))
            checked.append(reading)
        return checked

    @staticmethod
    def _compare(readings: Sequence[ProductReading], steps: list[TraceStep], clock: Clock) -> Ranking:
        started = clock.now_ns()
        ranking = rank_by_protein(readings)
        order = ", ".join(f"{rank}. {r.display_name} {r.value(ranking.basis) or 0.0:g} g"
                          for rank, r in enumerate(ranking.ranked, 1))
        steps.append(TraceStep(StepKind.COMPARE, f"ranked by protein {ranking.basis.value}: "
                               f"{order or 'nothing to rank'}", evidence=tuple(r.region for r in ranking.ranked),
                               cost_us=elapsed_us(clock, started), agent=AGENT))
        return ranking


# A reading below this confidence is worth a second look in the deeper modes, at most this many per answer
# (the least confident first), so a hard frame costs a bounded number of OCR passes.
CONFIDENT = 0.9
MAX_REREADS = 3


def _is_doubtful(reading: ProductReading) -> bool:
    return not reading.cut_off and (reading.source is not Source.LABEL or reading.confidence < CONFIDENT)


def _doubtful(readings: Sequence[ProductReading]) -> bool:
    return any(_is_doubtful(reading) for reading in readings)


def _centre_in(box: NormBox, inner: NormBox) -> bool:
    x, y = (inner.x0 + inner.x1) / 2, (inner.y0 + inner.y1) / 2
    return box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1


def _same_package(found: NormBox, wanted: NormBox) -> bool:
    return same_column(found, wanted)


def _keep_name(chosen: ProductReading, original: ProductReading) -> ProductReading:
    """A re-read may see less of the name than the whole frame did; keep the longer name."""
    if len(original.name) > len(chosen.name) and original.source is not Source.UNKNOWN:
        return replace(chosen, name=original.name)
    if original.source is Source.UNKNOWN and not chosen.name:
        return replace(chosen, name=original.name)
    return chosen


# A first place whose name was not read is pointed at by where it stands, not said: a deeper mode looks again.
UNNAMED_TOP = 0.6


def _ranking_confidence(ranking: Ranking) -> float:
    """The least sure reading the ranking rests on, held below the planner's bar when the first place has no
    name; nothing ranked is no confidence at all."""
    deciding = (*ranking.ranked, *ranking.unknown)
    least = min((reading.confidence for reading in deciding), default=0.0) if ranking.ranked else 0.0
    return min(least, UNNAMED_TOP) if ranking.ranked and not ranking.ranked[0].name else least

