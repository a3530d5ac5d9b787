"""Catalog facts for a nutrition question when no nutrition panel is in view: the product is identified from its
front or barcode and the catalog's per-100 g figure is said, with its source, as the catalog's and not the label's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import SkillResult, StepKind, TraceStep
from eyeline.cloud.perception.barcode import read_barcodes
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.identity.match import Identification, identify
from eyeline.cloud.skills.identity.skill import catalog_facts
from eyeline.protos.clock import elapsed_us

AGENT = "identity"
_MIN_LINE_SCORE = 0.5
NOTICE = "Nutrition information only - not medical advice."


class CatalogLookup:
    """What the nutrition skill asks when it sees no table: the catalog's figure for the product in view."""

    def __init__(self, products: Sequence[CatalogProduct]) -> None:
        self._products = tuple(products)

    async def answer(self, ctx: SkillContext, lines: Sequence[TextLine], nutrient: str) -> SkillResult | None:
        """The catalog's per-100 g ``nutrient`` for the identified product, or ``None`` when none is identified
        or the catalog does not state it."""
        started = ctx.clock.now_ns()
        sure = [line.text for line in lines if line.score >= _MIN_LINE_SCORE]
        found = await asyncio.to_thread(self._identify, ctx, sure)
        if found is None:
            return None
        stated = [fact for fact in catalog_facts(found.product) if fact.nutrient == nutrient]
        if not stated:
            return None
        product = found.product
        said = " and ".join(f"{fact.amount:g} {fact.unit}" for fact in stated)
        source = f" (source: {product.source})" if product.source else ""
        text = (f"I can't see a nutrition table, but this looks like {product.display_name}: from the catalog, "
                f"not the label, it has {said} {nutrient} per 100 g{source}. {NOTICE}")
        how = f"barcode {found.barcode}" if found.by == "barcode" else "words " + ", ".join(found.evidence)
        steps = (TraceStep(StepKind.GROUND, f"no table in view; catalog product {product.id} by its {how}",
                           confidence=found.confidence, cost_us=elapsed_us(ctx.clock, started), agent=AGENT),
                 TraceStep(StepKind.ANSWER, text, confidence=found.confidence, agent=AGENT))
        return SkillResult(answer=text, steps=steps, confidence=found.confidence, facts=tuple(stated))

    def _identify(self, ctx: SkillContext, texts: Sequence[str]) -> Identification | None:
        return identify(texts, read_barcodes(ctx.image), self._products)
