"""The read skill: text in reading order (one label at a time), boxes on what it read, unsure lines left out."""

from __future__ import annotations

import numpy as np
import pytest

from eyeline.cloud.model import BoxItem, Image, Mode, NormBox
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext, SkillRouter
from eyeline.cloud.skills.read import ReadTextSkill, reading_order
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame


def line(text: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.95) -> TextLine:
    return TextLine(text=text, score=score, box=NormBox(x0, y0, x1, y1), quad=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


class FakeReader:
    def __init__(self, lines: tuple[TextLine, ...]) -> None:
        self.lines = lines

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self.lines


def context(question: str, reader: object, image: Image | None = None) -> SkillContext:
    frame = image if image is not None else np.zeros((720, 1280, 3), np.uint8)
    return SkillContext(question=question, mode=Mode.INSTANT, image=frame, frame_seq=0, ocr=reader)  # type: ignore[arg-type]


TWO_LABELS = (
    # right-hand package first, and each row of the left one split into words, as a detector returns them
    line("Vita", 0.60, 0.20, 0.70, 0.25), line("Whey Wafer", 0.58, 0.26, 0.74, 0.31),
    line("Protein 12g", 0.60, 0.40, 0.72, 0.43),
    line("Peak", 0.10, 0.20, 0.20, 0.25), line("Bar", 0.185, 0.26, 0.24, 0.31), line("Protein", 0.08, 0.26, 0.18, 0.31),
    line("Protein 20g", 0.10, 0.40, 0.22, 0.43),
)


def test_reading_order_reads_one_label_at_a_time_left_to_right() -> None:
    ordered = [item.text for item in reading_order(TWO_LABELS)]
    assert ordered == ["Peak", "Protein", "Bar", "Protein 20g", "Vita", "Whey Wafer", "Protein 12g"]


def test_a_heading_above_two_columns_is_read_first() -> None:
    lines = (line("left column", 0.05, 0.30, 0.40, 0.34), line("right column", 0.55, 0.30, 0.90, 0.34),
             line("SHELF TITLE", 0.30, 0.05, 0.70, 0.12))
    assert [item.text for item in reading_order(lines)] == ["SHELF TITLE", "left column", "right column"]


@pytest.mark.parametrize("question", ["read this", "Read the label to me", "what does the label say?",
                                      "what is written here", "what's on this sign?"])
def test_reading_questions_reach_the_read_skill(question: str) -> None:
    router = SkillRouter([ProteinRankingSkill(), ReadTextSkill()])
    assert router.route(question).name == "read"


@pytest.mark.parametrize("question", ["which has the most protein?", "what is the next step?", "bread or rice?"])
def test_other_questions_do_not(question: str) -> None:
    assert not ReadTextSkill().matches(question)


async def test_the_answer_lists_the_lines_and_boxes_each_in_order() -> None:
    result = await ReadTextSkill().answer(context("read this", FakeReader(TWO_LABELS)))
    assert result.answer.splitlines() == ["Peak", "Protein", "Bar", "Protein 20g", "Vita", "Whey Wafer", "Protein 12g"]
    boxes = [item for item in result.items if isinstance(item, BoxItem)]
    assert [item.caption for item in boxes] == [str(n) for n in range(1, 8)]
    assert boxes[0].box == TWO_LABELS[3].box and boxes[-1].box == TWO_LABELS[2].box
    assert [step.agent for step in result.steps] == ["reader"] * 3


async def test_unsure_lines_are_left_out_and_counted() -> None:
    lines = (line("Peak", 0.1, 0.2, 0.2, 0.25), line("Pr0t3!n", 0.1, 0.3, 0.2, 0.33, score=0.3))
    result = await ReadTextSkill().answer(context("read this", FakeReader(lines)))
    assert result.answer == "Peak"
    assert "1 too unsure" in result.steps[1].text


async def test_no_text_says_so_rather_than_inventing_any() -> None:
    result = await ReadTextSkill().answer(context("read this", FakeReader(())))
    assert "can't see any text" in result.answer and result.items == ()


@pytest.mark.slow
async def test_a_rendered_shelf_is_read_package_by_package(real_ocr: OcrPool) -> None:
    scene = make_shelf_scene(seed=2, n_products=3)
    image, _ = render_shelf_frame(scene, 0.0)
    result = await ReadTextSkill().answer(context("read the labels", real_ocr, image))
    text = result.answer.lower()
    positions = [text.find(product.name.lower()) for product in scene.products]
    assert all(position >= 0 for position in positions), result.answer
    assert positions == sorted(positions)   # left package read out before the next one
    assert len(result.items) == len(result.answer.splitlines())
