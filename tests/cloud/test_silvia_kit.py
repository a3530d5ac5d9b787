"""The Rancilio Silvia kit on real photos (../shared/data/espresso): the question picks the right procedure,
the arrows land on the parts (boxes annotated by hand below), and a machine without a kit (a Lelit) gets an
honest "no guide for this model", never the Silvia's steps. OCR is the real PP-OCR, read once per photo."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.knowledge import demo_pack
from eyeline.cloud.knowledge.schema import RepairKit
from eyeline.cloud.model import ArrowItem, Image, Mode, NormBox, SkillResult, StepCardItem, StepKind
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext, SkillRouter
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.identity.catalog import CatalogLookup
from eyeline.cloud.skills.ingredients.skill import IngredientsSkill
from eyeline.cloud.skills.nutrition.skill import NutritionSkill
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.cloud.skills.repair import RepairSkill, command_of
from eyeline.cloud.skills.repair_asks import procedure_asked
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill

FRONT = "clevercoffee_IMG_20210408_145907-720x720.jpg"      # black Silvia, head on
FULL = "clevercoffee_2021-04-08-02.39.46-1.jpg"             # the same machine from the front left, tall photo
SILVIA_E = "clevercoffee_Silvia-E-18-360x360.jpg"           # a steel Silvia E close up, badge at the top edge
LELIT = "clevercoffee_lelit_IMG_1452.jpeg"                  # a Lelit PL41EM from above: not a Silvia
CLOSE_UP = "clevercoffee_Frontblech-abschrauben.jpeg"       # a Silvia's group and front screw close up: no badge
SILVIAS = (FRONT, FULL, SILVIA_E)

# Pixel boxes annotated by eye on each photo: ground truth for where an arrow must point.
GROUP_HEAD = {FRONT: (295, 350, 405, 425), FULL: (440, 960, 650, 1130), SILVIA_E: (70, 150, 200, 230)}
STEAM_KNOB = {FRONT: (450, 230, 535, 315), FULL: (895, 715, 1045, 895), SILVIA_E: (280, 75, 350, 145)}

QUESTIONS = {
    "how do I descale this?": "descale",
    "how do I backflush it?": "backflush",
    "the gasket leaks, how do I change it?": "gasket",
    "how do I take the top off?": "top_cover",
}


class Lines:
    """OCR lines read once from a photo by the real engine, handed to the skill as its reader."""

    def __init__(self, lines: tuple[TextLine, ...]) -> None:
        self.lines = lines

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self.lines


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> Iterator[dict[str, tuple[Image, Lines]]]:
    pool = OcrPool(workers=1)
    read: dict[str, tuple[Image, Lines]] = {}
    for name in (*SILVIAS, LELIT, CLOSE_UP):
        image = cv2.imread(str(shared_data / "espresso" / name))
        assert image is not None, name
        read[name] = (image, Lines(asyncio.run(pool.read(image))))
    yield read
    pool.close()


@pytest.fixture(scope="module")
def silvia() -> RepairKit:
    return next(kit for kit in demo_pack().kits if kit.id == "rancilio-silvia")


@pytest.fixture(scope="module")
def skill() -> RepairSkill:
    return RepairSkill(demo_pack().kits)


async def ask(skill: RepairSkill, photo: tuple[Image, Lines], question: str,
              state: dict[str, object]) -> SkillResult:
    image, lines = photo
    return await skill.answer(SkillContext(question=question, mode=Mode.INSTANT, image=image, frame_seq=0,
                                           ocr=lines, state=state))


def card(result: SkillResult) -> StepCardItem:
    (found,) = [item for item in result.items if isinstance(item, StepCardItem)]
    return found


def arrow(result: SkillResult) -> ArrowItem:
    (found,) = [item for item in result.items if isinstance(item, ArrowItem)]
    return found


def inside(point: tuple[float, float], image: Image, box: tuple[int, int, int, int]) -> bool:
    height, width = image.shape[:2]
    x, y = point[0] * width, point[1] * height
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


async def walk_to(skill: RepairSkill, photo: tuple[Image, Lines], question: str, step: int) -> SkillResult:
    state: dict[str, object] = {}
    result = await ask(skill, photo, question, state)
    for _ in range(step - 1):
        result = await ask(skill, photo, "next", state)
    return result


# ------------------------------------------------------------------ the questions, phrased in many ways


@pytest.mark.parametrize(("question", "procedure"), [
    *QUESTIONS.items(),
    ("it needs descaling", "descale"), ("how do I get the limescale out?", "descale"),
    ("how do I back flush the machine?", "backflush"), ("clean the group head please", "backflush"),
    ("the group seal is leaking", "gasket"), ("water drips round the portafilter", "gasket"),
    ("how do I replace the shower screen?", "gasket"), ("how do I take the front panel off?", "front_panel"),
    ("how do I open the machine?", "top_cover"), ("remove the cup tray", "top_cover"),
])
def test_each_phrasing_asks_for_its_procedure(silvia: RepairKit, question: str, procedure: str) -> None:
    found = procedure_asked(silvia, question)
    assert found is not None and found.id == procedure


def test_a_question_about_something_else_asks_for_no_procedure(silvia: RepairKit) -> None:
    for question in ("which of these has the most protein?", "what does the label say?", "is this vegan?"):
        assert procedure_asked(silvia, question) is None


def test_the_router_sends_each_question_to_the_repair_skill(skill: RepairSkill) -> None:
    products = demo_pack().products
    # The cloud's skills in the cloud's order (cloud/app.py): none before repair takes these questions.
    router = SkillRouter([GuardrailSkill(), ProteinRankingSkill(products),
                          NutritionSkill(catalog=CatalogLookup(products)), ReadTextSkill(), skill, IngredientsSkill()])
    for question in (*QUESTIONS, "how do I back flush the machine?", "the group seal is leaking",
                     "how do I take the front panel off?", "remove the cup tray"):
        assert router.route(question) is skill, question
    assert router.route("what does the label on the top say?") is not skill


# ------------------------------------------------------------------ real Silvia photos


@pytest.mark.parametrize("name", SILVIAS)
async def test_each_question_on_a_real_silvia_gets_that_procedure(
        skill: RepairSkill, silvia: RepairKit, photos: dict[str, tuple[Image, Lines]], name: str) -> None:
    for question, procedure_id in QUESTIONS.items():
        result = await ask(skill, photos[name], question, {})
        procedure = silvia.procedure(procedure_id)
        assert result.answer.startswith(f"{procedure.name} (Rancilio Silvia), step 1 of {len(procedure.steps)}")
        found = card(result)
        assert (found.step, found.total, found.instruction) == (1, len(procedure.steps),
                                                                 procedure.steps[0].instruction)
        assert "Unplug the machine" in found.warning        # the kit's safety notes come with the first step
        grounded = [step for step in result.steps if step.kind is StepKind.GROUND]
        assert grounded and "RANCILIO" in grounded[0].text
        # The badge could be on another Rancilio: the steam knob where a Silvia has one says it is this model.
        assert any(step.text.startswith("steam knob found where the Rancilio Silvia's layout puts it")
                   for step in result.steps)


@pytest.mark.parametrize("name", SILVIAS)
@pytest.mark.parametrize(("question", "step"), [("how do I backflush it?", 2), ("how do I descale this?", 3),
                                                ("the gasket leaks, how do I change it?", 3)])
async def test_the_group_head_arrow_lands_on_the_group_head(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]], name: str, question: str, step: int) -> None:
    result = await walk_to(skill, photos[name], question, step)
    assert card(result).step == step
    pointed = arrow(result)
    assert pointed.id == "arrow-group_head" and card(result).target_item_id == pointed.id
    assert inside(pointed.head, photos[name][0], GROUP_HEAD[name]), (name, pointed.head)
    # Placed from the badge, not detected: the trace says so, at a lowered confidence.
    verify = [s for s in result.steps if s.kind is StepKind.VERIFY and "group head" in s.text]
    assert verify and "inferred from the badge layout" in verify[-1].text and verify[-1].confidence < 0.5


@pytest.mark.parametrize("name", SILVIAS)
async def test_the_steam_knob_is_found_as_a_circle_and_pointed_at(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]], name: str) -> None:
    result = await walk_to(skill, photos[name], "how do I descale this?", 4)
    pointed = arrow(result)
    assert pointed.id == "arrow-steam_knob"
    assert inside(pointed.head, photos[name][0], STEAM_KNOB[name]), (name, pointed.head)
    verify = [s for s in result.steps if s.kind is StepKind.VERIFY and "steam knob" in s.text]
    assert verify and "found by a circle search" in verify[-1].text


async def test_moving_through_a_procedure_and_switching_to_another(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]]) -> None:
    state: dict[str, object] = {}
    assert card(await ask(skill, photos[FRONT], "how do I backflush it?", state)).step == 1
    assert card(await ask(skill, photos[FRONT], "next", state)).step == 2
    assert card(await ask(skill, photos[FRONT], "back", state)).step == 1
    switched = await ask(skill, photos[FRONT], "how do I descale this?", state)
    assert switched.answer.startswith("Descaling (Rancilio Silvia), step 1 of")
    # "back flush" names a procedure: it starts that procedure rather than stepping back.
    assert command_of("how do I back flush it?") == "back"
    again = await ask(skill, photos[FRONT], "how do I back flush it?", state)
    assert again.answer.startswith("Backflushing") and card(again).step == 1


async def test_a_silvia_question_naming_no_procedure_lists_the_guides(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]]) -> None:
    result = await ask(skill, photos[FRONT], "how do I repair this machine?", {})
    assert result.answer.startswith("This is a Rancilio Silvia. I have guides for: descaling")
    assert not [item for item in result.items if isinstance(item, StepCardItem)]


# ------------------------------------------------------------------ a machine without a kit


async def test_the_lelit_is_not_taken_for_a_silvia(skill: RepairSkill,
                                                   photos: dict[str, tuple[Image, Lines]]) -> None:
    for question in QUESTIONS:
        result = await ask(skill, photos[LELIT], question, {})
        assert "(Rancilio Silvia), step" not in result.answer
        assert not [item for item in result.items if isinstance(item, StepCardItem | ArrowItem)]
        assert result.answer.startswith("I don't see a machine I have a repair guide for")


async def test_a_badge_of_a_maker_without_a_kit_gets_no_guide_for_this_model(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]]) -> None:
    image, _ = photos[LELIT]
    box = NormBox(0.4, 0.4, 0.6, 0.45)
    badge = Lines((TextLine("LELIT", 0.95, box, ((0.4, 0.4), (0.6, 0.4), (0.6, 0.45), (0.4, 0.45))),))
    result = await ask(skill, (image, badge), "how do I descale this?", {})
    assert result.answer.startswith("I recognise a Lelit espresso machine, but I have no guide for this model")
    assert not [item for item in result.items if isinstance(item, StepCardItem)]


async def test_a_rancilio_badge_without_a_knob_where_the_silvia_has_one_is_said_to_rest_on_text_alone(
        skill: RepairSkill) -> None:
    # A RANCILIO badge on a plain panel (a grinder of the same maker, say): the kit still answers, read from
    # the badge, but the trace says no part confirmed the model.
    image = np.full((480, 640, 3), 90, np.uint8)
    box = NormBox(0.6, 0.1, 0.8, 0.14)
    badge = Lines((TextLine("RANCILIO", 0.95, box, ((0.6, 0.1), (0.8, 0.1), (0.8, 0.14), (0.6, 0.14))),))
    result = await ask(skill, (image, badge), "how do I descale this?", {})
    assert result.answer.startswith("Descaling (Rancilio Silvia)")
    checked = [s for s in result.steps if "the model rests on its text alone" in s.text]
    assert checked and checked[0].text.startswith("steam knob not found") and checked[0].confidence == 0.0


async def test_a_close_up_without_the_badge_continues_the_session_but_points_at_nothing(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]]) -> None:
    fresh = await ask(skill, photos[CLOSE_UP], "how do I backflush it?", {})
    assert fresh.answer.startswith("I don't see a machine I have a repair guide for")
    state: dict[str, object] = {}
    await ask(skill, photos[FRONT], "how do I backflush it?", state)
    closer = await ask(skill, photos[CLOSE_UP], "next", state)
    assert card(closer).step == 2 and closer.answer.startswith("Backflushing")
    assert not [item for item in closer.items if isinstance(item, ArrowItem)]
    assert "I can't see it right now" in closer.answer
    grounded = [step for step in closer.steps if step.kind is StepKind.GROUND]
    assert "recognised earlier in this session, not verified in this frame" in grounded[-1].text


async def test_a_close_up_of_a_machine_the_wearer_names_gets_its_steps_without_arrows(
        skill: RepairSkill, photos: dict[str, tuple[Image, Lines]]) -> None:
    result = await ask(skill, photos[CLOSE_UP], "how do I descale my Silvia?", {})
    assert result.answer.startswith("Descaling (Rancilio Silvia), step 1 of 6")
    assert not [item for item in result.items if isinstance(item, ArrowItem)]
    assert any("named in the question, not read in this view" in step.text for step in result.steps)
