"""The ingredients skill: ingredient lists and allergen statements read from OCR-like lines in several languages,
answered with what the label says and where (trace evidence), never as a promise; its question grammar; its
place in the router; and a real photographed ingredient list."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.model import Image, Mode, NormBox, NoticeItem, SkillResult, StepKind
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext, SkillRouter
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.ingredients.intents import Ask, parse_question
from eyeline.cloud.skills.ingredients.reader import Where, read_label
from eyeline.cloud.skills.ingredients.skill import CAVEAT, IngredientsSkill
from eyeline.cloud.skills.nutrition.skill import NutritionSkill
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.cloud.skills.scope import ScopeSkill

FRAME = np.zeros((720, 1280, 3), np.uint8)


def line(text: str, y: float, x0: float = 0.1, x1: float = 0.6, score: float = 0.97) -> TextLine:
    y1 = y + 0.03
    return TextLine(text=text, score=score, box=NormBox(x0, y, x1, y1), quad=((x0, y), (x1, y), (x1, y1), (x0, y1)))


def label(*texts: str, top: float = 0.3) -> list[TextLine]:
    """Lines one under the other, as a label's column of running text reads."""
    return [line(text, top + index * 0.035) for index, text in enumerate(texts)]


class Lines:
    def __init__(self, lines: Sequence[TextLine]) -> None:
        self._lines = tuple(lines)

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self._lines


async def ask(question: str, lines: Sequence[TextLine]) -> SkillResult:
    return await IngredientsSkill().answer(SkillContext(question, Mode.INSTANT, FRAME, 1, Lines(lines)))


CHOCOLATE_EN = [line("Nutrition information per 100 g", 0.05), line("Protein 6.2 g", 0.09),
                *label("INGREDIENTS: sugar, cocoa butter, whole MILK powder,",
                       "cocoa mass, HAZELNUTS (12%), emulsifier: lecithins",
                       "(SOYA), vanilla extract. May contain traces of",
                       "peanuts and other nuts.", "Store in a cool dry place.")]
BISCUIT_DE = label("Zutaten: Weizenmehl, Zucker, Palmöl, Vollmilchpulver,", "Hühnereigelb, Salz, Backtriebmittel.",
                   "Kann Spuren von Sesam enthalten.", "Mindestens haltbar bis: siehe Boden")
CRACKER_FR = label("Ingrédients : farine de blé, huile de tournesol, sel,", "levure. Contient : gluten.",
                   "Peut contenir des traces de lait, d'oeufs et de sésame.")
SPREAD_NL = label("Ingrediënten: suiker, plantaardige olie (palm), hazelnoten", "13%, magere cacao, weipoeder, "
                  "emulgator (soja-", "lecithine), vanilline.")
SAUCE_IT = label("Ingredienti: pomodoro 90%, olio extravergine di oliva, basilico,", "sale, acciughe 2%.",
                 "Può contenere tracce di sedano.")
SNACK_HR = label("Sastojci: kukuruzna krupica, biljno ulje, kikiriki 30%, sol.", "Može sadržavati tragove mlijeka.")
OAT_DRINK_ES = label("Ingredientes: agua, avena 10%, aceite de girasol, sal, leche de coco.")
DRINK_COCONUT = label("Ingredients: water, coconut milk (20%), cocoa butter, rice, sea salt.")
GUMMIES = label("Ingredients: glucose syrup, sugar, gelatine, acid: citric acid, colour: carmine.")


def test_an_english_list_is_read_with_its_allergens_in_capitals_and_its_may_contain_statement() -> None:
    reading = read_label(CHOCOLATE_EN)
    assert reading.ingredients.startswith("sugar, cocoa butter, whole MILK powder")
    assert "Store" not in reading.ingredients and "Protein" not in reading.ingredients
    listed = {(item.substance.name, item.word, item.emphasised) for item in reading.named(Where.INGREDIENTS)}
    assert {("milk", "MILK", True), ("tree nuts", "HAZELNUTS", True), ("soy", "SOYA", True)} <= listed
    assert not any(item.substance.name == "milk" and item.word == "butter" for item in reading.found)  # cocoa butter
    assert {item.substance.name for item in reading.named(Where.MAY_CONTAIN)} == {"peanuts", "tree nuts"}
    assert len(reading.ingredient_lines) == 4


@pytest.mark.parametrize(("lines", "ingredients", "contains", "may_contain"), [
    (BISCUIT_DE, {"gluten", "milk", "egg"}, set(), {"sesame"}),
    (CRACKER_FR, {"gluten"}, {"gluten"}, {"milk", "egg", "sesame"}),
    (SPREAD_NL, {"tree nuts", "milk", "soy"}, set(), set()),
    (SAUCE_IT, {"fish"}, set(), {"celery"}),
    (SNACK_HR, {"peanuts"}, set(), {"milk"}),
    (OAT_DRINK_ES, {"gluten"}, set(), set()),          # "leche de coco" is no milk
    (DRINK_COCONUT, set(), set(), set()),              # coconut milk, cocoa butter: neither milk nor a nut
], ids=["de", "fr", "nl", "it", "hr", "es", "en-plant"])
def test_lists_and_statements_in_several_languages(lines: list[TextLine], ingredients: set[str], contains: set[str],
                                                   may_contain: set[str]) -> None:
    reading = read_label(lines)
    assert reading.ingredients
    assert {item.substance.name for item in reading.named(Where.INGREDIENTS)} == ingredients
    assert {item.substance.name for item in reading.named(Where.CONTAINS)} == contains
    assert {item.substance.name for item in reading.named(Where.MAY_CONTAIN)} == may_contain


def test_a_claim_naming_ingredients_is_no_list() -> None:
    reading = read_label(label("NO artificial ingredients", "ALWAYS whole grains, Zinc 4%, Copper 4%"))
    assert reading.ingredients == "" and reading.found == ()
    assert read_label(label("Organic wheat flour. Ingredients: oats, salt.")).ingredients == "oats, salt."


def test_an_allergen_statement_apart_from_the_list_is_read_and_other_columns_are_not() -> None:
    lines = [line("Ingredients: rice, water, salt.", 0.2, 0.05, 0.45),
             line("Serving tips: with shrimp", 0.235, 0.6, 0.95),
             line("Allergy advice: contains soy.", 0.7, 0.05, 0.45)]
    reading = read_label(lines)
    assert reading.ingredients == "rice, water, salt."
    assert not any(item.substance.name == "crustaceans" for item in reading.found)
    assert [(where, name) for where, _, _ in reading.statements for name in ["soy"]] == [(Where.CONTAINS, "soy")]
    assert {item.substance.name for item in reading.named(Where.CONTAINS)} == {"soy"}


@pytest.mark.parametrize(("question", "ask", "substances"), [
    ("is this vegan?", Ask.VEGAN, ()),
    ("Is it plant-based?", Ask.VEGAN, ()),
    ("can a vegetarian eat this?", Ask.VEGETARIAN, ()),
    ("does it contain nuts?", Ask.SUBSTANCE, ("tree nuts", "peanuts")),
    ("is there gluten in this?", Ask.SUBSTANCE, ("gluten",)),
    ("is it gluten-free?", Ask.SUBSTANCE, ("gluten",)),
    ("any dairy in here?", Ask.SUBSTANCE, ("milk",)),
    ("I'm allergic to sesame, is this ok?", Ask.SUBSTANCE, ("sesame",)),
    ("does this have peanut butter in it?", Ask.SUBSTANCE, ("peanuts",)),
    ("enthält das Milch?", Ask.SUBSTANCE, ("milk",)),
    ("what are the ingredients?", Ask.LIST, ()),
    ("what's in it?", Ask.LIST, ()),
    ("which allergens does it have?", Ask.LIST, ()),
])
def test_the_grammar_reads_what_is_asked(question: str, ask: Ask, substances: tuple[str, ...]) -> None:
    parsed = parse_question(question)
    assert parsed is not None
    assert (parsed.ask, tuple(s.name for s in parsed.substances)) == (ask, substances)


@pytest.mark.parametrize("question", ["how much protein is in this?", "what is this?", "read the text",
                                      "how do I descale this?", "which has the least sugar?", "hello"])
def test_other_questions_are_not_taken(question: str) -> None:
    assert parse_question(question) is None


def test_vegan_questions_reach_this_skill_before_the_out_of_scope_answer() -> None:
    skills = [GuardrailSkill(), NutritionSkill(), ReadTextSkill(), IngredientsSkill()]
    router = SkillRouter([*skills, ScopeSkill(skills)])
    for question in ("is this vegan?", "does it contain nuts?", "is there gluten in this?",
                     "what are the ingredients?"):
        assert router.route(question).name == "ingredients"
    assert router.route("how much protein is in this?").name == "nutrition"


async def test_not_vegan_names_the_animal_ingredients_with_their_lines_as_evidence() -> None:
    result = await ask("is this vegan?", CHOCOLATE_EN)
    assert result.answer.startswith("Not vegan by its label")
    assert '"MILK"' in result.answer and CAVEAT in result.answer
    assert any(isinstance(item, NoticeItem) and item.text == CAVEAT for item in result.items)
    grounds = [step for step in result.steps if step.kind is StepKind.GROUND]
    assert any('"MILK"' in step.text and step.evidence == (CHOCOLATE_EN[2].box,) for step in grounds)
    read = next(step for step in result.steps if step.kind is StepKind.READ)
    assert read.evidence[0] == CHOCOLATE_EN[2].box


async def test_no_animal_ingredient_is_said_as_what_the_label_lists_not_as_vegan() -> None:
    result = await ask("is this vegan?", label("Ingredienti: pomodoro, olio, sale, basilico.",
                                               "Può contenere tracce di latte e sedano."))
    assert "names none of the ingredients I know are not vegan" in result.answer
    assert "not a vegan certification" in result.answer and "it is vegan" not in result.answer.lower()
    assert result.answer.count("may contain milk.") == 1 and "celery" not in result.answer   # as such; only animal
    result = await ask("is this vegetarian?", SAUCE_IT)
    assert result.answer.startswith("Not vegetarian") and '"acciughe" (fish)' in result.answer


async def test_gelatine_and_carmine_are_not_vegetarian_but_milk_is() -> None:
    assert '"gelatine" (meat)' in (await ask("is it vegetarian?", GUMMIES)).answer
    assert '"carmine"' in (await ask("is it vegetarian?", GUMMIES)).answer
    assert "names none" in (await ask("is it vegetarian?", BISCUIT_DE)).answer
    assert (await ask("is it vegan?", BISCUIT_DE)).answer.startswith("Not vegan")


async def test_may_contain_is_said_as_such() -> None:
    result = await ask("does it contain sesame?", BISCUIT_DE)
    assert "may contain sesame (traces, not as an ingredient)" in result.answer
    assert not result.answer.startswith("Yes")
    result = await ask("does it contain nuts?", CHOCOLATE_EN)
    assert result.answer.startswith('Yes: the ingredient list names "HAZELNUTS" (tree nuts)')
    assert "may contain peanuts" in result.answer


async def test_a_substance_not_named_is_not_promised_absent() -> None:
    result = await ask("is there egg in this?", SNACK_HR)
    assert "no egg" in result.answer and "not a promise" in result.answer and CAVEAT in result.answer


async def test_listing_the_ingredients_and_statements() -> None:
    result = await ask("what are the ingredients?", CRACKER_FR)
    assert 'farine de blé, huile de tournesol, sel, levure' in result.answer
    assert "It says it contains gluten." in result.answer
    assert "may contain milk, egg, sesame" in result.answer


async def test_no_list_in_view_is_said_and_not_guessed() -> None:
    result = await ask("is this vegan?", [line("Nutrition Facts", 0.1), line("Protein 3 g", 0.15)])
    assert result.answer.startswith("I can't see an ingredient list") and result.confidence == 0.0
    assert not result.items


@pytest.mark.slow
async def test_a_real_photographed_ingredient_list(shared_data: Path, real_ocr: OcrPool) -> None:
    # A carton of thickening powder: its ingredient list is maltodextrin, carob bean gum and three minerals
    # (manifest: "ingredients maltodextrin + carob bean gum"), printed under a nutrition table.
    image = cv2.imread(str(shared_data / "nutrition_labels/off_9001375996494_1.jpg"))
    listing = await IngredientsSkill().answer(SkillContext("what are the ingredients?", Mode.INSTANT, image, 1,
                                                           real_ocr))
    assert "maltodextrin, carob bean gum" in listing.answer.lower()
    assert "storage" not in listing.answer.lower() and "protein" not in listing.answer.lower()
    read = next(step for step in listing.steps if step.kind is StepKind.READ)
    assert read.evidence and all(0.3 < box.y0 < 0.95 and box.x0 < box.x1 for box in read.evidence)
    vegan = await IngredientsSkill().answer(SkillContext("is this vegan?", Mode.INSTANT, image, 1, real_ocr))
    assert "names none" in vegan.answer and CAVEAT in vegan.answer   # the table's "lactose" row is no ingredient


@pytest.mark.slow
async def test_a_real_tofu_label_names_its_soya_on_the_line_it_is_printed(shared_data: Path, real_ocr: OcrPool) -> None:
    # SUZU tofu (manifest: French label, a nutrition table below the list): "Ingrédients : Eau (64%), soja
    # français ... (33%). nigari : coagulant naturel (3%)."
    image = cv2.imread(str(shared_data / "nutrition_labels/off_3770007136121_1.jpg"))
    result = await IngredientsSkill().answer(SkillContext("does it contain soy?", Mode.INSTANT, image, 1, real_ocr))
    assert result.answer.startswith('Yes: the ingredient list names "soja" (soy)')
    ground = next(step for step in result.steps if step.kind is StepKind.GROUND)
    assert len(ground.evidence) == 1 and 0.3 < ground.evidence[0].x0 < ground.evidence[0].x1 < 0.8
    listing = await IngredientsSkill().answer(SkillContext("what are the ingredients?", Mode.INSTANT, image, 1,
                                                           real_ocr))
    assert "nigari" in listing.answer and "VALEURS" not in listing.answer and "kcal" not in listing.answer


@pytest.mark.slow
async def test_a_real_label_on_its_side_is_read_turned_upright(shared_data: Path, real_ocr: OcrPool) -> None:
    # A milk-chocolate figure's sticker photographed a quarter turn round (manifest: "image ROTATED 90 degrees"):
    # "... Peut contenir des traces d'oeufs, de gluten, d'arachides, de graines de sésame et de fruits à coques."
    image = cv2.imread(str(shared_data / "nutrition_labels/off_2509757363133_2.jpg"))
    result = await IngredientsSkill().answer(SkillContext("does it contain nuts?", Mode.INSTANT, image, 1, real_ocr))
    assert "may contain peanuts, tree nuts (traces, not as an ingredient)" in result.answer
    assert "read turned upright" in result.steps[0].text
    grounds = [step for step in result.steps if step.kind is StepKind.GROUND]
    assert grounds and all(len(step.evidence) == 1 for step in grounds)
    # Boxes are placed back on the photo as taken: the sideways rows are tall and narrow there.
    assert all(box.y1 - box.y0 > box.x1 - box.x0 for step in grounds for box in step.evidence)
    vegan = await IngredientsSkill().answer(SkillContext("is it vegan?", Mode.INSTANT, image, 1, real_ocr))
    assert vegan.answer.startswith("Not vegan by its label") and "(milk)" in vegan.answer
    assert "cacao" not in vegan.answer.split("Check")[0]   # cocoa butter is no milk


def test_a_box_read_on_a_turned_image_is_placed_back_on_the_photo() -> None:
    import cv2 as opencv

    from eyeline.cloud.skills.ingredients.upright import box_back, on_its_side

    # A row across the top of the image turned clockwise was, in the photo, a column down its left side.
    def back(turn: int) -> tuple[float, ...]:
        box = box_back(NormBox(0.1, 0.0, 0.9, 0.1), turn)
        return (box.x0, box.y0, box.x1, box.y1)

    assert back(opencv.ROTATE_90_CLOCKWISE) == pytest.approx((0.0, 0.1, 0.1, 0.9))
    assert back(opencv.ROTATE_90_COUNTERCLOCKWISE) == pytest.approx((0.9, 0.1, 1.0, 0.9))
    sideways = [TextLine("Ingredients sugar", 0.9, NormBox(0.1, 0.1, 0.14, 0.9), ((0, 0), (0, 0), (0, 0), (0, 0)))]
    assert on_its_side(tuple(sideways)) and not on_its_side(tuple(CHOCOLATE_EN))
