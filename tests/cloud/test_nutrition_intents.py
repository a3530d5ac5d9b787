"""The nutrition question grammar: generated phrasings (every combination of its parts) and held-out ones.

Generated: an opener x a nutrient word x a basis x a closer, each combination parsed to what it asks. Held out:
questions written the way people ask them, not built from the grammar's parts.
"""

from __future__ import annotations

import itertools

import pytest

from eyeline.cloud.skills.nutrition.intents import Ask, parse_question
from eyeline.cloud.skills.nutrition.lexicon import Basis, Nutrient

NUTRIENT_WORDS = {
    Nutrient.PROTEIN: ["protein", "proteins"], Nutrient.ENERGY: ["calories", "energy", "kcal"],
    Nutrient.FAT: ["fat", "fats"], Nutrient.SATURATED_FAT: ["saturated fat", "saturates"],
    Nutrient.CARBOHYDRATE: ["carbs", "carbohydrates"], Nutrient.SUGARS: ["sugar", "sugars"],
    Nutrient.FIBRE: ["fibre", "fiber"], Nutrient.SALT: ["salt"], Nutrient.SODIUM: ["sodium"],
}
AMOUNT_FRAMES = ["how much {n} does this have{b}?", "how much {n} is in this{b}?", "what's the {n}{b}?",
                 "how many grams of {n}{b}?", "tell me the {n}{b}", "ok eyeline, how much {n} in here{b}, please"]
BASES = {"": None, " per serving": Basis.SERVING, " per 100 g": Basis.PER_100, " per 100g": Basis.PER_100,
         " in the whole pack": Basis.PACKAGE, " per portion": Basis.SERVING}
EXTREME_FRAMES = {"which has the most {n}?": Ask.MOST, "which of these has the highest {n}{b}?": Ask.MOST,
                  "which should I buy for {n}?": Ask.MOST, "which one has the least {n}{b}?": Ask.LEAST,
                  "which of these is lowest in {n}?": Ask.LEAST, "is this higher in {n} than that one?": Ask.COMPARE}


def _cases() -> list[tuple[str, Nutrient, Basis | None]]:
    return [(frame.format(n=word, b=basis_words), nutrient, basis)
            for frame, (nutrient, words), (basis_words, basis) in itertools.product(
                AMOUNT_FRAMES, NUTRIENT_WORDS.items(), BASES.items()) for word in words]


@pytest.mark.parametrize(("question", "nutrient", "basis"), _cases())
def test_every_generated_amount_question_parses_to_what_it_asks(question: str, nutrient: Nutrient,
                                                                 basis: Basis | None) -> None:
    parsed = parse_question(question)
    assert parsed is not None
    assert (parsed.nutrient, parsed.ask, parsed.basis) == (nutrient, Ask.AMOUNT, basis)


@pytest.mark.parametrize(("question", "nutrient", "ask"), [
    (frame.format(n=word, b=""), nutrient, ask) for (frame, ask), (nutrient, words) in itertools.product(
        EXTREME_FRAMES.items(), NUTRIENT_WORDS.items()) for word in words[:1]])
def test_every_generated_comparison_parses_to_most_or_least(question: str, nutrient: Nutrient, ask: Ask) -> None:
    parsed = parse_question(question)
    assert parsed is not None and (parsed.nutrient, parsed.ask) == (nutrient, ask)


@pytest.mark.parametrize(("quantity", "grams"), [("30 g", 30.0), ("250 ml", 250.0), ("45 grams", 45.0),
                                                  ("2,5 g", 2.5)])
@pytest.mark.parametrize("frame", ["how much protein in {q}?", "how many calories are in {q} of this?",
                                   "if I eat {q}, how much sugar is that?"])
def test_an_amount_eaten_is_parsed(frame: str, quantity: str, grams: float) -> None:
    parsed = parse_question(frame.format(q=quantity))
    assert parsed is not None and parsed.quantity_g == grams and parsed.basis is None


@pytest.mark.parametrize(("question", "servings"), [("how much fat in two servings?", 2.0),
                                                   ("how many calories in 3 servings", 3.0),
                                                   ("how much salt is in half a serving", 0.5)])
def test_a_number_of_servings_is_parsed(question: str, servings: float) -> None:
    parsed = parse_question(question)
    assert parsed is not None and parsed.servings == servings


# Written as people ask, not from the grammar's parts; none of these strings is in the grammar.
HELD_OUT = [
    ("how much protein does this have?", Nutrient.PROTEIN, Ask.AMOUNT),
    ("how much protein is in this?", Nutrient.PROTEIN, Ask.AMOUNT),
    ("is there much sugar in this yoghurt?", Nutrient.SUGARS, Ask.AMOUNT),
    ("what's the calorie count on this", Nutrient.ENERGY, Ask.AMOUNT),
    ("does this have a lot of salt", Nutrient.SALT, Ask.AMOUNT),
    ("how many kilojoules per serving?", Nutrient.ENERGY, Ask.AMOUNT),
    ("which of these cereals is the least sugary?", Nutrient.SUGARS, Ask.LEAST),
    ("which one's got more fibre, this or that?", Nutrient.FIBRE, Ask.MOST),
    ("I want the one with the lowest fat", Nutrient.FAT, Ask.LEAST),
    ("compare the protein in these two", Nutrient.PROTEIN, Ask.AMOUNT),
    ("wie viel Eiweiß hat das?", Nutrient.PROTEIN, Ask.AMOUNT),
    ("combien de glucides dans ce paquet ?", Nutrient.CARBOHYDRATE, Ask.AMOUNT),
]


@pytest.mark.parametrize(("question", "nutrient", "ask"), HELD_OUT)
def test_held_out_natural_phrasings(question: str, nutrient: Nutrient, ask: Ask) -> None:
    parsed = parse_question(question)
    assert parsed is not None and parsed.nutrient is nutrient
    if ask is not Ask.AMOUNT:
        assert parsed.ask is ask


@pytest.mark.parametrize("question", ["what is this?", "is this vegan?", "read this", "how do I descale this?",
                                      "what is the weather?", "next", "show me step 3 of cleaning this machine"])
def test_other_questions_are_not_nutrition_questions(question: str) -> None:
    assert parse_question(question) is None


def test_kilojoules_asked_for_are_kept() -> None:
    parsed = parse_question("how many kJ per 100 g?")
    assert parsed is not None and parsed.energy_unit == "kJ" and parsed.basis is Basis.PER_100
