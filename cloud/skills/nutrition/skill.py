"""Answer nutrition questions about the products in view: amounts on any basis, computed amounts, most/least.

The chain: perceive (OCR), read tables (``table``), pick the figures the question needs, work out what is asked
(arithmetic in code, each sum a trace step), answer with the facts stated (``SkillResult.facts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from eyeline.cloud.model import Mode, NormBox, NoticeItem, SkillResult, StatedFact, StepKind, TraceStep
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import Pass, SkillContext
from eyeline.cloud.skills.nutrition.closer import ROW_PX_TARGETS, read_closer, windows
from eyeline.cloud.skills.nutrition.compare import Side, compare, pick_pair
from eyeline.cloud.skills.nutrition.facts import Fact, NutritionTable
from eyeline.cloud.skills.nutrition.intents import Ask, NutritionQuestion, parse_question
from eyeline.cloud.skills.nutrition.lexicon import Basis, Nutrient
from eyeline.cloud.skills.nutrition.naming import product_names
from eyeline.cloud.skills.nutrition.table import best_fact, read_tables
from eyeline.protos.clock import elapsed_us

AGENT = "nutrition"
NOTICE = "Nutrition information only - not medical advice."
_BASIS_WORDS = {Basis.PER_100: "per 100 g", Basis.SERVING: "per serving", Basis.PACKAGE: "per package"}


@dataclass(frozen=True, slots=True)
class Figure:
    """An answer's figure: the value, its unit and basis words, and the sum that made it (empty: as printed)."""

    value: float
    unit: str
    basis: str
    serving_g: float | None
    confidence: float
    sum: str = ""


class CatalogFallback(Protocol):
    """Where a figure comes from when no table is in view: a product catalog (``identity.catalog``)."""

    async def answer(self, ctx: SkillContext, lines: Sequence[TextLine], nutrient: str) -> SkillResult | None: ...


class NutritionSkill:
    name = "nutrition"
    examples = ("how much protein is in this?", "how many calories in 30 g?", "which has the least sugar?")

    def __init__(self, catalog: CatalogFallback | None = None) -> None:
        self._catalog = catalog

    def matches(self, question: str) -> bool:
        return parse_question(question) is not None

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        """Thinking looks closer at the tables at one scale, Contemplating at two."""
        if mode is Mode.INSTANT:
            return ()
        targets = ROW_PX_TARGETS[:1] if mode is Mode.THINKING else ROW_PX_TARGETS
        return (Pass("closer look", lambda ctx: self._closer(ctx, targets)),)

    async def answer(self, ctx: SkillContext) -> SkillResult:
        question = parse_question(ctx.question)
        if question is None:
            return SkillResult(answer="That is not a nutrition question I can answer.", confidence=0.0)
        started = ctx.clock.now_ns()
        lines = await ctx.ocr.read(ctx.image)
        tables = await asyncio.to_thread(read_tables, lines, _aspect(ctx))
        step = TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines; {len(tables)} nutrition tables",
                         evidence=tuple(t.region for t in tables), cost_us=elapsed_us(ctx.clock, started),
                         agent=AGENT)
        if not tables and question.ask is Ask.AMOUNT and self._catalog is not None:
            # A front faces the wearer, not its panel: the catalog may know the product from its front.
            from_catalog = await self._catalog.answer(ctx, lines, question.nutrient.value)
            if from_catalog is not None:
                return replace(from_catalog, steps=(step, *from_catalog.steps))
        return _respond(question, lines, tables, [step])

    async def _closer(self, ctx: SkillContext, targets: Sequence[float]) -> SkillResult:
        """The tables read again, closer, at each row height in ``targets``; every table read is kept, and the
        most confident figure wins."""
        question = parse_question(ctx.question)
        if question is None:
            return await self.answer(ctx)
        started = ctx.clock.now_ns()
        lines = await ctx.ocr.read(ctx.image)
        tables = list(await asyncio.to_thread(read_tables, lines, _aspect(ctx)))
        steps: list[TraceStep] = []
        merged: tuple[TextLine, ...] = tuple(lines)
        for window in windows(lines, tables):
            for target in targets:
                looked = ctx.clock.now_ns()
                closer = await read_closer(ctx.image, lines, window, target, ctx.ocr)
                found = await asyncio.to_thread(read_tables, closer, _aspect(ctx))
                tables += found
                merged = (*merged, *(line for line in closer if line not in lines))
                steps.append(TraceStep(StepKind.READ, f"looked closer at rows {target:g} px tall: "
                                       f"{sum(len(t.facts) for t in found)} figures", evidence=(window,),
                                       cost_us=elapsed_us(ctx.clock, looked), agent=AGENT))
        first = TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines; {len(tables)} nutrition tables "
                          "with the closer looks", evidence=tuple(t.region for t in tables),
                          cost_us=elapsed_us(ctx.clock, started), agent=AGENT)
        return _respond(question, merged, _distinct(tables), [first, *steps])


def _aspect(ctx: SkillContext) -> float:
    return float(ctx.image.shape[1]) / float(ctx.image.shape[0])


def _distinct(tables: Sequence[NutritionTable]) -> list[NutritionTable]:
    """One table per place: reads of one table at several scales overlap; they pool their facts."""
    pooled: list[NutritionTable] = []
    for table in tables:
        home = next((i for i, other in enumerate(pooled) if _overlap(other.region, table.region) > 0.5), None)
        if home is None:
            pooled.append(table)
        else:
            other = pooled[home]
            pooled[home] = replace(other, facts=(*other.facts, *table.facts),
                                   serving_g=other.serving_g or table.serving_g, notes=(*other.notes, *table.notes))
    return pooled


def _overlap(a: NormBox, b: NormBox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
    return max(0.0, w) * max(0.0, h) / smaller if smaller > 0 else 0.0


def _respond(question: NutritionQuestion, lines: Sequence[TextLine], tables: Sequence[NutritionTable],
             steps: list[TraceStep]) -> SkillResult:
    names = product_names(lines, tables)
    products = _products(tables, names)
    if question.ask is not Ask.AMOUNT and question.basis is None and len(products) > 1:
        question = replace(question, basis=_common_basis(question.nutrient, [group for _, group in products]))
    figures: list[tuple[str, Figure]] = []
    for name, group in products:
        figure = _figure(group, question, steps, name)
        if figure is not None:
            figures.append((name, figure))
    if question.ask is Ask.COMPARE:
        return _compared(question, figures, {name: group[0].region for name, group in products}, steps)
    text, used = _answer_text(question, figures, len(products))
    if len(products) == 1 and question.ask is Ask.AMOUNT and question.basis is None and not figure_asked(question):
        extra = _other_bases(products[0][1], question, used)
        if extra:
            text = text.replace(". Not medical advice.", "; " + "; ".join(_amount(f) for _, f in extra)
                                + ". Not medical advice.")
            used = [*used, *extra]
    facts = tuple(StatedFact(name, question.nutrient.value, f.value, f.unit, f.basis, f.serving_g, bool(f.sum))
                  for name, f in used)
    confidence = min((f.confidence for _, f in used), default=0.0)
    steps.append(TraceStep(StepKind.ANSWER, text, confidence=confidence, agent=AGENT))
    return SkillResult(answer=text, items=(NoticeItem(id="notice", text=NOTICE),) if used else (),
                       steps=tuple(steps), confidence=confidence, facts=facts)


def _compared(question: NutritionQuestion, figures: Sequence[tuple[str, Figure]], regions: dict[str, NormBox],
              steps: list[TraceStep]) -> SkillResult:
    """A yes/no comparison of the two products the question names, worked out in ``compare``."""
    sides = [Side(name, regions[name], f.value, f.unit, f.basis) for name, f in figures]
    pair = pick_pair(question.pair, sides)
    if isinstance(pair, str):
        steps.append(TraceStep(StepKind.ANSWER, pair, confidence=0.0, agent=AGENT))
        return SkillResult(answer=pair, steps=tuple(steps), confidence=0.0)
    if pair[0].unit != pair[1].unit or pair[0].basis != pair[1].basis:
        text = (f"I read {question.nutrient.value} on different bases, so I can't compare them fairly: "
                f"{pair[0].name or 'unnamed'} {pair[0].value:g} {pair[0].unit} {pair[0].basis}; "
                f"{pair[1].name or 'unnamed'} {pair[1].value:g} {pair[1].unit} {pair[1].basis}.")
        steps.append(TraceStep(StepKind.ANSWER, text, confidence=0.0, agent=AGENT))
        return SkillResult(answer=text, steps=tuple(steps), confidence=0.0)
    text = compare(pair, question.more, question.nutrient.value, steps) + " Not medical advice."
    chosen = {side.name for side in pair}
    used = [(name, f) for name, f in figures if name in chosen]
    confidence = min((f.confidence for _, f in used), default=0.0)
    steps.append(TraceStep(StepKind.ANSWER, text, evidence=tuple(side.region for side in pair),
                           confidence=confidence, agent=AGENT))
    facts = tuple(StatedFact(name, question.nutrient.value, f.value, f.unit, f.basis, f.serving_g, bool(f.sum))
                  for name, f in used)
    return SkillResult(answer=text, items=(NoticeItem(id="notice", text=NOTICE),), steps=tuple(steps),
                       confidence=confidence, facts=facts)


def _products(tables: Sequence[NutritionTable], names: Sequence[str]) -> list[tuple[str, list[NutritionTable]]]:
    """Tables grouped by product name; tables with no name of their own are one product when nothing is named."""
    groups: dict[str, list[NutritionTable]] = {}
    for table, name in zip(tables, names, strict=True):
        groups.setdefault(name, []).append(table)
    if len(groups) > 1 and "" in groups and len(groups[""]) and all(len(v) == 1 for k, v in groups.items() if k):
        unnamed = groups.pop("")
        if len(groups) == 1:
            next(iter(groups.values())).extend(unnamed)
        else:
            groups[""] = unnamed
    return list(groups.items())


def _figure(tables: Sequence[NutritionTable], question: NutritionQuestion, steps: list[TraceStep],
            name: str) -> Figure | None:
    nutrient = question.nutrient
    unit = question.energy_unit if nutrient is Nutrient.ENERGY else None
    printed = {basis: fact for basis in (Basis.PER_100, Basis.SERVING, Basis.PACKAGE)
               if (fact := best_fact(tables, nutrient, basis, unit) or (
                   best_fact(tables, nutrient, basis) if unit else None)) is not None}
    if not printed:
        return None
    serving = next((t.serving_g for t in tables if t.serving_g), None)
    label = name or "this product"
    if question.quantity_g is not None:
        return _scaled(printed, question.quantity_g, serving, steps, label)
    if (question.servings is not None and Basis.SERVING in printed) or (question.servings and serving):
        per_serving = _on_basis(printed, Basis.SERVING, serving, steps, label)
        if per_serving is None:
            return None
        value = round(per_serving.value * question.servings, 2)
        sum_text = f"{per_serving.value:g} {per_serving.unit} per serving x {question.servings:g} servings = " \
                   f"{value:g} {per_serving.unit}"
        steps.append(TraceStep(StepKind.COMPARE, f"computed for {label}: {sum_text}", agent=AGENT))
        return Figure(value, per_serving.unit, f"in {question.servings:g} servings", serving,
                      per_serving.confidence, sum_text)
    wanted = question.basis or (Basis.PER_100 if question.ask is not Ask.AMOUNT and Basis.PER_100 in printed
                                else next(iter(printed)))
    package = next((t.package_g for t in tables if t.package_g), None)
    if wanted is Basis.PACKAGE and Basis.PACKAGE not in printed and package and Basis.PER_100 in printed:
        return _scaled(printed, package, serving, steps, label, basis_words="per package")
    return _on_basis(printed, wanted, serving, steps, label)


def _common_basis(nutrient: Nutrient, products: Sequence[Sequence[NutritionTable]]) -> Basis | None:
    """The basis every product can be compared on (printed, or worked out with its serving size): per 100 g
    first, as it compares like with like; None when there is none."""
    def has(tables: Sequence[NutritionTable], basis: Basis) -> bool:
        other = Basis.SERVING if basis is Basis.PER_100 else Basis.PER_100
        serving = any(t.serving_g for t in tables)
        return best_fact(tables, nutrient, basis) is not None or (
            serving and best_fact(tables, nutrient, other) is not None)

    return next((basis for basis in (Basis.PER_100, Basis.SERVING) if all(has(p, basis) for p in products)), None)


def figure_asked(question: NutritionQuestion) -> bool:
    """Whether the question asks for a worked-out amount (a quantity or a number of servings)."""
    return question.quantity_g is not None or question.servings is not None


def _other_bases(tables: Sequence[NutritionTable], question: NutritionQuestion,
                 used: Sequence[tuple[str, Figure]]) -> list[tuple[str, Figure]]:
    """The same nutrient on the other bases the label prints (per 100 g and per serving both, where it has them)."""
    name = used[0][0] if used else ""
    stated = {figure.basis for _, figure in used}
    unit = question.energy_unit if question.nutrient is Nutrient.ENERGY else None
    return [(name, _as_figure(fact)) for basis in (Basis.PER_100, Basis.SERVING, Basis.PACKAGE)
            if (fact := best_fact(tables, question.nutrient, basis, unit)) is not None
            and _BASIS_WORDS[basis] not in stated]


def _as_figure(fact: Fact) -> Figure:
    return Figure(fact.value, fact.unit, _BASIS_WORDS[fact.basis], fact.serving_g, fact.confidence)


def _on_basis(printed: dict[Basis, Fact], basis: Basis, serving: float | None, steps: list[TraceStep],
              label: str) -> Figure | None:
    if basis in printed:
        return _as_figure(printed[basis])
    if basis is Basis.SERVING and Basis.PER_100 in printed and serving:
        return _scaled(printed, serving, serving, steps, label, basis_words="per serving")
    if basis is Basis.PER_100 and Basis.SERVING in printed and serving:
        fact = printed[Basis.SERVING]
        value = round(fact.value * 100.0 / serving, 2)
        sum_text = f"{fact.value:g} {fact.unit} per {serving:g} g serving x 100 / {serving:g} = {value:g} {fact.unit}"
        steps.append(TraceStep(StepKind.COMPARE, f"computed for {label}: {sum_text}", agent=AGENT))
        return Figure(value, fact.unit, "per 100 g", None, fact.confidence, sum_text)
    return None


def _scaled(printed: dict[Basis, Fact], grams: float, serving: float | None, steps: list[TraceStep], label: str,
            basis_words: str = "") -> Figure | None:
    """An amount eaten worked out from per 100 g (or from a serving of known size)."""
    if Basis.PER_100 in printed:
        fact, per = printed[Basis.PER_100], 100.0
    elif Basis.SERVING in printed and serving:
        fact, per = printed[Basis.SERVING], serving
    else:
        return None
    value = round(fact.value * grams / per, 2)
    sum_text = f"{fact.value:g} {fact.unit} per {per:g} g x {grams:g} g / {per:g} g = {value:g} {fact.unit}"
    steps.append(TraceStep(StepKind.COMPARE, f"computed for {label}: {sum_text}", confidence=fact.confidence,
                           agent=AGENT))
    return Figure(value, fact.unit, basis_words or f"in {grams:g} g",
                  grams if basis_words == "per serving" else None, fact.confidence, sum_text)


def _amount(figure: Figure) -> str:
    return f"{figure.value:g} {figure.unit} {figure.basis}"


def _answer_text(question: NutritionQuestion, figures: Sequence[tuple[str, Figure]],
                 products: int) -> tuple[str, list[tuple[str, Figure]]]:
    nutrient = question.nutrient.value
    if not figures:
        if products == 0:
            return ("I can't see a nutrition table. Turn the package so its nutrition panel faces me, and ask "
                    "again.", [])
        return f"I can read the nutrition table, but not its {nutrient} on the basis asked.", []
    if question.ask is Ask.AMOUNT or len(figures) == 1:
        name, figure = figures[0]
        text = f"{name or 'This'} has {figure.value:g} {figure.unit} of {nutrient} {figure.basis}"
        text += f" ({figure.sum})" if figure.sum else ""
        return text + ". Not medical advice.", [figures[0]]
    units = {figure.unit for _, figure in figures}
    bases = {figure.basis for _, figure in figures}
    if len(units) > 1 or len(bases) > 1:
        return (f"I read {nutrient} on different bases, so I can't compare them fairly: "
                + "; ".join(f"{n or 'unnamed'} {_amount(f)}" for n, f in figures) + ".", list(figures))
    named = [item for item in figures if item[0]] or list(figures)
    order = sorted(named, key=lambda item: item[1].value, reverse=question.ask is Ask.MOST)
    top_name, top = order[0]
    word = "most" if question.ask is Ask.MOST else "least"
    others = "; ".join(f"{n or 'unnamed'} {_amount(f)}" for n, f in order[1:])
    return (f"{top_name or 'The unnamed product'} has the {word} {nutrient}: {_amount(top)}"
            + (f" (then {others})" if others else "") + ". Not medical advice.", order)
