"""Answer ingredient and allergen questions from what the label in view says, and show where it says it.

The chain: perceive (OCR), read the ingredient list and allergen statements (``reader``, off the event loop),
ground each word that answers the question on its line (trace evidence), answer. An answer repeats the label;
it never promises safety: "may contain" is said as such, an absence is "the label I read names none", and
every answer ends with the caveat that labels can be misread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial

from eyeline.cloud.model import Mode, NoticeItem, SkillResult, StepKind, TraceStep
from eyeline.cloud.skills.base import Pass, SkillContext
from eyeline.cloud.skills.ingredients.intents import Ask, IngredientQuestion, parse_question
from eyeline.cloud.skills.ingredients.lexicon import Substance
from eyeline.cloud.skills.ingredients.reader import Found, LabelReading, Where, read_label
from eyeline.cloud.skills.ingredients.upright import box_back, on_its_side, read_upright
from eyeline.protos.clock import elapsed_us

AGENT = "ingredients"
CAVEAT = "Check the package yourself; Eyeline can misread labels."
_SHOWN_CHARS = 300
_ANIMAL_EXAMPLES = "milk, egg, honey, gelatine, meat, fish or carmine"


class IngredientsSkill:
    name = "ingredients"
    examples = ("is this vegan?", "does it contain nuts?", "what are the ingredients?")

    def matches(self, question: str) -> bool:
        return parse_question(question) is not None

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    async def answer(self, ctx: SkillContext) -> SkillResult:
        question = parse_question(ctx.question)
        if question is None:
            return SkillResult(answer="That is not an ingredients question I can answer.", confidence=0.0)
        started = ctx.clock.now_ns()
        lines = await ctx.ocr.read(ctx.image)
        turned = ""
        if on_its_side(lines):
            lines, turn = await read_upright(ctx.image, ctx.ocr)
            reading = (await asyncio.to_thread(read_label, lines)).placed(partial(box_back, turn=turn))
            turned = "; the label is on its side, so it was read turned upright"
        else:
            reading = await asyncio.to_thread(read_label, lines)
        steps = [TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines{turned}",
                           cost_us=elapsed_us(ctx.clock, started), agent=AGENT), *_read_steps(reading)]
        if not reading.ingredients and not reading.statements:
            text = ("I can't see an ingredient list or an allergen statement. Turn the package so its ingredients "
                    "face me, and ask again.")
            steps.append(TraceStep(StepKind.ANSWER, text, confidence=0.0, agent=AGENT))
            return SkillResult(answer=text, steps=tuple(steps), confidence=0.0)
        text, grounds = _answer_text(question, reading)
        steps += [TraceStep(StepKind.GROUND, f'"{item.word}" ({item.substance.name}) in the {item.where.value} '
                            f'part{", in capitals" if item.emphasised else ""}', evidence=(item.box,),
                            confidence=reading.score, agent=AGENT) for item in grounds]
        text = f"{text} {CAVEAT}"
        steps.append(TraceStep(StepKind.ANSWER, text, confidence=reading.score, agent=AGENT))
        return SkillResult(answer=text, items=(NoticeItem(id="notice", text=CAVEAT),), steps=tuple(steps),
                           confidence=reading.score)


def _read_steps(reading: LabelReading) -> list[TraceStep]:
    steps = []
    if reading.ingredients:
        steps.append(TraceStep(StepKind.READ, f'ingredient list: "{_shorten(reading.ingredients)}"',
                               evidence=reading.ingredient_lines, confidence=reading.score, agent=AGENT))
    steps += [TraceStep(StepKind.READ, f'allergen statement ({where.value}): "{text}"', evidence=(box,),
                        confidence=reading.score, agent=AGENT) for where, text, box in reading.statements]
    return steps


def _answer_text(question: IngredientQuestion, reading: LabelReading) -> tuple[str, list[Found]]:
    if question.ask is Ask.LIST:
        return _listing(reading)
    if question.ask is Ask.SUBSTANCE:
        return _substance(question.substances, reading)
    vegan = question.ask is Ask.VEGAN
    return _diet(reading, (lambda s: s.animal) if vegan else (lambda s: s.meat), "vegan" if vegan else "vegetarian")


def _listing(reading: LabelReading) -> tuple[str, list[Found]]:
    parts = [f'The ingredients read: "{_shorten(reading.ingredients).rstrip(".")}".'] if reading.ingredients else \
        ["I can't see the ingredient list."]
    contains, may = _names(reading.named(Where.CONTAINS)), _names(reading.named(Where.MAY_CONTAIN))
    if contains:
        parts.append(f"It says it contains {contains}.")
    if may:
        parts.append(f"It says it may contain {may}.")
    capitals = [item for item in reading.named(Where.INGREDIENTS) if item.emphasised]
    if capitals:
        parts.append(f"Printed in capitals as allergens: {_names(capitals)}.")
    return " ".join(parts), [*capitals, *reading.named(Where.CONTAINS), *reading.named(Where.MAY_CONTAIN)]


def _substance(asked: Sequence[Substance], reading: LabelReading) -> tuple[str, list[Found]]:
    hits = [item for item in reading.found if item.substance in asked]
    listed = [item for item in hits if item.where is Where.INGREDIENTS]
    contains = [item for item in hits if item.where is Where.CONTAINS]
    may = [item for item in hits if item.where is Where.MAY_CONTAIN]
    parts = []
    if listed:
        parts.append(f"Yes: the ingredient list names {_words(listed)}.")
    if contains:
        parts.append(f"{'Its' if listed else 'Yes: its'} allergen statement says it contains {_names(contains)}.")
    if may:
        parts.append(f"{'It' if listed or contains else 'The label'} says it may contain {_names(may)}"
                     f"{'' if listed or contains else ' (traces, not as an ingredient)'}.")
    if not parts:
        names = " or ".join(dict.fromkeys(substance.name for substance in asked))
        parts.append(f"The {_what_was_read(reading)} I read {'names' if _single(reading) else 'name'} no {names}; "
                     "that is what the label says, not a promise that it is free of them.")
    return " ".join(parts), hits


def _diet(reading: LabelReading, excluded: Callable[[Substance], bool], diet: str) -> tuple[str, list[Found]]:
    hits = [item for item in reading.found if excluded(item.substance)]
    firm = [item for item in hits if item.where is not Where.MAY_CONTAIN]
    may = [item for item in hits if item.where is Where.MAY_CONTAIN]
    if firm:
        text = f"Not {diet} by its label: it names {_words(firm)}."
    elif not reading.ingredients:
        text = f"I can't see the ingredient list, so I can't tell whether it is {diet}."
    else:
        examples = _ANIMAL_EXAMPLES if diet == "vegan" else "meat, fish, gelatine, rennet or carmine"
        text = (f"The ingredient list I read names none of the ingredients I know are not {diet} ({examples}); "
                f"that is not a {diet} certification.")
    if may:
        text += f" It says it may contain {_names(may)}."
    return text, hits


def _what_was_read(reading: LabelReading) -> str:
    if reading.ingredients and reading.statements:
        return "ingredient list and allergen statements"
    return "ingredient list" if reading.ingredients else "allergen statements"


def _single(reading: LabelReading) -> bool:
    return bool(reading.ingredients) != bool(reading.statements) and len(reading.statements) <= 1


def _words(items: Sequence[Found]) -> str:
    """Each word as printed, with what it is where the word does not say it: '"whey" (milk), "milk"'."""
    shown = dict.fromkeys(
        f'"{item.word}"' + ("" if item.word.lower() == item.substance.name else f" ({item.substance.name})")
        for item in items)
    return ", ".join(shown)


def _names(items: Sequence[Found]) -> str:
    return ", ".join(dict.fromkeys(item.substance.name for item in items))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS].rsplit(" ", 1)[0] + " ..."
