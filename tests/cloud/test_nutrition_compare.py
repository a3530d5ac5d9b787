"""Yes/no comparisons of two products: the grammar's phrasings, who "this" and "that" are, the arithmetic in
code and in the trace, and the routing past the shelf ranking."""

from __future__ import annotations

import itertools

import pytest

from eyeline.cloud.model import Mode, StepKind
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.nutrition.intents import Ask, parse_question
from eyeline.cloud.skills.nutrition.lexicon import Nutrient
from eyeline.cloud.skills.nutrition.skill import NutritionSkill
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from tests.cloud.test_nutrition_skill import FRAME, MUESLI, OATS, Lines, pack

# Oat Flakes (left) per 100 g: fat 7.0, sugars 1.1, protein 13, salt 0.02; Fruit Muesli (right): 5.0, 21, 9.0, 0.1.
OPENINGS = ["is {a} {cmp} in {n} than {b}?", "does {a} have {cmpn} {n} than {b}?", "has {a} got {cmpn} {n} than {b}?",
            "is {a} {cmp} in {n} compared to {b}?", "ok eyeline, does {a} contain {cmpn} {n} than {b}"]
PAIRS = [("the oats", "the muesli", "Oat Flakes", "Fruit Muesli"), ("fruit muesli", "oat flakes", "Fruit Muesli",
                                                                     "Oat Flakes")]
FIGURES = {("Oat Flakes", "protein"): 13.0, ("Fruit Muesli", "protein"): 9.0, ("Oat Flakes", "sugars"): 1.1,
           ("Fruit Muesli", "sugars"): 21.0, ("Oat Flakes", "fat"): 7.0, ("Fruit Muesli", "fat"): 5.0}
NUTRIENT_WORDS = {"protein": "protein", "sugar": "sugars", "fat": "fat"}


def cases() -> list[tuple[str, str, str, str, bool]]:
    out = []
    combos = itertools.product(OPENINGS, PAIRS, NUTRIENT_WORDS, (True, False))
    for opening, (said_a, said_b, a, b), word, more in combos:
        question = opening.format(a=said_a, b=said_b, n=word, cmp="higher" if more else "lower",
                                  cmpn="more" if more else "less")
        out.append((question, a, b, NUTRIENT_WORDS[word], more))
    return out


@pytest.mark.parametrize(("question", "a", "b", "nutrient", "more"), cases())
async def test_yes_or_no_follows_the_figures_whatever_the_phrasing(question: str, a: str, b: str, nutrient: str,
                                                                    more: bool) -> None:
    parsed = parse_question(question)
    assert parsed is not None and parsed.ask is Ask.COMPARE and parsed.more is more
    result = await NutritionSkill().answer(SkillContext(question, Mode.INSTANT, FRAME, 1, Lines([*OATS, *MUESLI])))
    value_a, value_b = FIGURES[(a, nutrient)], FIGURES[(b, nutrient)]
    expected = "Yes" if (value_a > value_b) == more else "No"
    assert result.answer.startswith(f"{expected}: {a} has"), result.answer
    compared = [s for s in result.steps if s.kind is StepKind.COMPARE and s.text.startswith("compared")]
    assert len(compared) == 1
    assert f"{a} {value_a:g} g - {b} {value_b:g} g = {value_a - value_b:+g} g per 100 g" in compared[0].text
    assert {(f.product, f.amount) for f in result.facts} == {(a, value_a), (b, value_b)}


@pytest.mark.parametrize(("question", "expected"), [
    # "this" is the product nearest the middle of the view: Fruit Muesli, moved to the middle below.
    ("is this higher in protein than that?", "No: Fruit Muesli has less protein than Oat Flakes"),
    ("is this one lower in sugar than the other?", "No: Fruit Muesli has more sugars than Oat Flakes"),
    ("is that one saltier than this one?", "No: Oat Flakes has less salt than Fruit Muesli"),
    ("does this have more sugar than the other one?", "Yes: Fruit Muesli has more sugars than Oat Flakes"),
])
async def test_this_is_the_product_in_the_middle_and_that_the_other(question: str, expected: str) -> None:
    muesli = pack("Fruit Muesli", 0.4, [("Sugars", "21 g", "6.3 g"), ("Protein", "9.0 g", "2.7 g"),
                                         ("Salt", "0.1 g", "0.03 g")])
    oats = pack("Oat Flakes", 0.0, [("Sugars", "1.1 g", "0.3 g"), ("Protein", "13 g", "3.9 g"),
                                     ("Salt", "0.02 g", "0.01 g")])
    oats = [line for line in oats if line.box.x1 <= 0.4]   # the left package's right edge is behind the muesli
    result = await NutritionSkill().answer(SkillContext(question, Mode.INSTANT, FRAME, 1, Lines([*oats, *muesli])))
    assert result.answer.startswith(expected), result.answer
    compared = next(s for s in result.steps if s.kind is StepKind.COMPARE and s.text.startswith("compared"))
    assert len(compared.evidence) == 2


async def test_a_name_not_in_view_is_said_not_guessed() -> None:
    result = await NutritionSkill().answer(SkillContext("does the granola have more protein than the oats?",
                                                        Mode.INSTANT, FRAME, 1, Lines([*OATS, *MUESLI])))
    assert result.confidence == 0.0 and result.answer.startswith("I can't find 'granola'")
    assert not result.facts


def test_a_yes_no_protein_comparison_goes_to_the_nutrition_skill_not_the_shelf_ranking() -> None:
    assert not ProteinRankingSkill().matches("does the oat one have more protein than the muesli?")
    assert ProteinRankingSkill().matches("which of these has the most protein?")
    parsed = parse_question("does the oat one have more protein than the muesli?")
    assert parsed is not None and parsed.nutrient is Nutrient.PROTEIN and parsed.pair == ("oat", "muesli")


def test_a_ranking_question_stays_a_ranking() -> None:
    for question in ("which has more protein?", "which of these is lower in sugar?", "which is higher in fat?"):
        parsed = parse_question(question)
        assert parsed is not None and parsed.ask in (Ask.MOST, Ask.LEAST), question
