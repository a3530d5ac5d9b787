""""What is this?": the product in view named from its barcode or its front, with the catalog's facts.

A package usually faces the wearer with its front, not its nutrition panel, so what the catalog states per
100 g is said too, and said to come from the catalog, not the label. When no product is identified the
question is handed to the skill that says what is in view (``fallback``), so the wearer still gets an answer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from eyeline.cloud.knowledge.schema import NUTRIENT_KEYS, CatalogProduct
from eyeline.cloud.model import BoxItem, Mode, NormBox, SkillResult, StatedFact, StepKind, TraceStep
from eyeline.cloud.perception.barcode import Barcode, read_barcodes
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import Pass, Skill, SkillContext
from eyeline.cloud.skills.identity.match import Identification, fold, identify
from eyeline.protos.clock import elapsed_us

AGENT = "identity"
_MIN_LINE_SCORE = 0.5
_BOX_RGB = 0x50C8FF
# "what is this", "what's that", "what am I holding", "which product is this", "what brand is it", "identify this"
_QUESTION = re.compile(
    r"^\s*(?:(?:so|and|hey|ok(?:ay)?)\W+)?(?:"
    r"what(?:'s|\s+is|\s+are)\s+(?:this|that|these|those|it)(?:\s+(?:thing|product|item|one|here))?"
    r"|what\s+(?:am\s+i|are\s+we)\s+(?:holding|looking\s+at|seeing)"
    r"|(?:what|which)\s+(?:product|brand|item)\s+(?:is|are)\s+(?:this|that|it|these|those)"
    r"|identify\s+(?:this|that|it)(?:\s+product)?"
    r")\W*$", re.IGNORECASE)
# How each catalog key is said, in the order an answer says them.
_SAID: dict[str, str] = {
    "protein": "protein", "energy_kcal": "energy", "energy_kj": "energy", "fat": "fat",
    "saturated_fat": "saturated fat", "carbohydrate": "carbohydrate", "sugars": "sugars", "fibre": "fibre",
    "salt": "salt", "sodium": "sodium",
}


class IdentitySkill:
    name = "identity"
    examples = ("what is this?",)

    def __init__(self, products: Sequence[CatalogProduct], fallback: Skill) -> None:
        self._products = tuple(products)
        self._fallback = fallback

    def matches(self, question: str) -> bool:
        return bool(_QUESTION.match(question))

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    async def answer(self, ctx: SkillContext) -> SkillResult:
        started = ctx.clock.now_ns()
        lines = [line for line in await ctx.ocr.read(ctx.image) if line.score >= _MIN_LINE_SCORE]
        # Barcode decoding and matching are CPU work on what a client sent: off the event loop.
        codes, found = await asyncio.to_thread(self._identify, ctx, lines)
        perceive = TraceStep(StepKind.PERCEIVE, f"read {len(lines)} text lines and {len(codes)} barcodes"
                             + (f" ({', '.join(code.digits for code in codes)})" if codes else ""),
                             evidence=tuple(code.box for code in codes), confidence=1.0,
                             cost_us=elapsed_us(ctx.clock, started), agent=AGENT)
        if found is None:
            handed = await self._fallback.answer(ctx)
            note = _unknown_codes(codes)
            answer = f"{note} {handed.answer}".strip() if note else handed.answer
            ground = TraceStep(StepKind.GROUND, "no catalog product identified; said what is in view",
                               confidence=handed.confidence, agent=AGENT)
            return SkillResult(answer=answer, items=handed.items, steps=(perceive, ground, *handed.steps),
                               confidence=handed.confidence)
        return _identified(found, lines, codes, perceive)

    def _identify(self, ctx: SkillContext, lines: Sequence[TextLine]) -> tuple[tuple[Barcode, ...],
                                                                                Identification | None]:
        codes = read_barcodes(ctx.image)
        return codes, identify([line.text for line in lines], codes, self._products)


def _identified(found: Identification, lines: Sequence[TextLine], codes: Sequence[Barcode],
                perceive: TraceStep) -> SkillResult:
    product = found.product
    evidence = _evidence(found, lines, codes)
    how = (f"its barcode {found.barcode}" if found.by == "barcode"
           else "the words " + ", ".join(f'"{word}"' for word in found.evidence))
    ground = TraceStep(StepKind.GROUND, f"catalog product {product.id} identified by {how}",
                       evidence=evidence, confidence=found.confidence, agent=AGENT)
    package = f" ({product.package})" if product.package else ""
    text = f"This is {product.display_name}{package}, identified by {how}."
    facts = catalog_facts(product)
    if facts:
        said = ", ".join(f"{_number(fact.amount)} {fact.unit} {fact.nutrient}" for fact in facts)
        source = f" Source: {product.source}." if product.source else ""
        text += f" From the catalog, not the label, per 100 g: {said}.{source}"
    answer = TraceStep(StepKind.ANSWER, f"named {product.display_name}; {len(facts)} catalog facts",
                       confidence=found.confidence, agent=AGENT)
    items = tuple(BoxItem(id=f"identity-{index}", box=box, caption=product.display_name if index == 0 else "",
                          rgb=_BOX_RGB) for index, box in enumerate(evidence))
    return SkillResult(answer=text, items=items, steps=(perceive, ground, answer), confidence=found.confidence,
                       facts=facts)


def catalog_facts(product: CatalogProduct) -> tuple[StatedFact, ...]:
    """The per-100 g figures the catalog states for ``product``, protein first."""
    stated = dict(product.nutrients_per_100g)
    if "protein" not in stated and product.per_100g is not None:
        stated["protein"] = product.per_100g
    return tuple(StatedFact(product.display_name, _SAID[key], stated[key], NUTRIENT_KEYS[key], "per 100 g")
                 for key in _SAID if key in stated)


def _evidence(found: Identification, lines: Sequence[TextLine], codes: Sequence[Barcode]) -> tuple[NormBox, ...]:
    if found.by == "barcode":
        return tuple(code.box for code in codes if code.digits == found.barcode)
    # A word matched may be two lines' words joined ("havre" + "gurt"): a line is evidence when one of its
    # words is part of a word matched.
    matched = set(found.evidence)
    return tuple(line.box for line in lines
                 if any(len(word) >= 3 and any(word in hit for hit in matched) for word in fold(line.text).split()))


def _unknown_codes(codes: Sequence[Barcode]) -> str:
    if not codes:
        return ""
    listed = ", ".join(code.digits for code in codes)
    return f"I read the barcode {listed}, but it is not in my product catalog."


def _number(value: float) -> str:
    return f"{value:g}"
