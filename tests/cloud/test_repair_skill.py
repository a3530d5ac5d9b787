"""The repair skill on the rendered espresso machine: recognition, arrows onto the exact component, and moving
through the kit with "next", "back", "repeat" and done-cues, with the session's memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eyeline.cloud.knowledge import demo_pack
from eyeline.cloud.knowledge.schema import RepairKit
from eyeline.cloud.model import (
    ArrowItem,
    Image,
    Mode,
    NormBox,
    NoticeItem,
    OutlineItem,
    SkillResult,
    StepCardItem,
    StepKind,
)
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import SkillContext, SkillRouter
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.cloud.skills.repair import RepairProgress, RepairSkill, command_of, moved, step_asked
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.devices.espresso import BRAND_TEXT, EspressoTruth, make_espresso_scene, render_espresso_frame
from eyeline.devices.synthetic import FrameEffects

DIAGONAL_SHARE = 0.05   # an arrow's head must land this close (share of the image diagonal) to its component


def line(text: str) -> TextLine:
    box = NormBox(0.4, 0.2, 0.6, 0.25)
    return TextLine(text=text, score=0.95, box=box, quad=((0.4, 0.2), (0.6, 0.2), (0.6, 0.25), (0.4, 0.25)))


class FakeReader:
    """Stands in for OCR: reports the lines a test says are printed in view."""

    def __init__(self, *texts: str) -> None:
        self.lines = tuple(line(text) for text in texts)

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self.lines


@pytest.fixture(scope="module")
def kit() -> RepairKit:
    espresso = next(kit for kit in demo_pack().kits if kit.id == "eyeline-barista-clean")
    return espresso


@pytest.fixture(scope="module")
def skill(kit: RepairKit) -> RepairSkill:
    return RepairSkill([kit])


async def ask(skill: RepairSkill, question: str, image: Image, state: dict[str, object],
              *texts: str) -> SkillResult:
    reader = FakeReader(*texts) if texts else FakeReader(BRAND_TEXT)
    ctx = SkillContext(question=question, mode=Mode.INSTANT, image=image, frame_seq=0, ocr=reader, state=state)
    return await skill.answer(ctx)


def card(result: SkillResult) -> StepCardItem:
    (found,) = [item for item in result.items if isinstance(item, StepCardItem)]
    return found


def arrow_error(result: SkillResult, truth: EspressoTruth, size: tuple[int, int]) -> float:
    """Distance from the arrow's head to the true centre of the component it names, as a share of the diagonal."""
    (arrow,) = [item for item in result.items if isinstance(item, ArrowItem)]
    component = truth.component(arrow.id.removeprefix("arrow-"))
    width, height = size
    dx, dy = arrow.head[0] * width - component.center[0], arrow.head[1] * height - component.center[1]
    return math.hypot(dx, dy) / math.hypot(width, height)


def test_commands_are_read_from_the_question() -> None:
    assert [command_of(q) for q in ("next", "ok, next step", "go back", "repeat that", "start over",
                                    "how do I clean this espresso machine?")] == [
        "next", "next", "back", "repeat", "restart", ""]


async def test_a_named_step_is_shown_directly_with_its_arrow(skill: RepairSkill, kit: RepairKit) -> None:
    assert step_asked("show me step 5") == 5 and step_asked("next") is None
    image, truth = render_espresso_frame(make_espresso_scene(seed=3), 0.8)
    result = await ask(skill, "show me step 5", image, {})
    assert card(result).step == 5 and card(result).target_item_id == f"arrow-{kit.steps[4].target}"
    assert arrow_error(result, truth, (1280, 720)) < DIAGONAL_SHARE


def test_moving_stops_at_the_first_step_and_one_past_the_last() -> None:
    assert moved(RepairProgress("k", 0), "back", 7).step == 0
    assert moved(RepairProgress("k", 6), "next", 7).step == 7
    assert moved(RepairProgress("k", 7), "next", 7).step == 7
    assert moved(RepairProgress("k", 4), "restart", 7).step == 0


def test_repair_questions_reach_the_repair_skill(skill: RepairSkill) -> None:
    router = SkillRouter([ProteinRankingSkill(), ReadTextSkill(), skill])
    for question in ("how do I clean this espresso machine?", "next", "back", "repeat", "where is the steam wand?"):
        assert router.route(question).name == "repair", question
    assert router.route("read the label").name == "read"
    assert not skill.matches("what is written on the back of this pack of biscuits?")


@pytest.mark.parametrize(("t_s", "effects"), [
    (0.0, FrameEffects()),
    (1.7, FrameEffects(perspective_deg=25.0, zoom=0.75)),
    (3.1, FrameEffects(blur_sigma=1.5, glare=0.5)),
    (2.4, FrameEffects(zoom=1.25)),
])
async def test_the_arrow_lands_on_the_true_component_under_head_motion_and_effects(
        skill: RepairSkill, kit: RepairKit, t_s: float, effects: FrameEffects) -> None:
    image, truth = render_espresso_frame(make_espresso_scene(seed=5), t_s, effects=effects)
    result = await ask(skill, "how do I clean this espresso machine?", image, {})
    assert card(result).step == 1 and card(result).total == len(kit.steps)
    assert card(result).target_item_id == f"arrow-{kit.steps[0].target}"
    assert arrow_error(result, truth, (1280, 720)) < DIAGONAL_SHARE / 5


async def test_next_back_and_repeat_walk_the_kit_and_each_arrow_follows_its_step(
        skill: RepairSkill, kit: RepairKit) -> None:
    scene, state = make_espresso_scene(seed=2), {}
    seen: list[tuple[int, str]] = []
    for index, question in enumerate(("how do I clean it?", "next", "next", "back", "repeat", "next", "next")):
        image, truth = render_espresso_frame(scene, 0.4 * index)
        result = await ask(skill, question, image, state)
        step = card(result).step
        target = kit.steps[step - 1].target
        assert arrow_error(result, truth, (1280, 720)) < DIAGONAL_SHARE
        assert any(isinstance(item, OutlineItem) and item.id == f"outline-{target}" for item in result.items)
        seen.append((step, target))
    assert [step for step, _ in seen] == [1, 2, 3, 2, 2, 3, 4]
    assert seen[-1][1] == "water_tank"


async def test_safety_warnings_come_with_the_first_step_only(skill: RepairSkill, kit: RepairKit) -> None:
    image, _ = render_espresso_frame(make_espresso_scene(), 0.0)
    state: dict[str, object] = {}
    first = await ask(skill, "how do I clean this machine?", image, state)
    second = await ask(skill, "next", image, state)
    assert all(warning in card(first).warning for warning in kit.safety)
    assert not any(warning in card(second).warning for warning in kit.safety)
    assert "Warning:" in first.answer


async def test_a_done_cue_in_view_moves_on_by_itself(skill: RepairSkill, kit: RepairKit) -> None:
    tank = next(index for index, step in enumerate(kit.steps) if step.done_cue)
    state: dict[str, object] = {skill.name: RepairProgress(kit.id, tank)}
    image, truth = render_espresso_frame(make_espresso_scene(display_text=kit.steps[tank].done_cue), 0.0)
    result = await ask(skill, "what now?", image, state, BRAND_TEXT, kit.steps[tank].done_cue)
    assert card(result).step == tank + 2
    assert any(step.kind is StepKind.VERIFY and "done-cue" in step.text for step in result.steps)
    assert arrow_error(result, truth, (1280, 720)) < DIAGONAL_SHARE


async def test_without_the_done_cue_the_step_stays(skill: RepairSkill, kit: RepairKit) -> None:
    tank = next(index for index, step in enumerate(kit.steps) if step.done_cue)
    state: dict[str, object] = {skill.name: RepairProgress(kit.id, tank)}
    image, _ = render_espresso_frame(make_espresso_scene(), 0.0)
    result = await ask(skill, "what now?", image, state)
    assert card(result).step == tank + 1


async def test_after_the_last_step_it_says_all_are_done(skill: RepairSkill, kit: RepairKit) -> None:
    state: dict[str, object] = {skill.name: RepairProgress(kit.id, len(kit.steps) - 1)}
    image, _ = render_espresso_frame(make_espresso_scene(), 0.0)
    result = await ask(skill, "next", image, state)
    assert f"All {len(kit.steps)} steps" in result.answer
    assert [type(item) for item in result.items] == [NoticeItem]


async def test_no_machine_in_view_is_said_plainly(skill: RepairSkill) -> None:
    blank = np.full((720, 1280, 3), 200, np.uint8)
    result = await ask(skill, "how do I clean this espresso machine?", blank, {}, "Nutrition Facts")
    assert "don't see a machine" in result.answer
    assert not any(isinstance(item, (ArrowItem, StepCardItem)) for item in result.items)


async def test_cues_read_but_machine_not_registered_gives_the_step_without_an_arrow(skill: RepairSkill) -> None:
    blank = np.full((720, 1280, 3), 200, np.uint8)
    result = await ask(skill, "how do I clean this espresso machine?", blank, {}, "EYELINE BARlSTA")
    assert card(result).step == 1 and card(result).target_item_id == ""
    assert not any(isinstance(item, ArrowItem) for item in result.items)
    assert "can't see it right now" in result.answer
