"""The nutrition skill: amounts on any basis, worked-out amounts with the sum in the trace, most and least over
several products, facts for programs; the out-of-scope answer; the real photos named in the issue."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.model import Image, Mode, NormBox, StepKind
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext, SkillRouter
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.nutrition.skill import NutritionSkill
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.cloud.skills.scope import ScopeSkill
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> TextLine:
    return TextLine(text=text, score=0.97, box=NormBox(x0, y0, x1, y1), quad=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


class Lines:
    """An OCR reader that reads fixed lines (the skill's logic, without a model)."""

    def __init__(self, lines: Sequence[TextLine]) -> None:
        self._lines = tuple(lines)

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self._lines


def pack(name: str, left: float, rows: Sequence[tuple[str, str, str]]) -> list[TextLine]:
    """A package: its name in display type, then a table with per-100 g and per-serving (30 g) columns."""
    lines = [line(name, left, 0.05, left + 0.3, 0.12), line("per 100 g", left + 0.16, 0.18, left + 0.26, 0.21),
             line("per portion (30 g)", left + 0.3, 0.18, left + 0.42, 0.21)]
    for index, (label, hundred, serving) in enumerate(rows):
        y = 0.25 + index * 0.05
        lines += [line(label, left, y, left + 0.12, y + 0.03), line(hundred, left + 0.17, y, left + 0.25, y + 0.03),
                  line(serving, left + 0.31, y, left + 0.39, y + 0.03)]
    return lines


OATS = pack("Oat Flakes", 0.02, [("Energy", "1560 kJ / 372 kcal", "468 kJ / 112 kcal"), ("Fat", "7.0 g", "2.1 g"),
                                  ("Carbohydrate", "59 g", "18 g"), ("Sugars", "1.1 g", "0.3 g"),
                                  ("Protein", "13 g", "3.9 g"), ("Salt", "0.02 g", "0.01 g")])
MUESLI = pack("Fruit Muesli", 0.52, [("Energy", "1500 kJ / 357 kcal", "450 kJ / 107 kcal"), ("Fat", "5.0 g", "1.5 g"),
                                      ("Carbohydrate", "62 g", "19 g"), ("Sugars", "21 g", "6.3 g"),
                                      ("Protein", "9.0 g", "2.7 g"), ("Salt", "0.1 g", "0.03 g")])
FRAME = np.zeros((720, 1280, 3), np.uint8)


async def ask(question: str, lines: Sequence[TextLine], mode: Mode = Mode.INSTANT) -> object:
    return await NutritionSkill().answer(SkillContext(question, mode, FRAME, 1, Lines(lines)))


async def test_an_amount_states_every_basis_the_label_prints() -> None:
    result = await NutritionSkill().answer(SkillContext("how much protein is in this?", Mode.INSTANT, FRAME, 1,
                                                        Lines(OATS)))
    assert "Oat Flakes has 13 g of protein per 100 g" in result.answer and "3.9 g per serving" in result.answer
    assert [(f.product, f.amount, f.basis) for f in result.facts] == [("Oat Flakes", 13.0, "per 100 g"),
                                                                      ("Oat Flakes", 3.9, "per serving")]
    assert "not medical advice" in result.answer.lower()


async def test_a_basis_asked_for_is_the_one_answered() -> None:
    result = await NutritionSkill().answer(SkillContext("how much sugar per serving?", Mode.INSTANT, FRAME, 1,
                                                        Lines(OATS)))
    assert [(f.nutrient, f.amount, f.basis, f.serving_g) for f in result.facts] == [
        ("sugars", 0.3, "per serving", 30.0)]


async def test_an_amount_eaten_is_worked_out_in_code_and_shown_in_the_trace() -> None:
    result = await NutritionSkill().answer(SkillContext("how many calories in 45 g?", Mode.INSTANT, FRAME, 1,
                                                        Lines(OATS)))
    fact = result.facts[0]
    assert (fact.amount, fact.unit, fact.basis, fact.computed) == (167.4, "kcal", "in 45 g", True)
    assert any(step.kind is StepKind.COMPARE and "372 kcal per 100 g x 45 g / 100 g = 167.4 kcal" in step.text
               for step in result.steps)


async def test_kilojoules_when_asked_in_kilojoules() -> None:
    result = await NutritionSkill().answer(SkillContext("how many kJ per serving?", Mode.INSTANT, FRAME, 1,
                                                        Lines(OATS)))
    assert [(f.amount, f.unit) for f in result.facts] == [(468.0, "kJ")]


async def test_a_package_figure_is_worked_out_from_per_100g_and_the_net_quantity() -> None:
    lines = [*OATS, line("Poids net: 500 g", 0.02, 0.7, 0.3, 0.74)]
    result = await NutritionSkill().answer(SkillContext("how much protein in the whole pack?", Mode.INSTANT, FRAME,
                                                        1, Lines(lines)))
    assert [(f.amount, f.basis, f.computed) for f in result.facts] == [(65.0, "per package", True)]
    assert any("13 g per 100 g x 500 g / 100 g = 65 g" in step.text for step in result.steps)


async def test_servings_multiply_the_per_serving_figure() -> None:
    result = await NutritionSkill().answer(SkillContext("how much salt in two servings", Mode.INSTANT, FRAME, 1,
                                                        Lines(MUESLI)))
    assert [(f.amount, f.basis) for f in result.facts] == [(0.06, "in 2 servings")]


@pytest.mark.parametrize(("question", "winner", "basis"), [
    ("which should I buy for protein?", "Oat Flakes", "per 100 g"),
    ("which has the least sugar?", "Oat Flakes", "per 100 g"),
    ("which of these has the most sugar per serving?", "Fruit Muesli", "per serving"),
])
async def test_several_products_are_compared_on_one_basis(question: str, winner: str, basis: str) -> None:
    result = await NutritionSkill().answer(SkillContext(question, Mode.INSTANT, FRAME, 1, Lines([*OATS, *MUESLI])))
    assert result.answer.startswith(f"{winner} has the")
    assert {f.basis for f in result.facts} == {basis} and len(result.facts) == 2


async def test_no_table_in_view_is_said_not_guessed() -> None:
    result = await NutritionSkill().answer(SkillContext("how much protein is in this?", Mode.INSTANT, FRAME, 1,
                                                        Lines([line("SUZU TOFU", 0.1, 0.1, 0.5, 0.2)])))
    assert "can't see a nutrition table" in result.answer and result.facts == () and result.confidence == 0.0


async def test_a_question_no_skill_takes_gets_what_is_in_view_and_what_can_be_asked() -> None:
    skills = [GuardrailSkill(), ProteinRankingSkill(), NutritionSkill(), ReadTextSkill()]
    router = SkillRouter([*skills, ScopeSkill(skills)])
    lines = [line("SUZU TOFU", 0.1, 0.1, 0.5, 0.2), line("Tofu ferme", 0.1, 0.22, 0.4, 0.28)]
    for question in ("what is this?", "is this vegan?"):
        skill = router.route(question)
        assert skill.name == "scope"
        result = await skill.answer(SkillContext(question, Mode.INSTANT, FRAME, 1, Lines(lines)))
        assert '"SUZU TOFU"' in result.answer and '"Tofu ferme"' in result.answer
        assert "how much protein is in this?" in result.answer and "guardrail" not in result.answer


@pytest.mark.parametrize("question", ["how much protein does this have?", "how much protein is in this?"])
def test_natural_protein_questions_are_routed_to_a_skill_that_answers(question: str) -> None:
    skills = [GuardrailSkill(), ProteinRankingSkill(), NutritionSkill(), ReadTextSkill()]
    assert SkillRouter([*skills, ScopeSkill(skills)]).route(question).name == "nutrition"


def test_a_refusal_lists_only_what_can_be_asked() -> None:
    from eyeline.cloud.skills.base import UnsupportedQuestionError

    with pytest.raises(UnsupportedQuestionError) as raised:
        SkillRouter([GuardrailSkill(), NutritionSkill()]).route("what is the weather?")
    assert "guardrail" not in str(raised.value) and "how much protein is in this?" in str(raised.value)


# ------------------------------------------------------------------ real photos (../shared/data)

REAL = [
    ("off_3770007136121_1.jpg", "how much protein does this have?", 11.0, "per 100 g"),     # tofu, shifted values
    ("off_3596710368259_2.jpg", "how much protein per 100 g?", 7.7, "per 100 g"),            # French bouillon
    ("mrtig_20315801.jpg", "how much protein is in this?", 10.7, "per 100 g"),               # UK per-100 g table
    ("off_5400141167801_3.jpg", "how much protein in the whole pot?", 4.6, "per package"),   # Dutch/French pot
    ("off_2509757363133_2.jpg", "how much protein in the whole thing?", 4.86, "per package"),  # 5,4 g x 90 g
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "question", "grams", "basis"), REAL)
async def test_real_labels_are_read_right(shared_data: Path, real_ocr: OcrPool, name: str, question: str,
                                          grams: float, basis: str) -> None:
    image = cv2.imread(str(shared_data / "nutrition_labels" / name))
    result = await NutritionSkill().answer(SkillContext(question, Mode.INSTANT, image, 1, real_ocr))
    assert (result.facts[0].amount, result.facts[0].basis) == (grams, basis)


async def test_products_are_compared_on_a_basis_all_of_them_have() -> None:
    # Oat Flakes prints per 100 g only (with its serving size); a bar prints per serving only (with its size):
    # per 100 g is worked out for the bar, and the comparison says so.
    oats = [line("Oat Flakes", 0.02, 0.05, 0.32, 0.12), line("per 100 g", 0.18, 0.18, 0.28, 0.21),
            line("Serving size 40 g", 0.02, 0.14, 0.3, 0.17), line("Protein", 0.02, 0.25, 0.14, 0.28),
            line("13 g", 0.19, 0.25, 0.27, 0.28), line("Fat", 0.02, 0.3, 0.14, 0.33),
            line("7 g", 0.19, 0.3, 0.27, 0.33)]
    bar = [line("Peak Bar", 0.52, 0.05, 0.82, 0.12), line("Nutrition Facts", 0.52, 0.14, 0.8, 0.17),
           line("Serving size 60 g", 0.52, 0.18, 0.8, 0.21), line("Protein 20g", 0.52, 0.25, 0.7, 0.28),
           line("Total Fat 9g", 0.52, 0.3, 0.7, 0.33)]
    result = await NutritionSkill().answer(SkillContext("which has the most protein?", Mode.INSTANT, FRAME, 1,
                                                        Lines([*oats, *bar])))
    assert result.answer.startswith("Peak Bar has the most protein: 33.33 g per 100 g")
    assert any("20 g per 60 g serving x 100 / 60 = 33.33 g" in step.text for step in result.steps)
