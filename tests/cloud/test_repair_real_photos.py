"""A repair kit cut from a real espresso-machine photo registers onto a warped copy and onto another photo of
the same machine, and the repair skill's arrow lands on the named component there."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.knowledge import load_pack
from eyeline.cloud.model import ArrowItem, Image, Mode, NormBox, StepCardItem
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.repair import RepairSkill

FRONT = "espresso/clevercoffee_IMG_20210408_145907-720x720.jpg"    # 720 x 720, head on
FULL = "espresso/clevercoffee_2021-04-08-02.39.46-1.jpg"           # 1184 x 1776, the same machine from the side
PANEL = (210, 105, 600, 325)        # the flat upper front panel in FRONT: switches, gauge switch, badge, knob
# Pixel centres in FRONT, and where the same parts are in FULL (read off the photos by eye).
SWITCHES_FRONT, SWITCHES_FULL = (266.0, 210.0), (560.0, 704.0)
BADGE_FRONT, BADGE_FULL = (472.0, 161.0), (914.0, 600.0)


class CueReader:
    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        box = NormBox(0.6, 0.3, 0.8, 0.35)
        return (TextLine("RANCILIO", 0.9, box, ((0.6, 0.3), (0.8, 0.3), (0.8, 0.35), (0.6, 0.35))),)


def _region(centre: tuple[float, float], half: tuple[float, float]) -> list[float]:
    x0, y0, x1, y1 = PANEL
    w, h = x1 - x0, y1 - y0
    return [round((centre[0] - half[0] - x0) / w, 4), round((centre[1] - half[1] - y0) / h, 4),
            round((centre[0] + half[0] - x0) / w, 4), round((centre[1] + half[1] - y0) / h, 4)]


@pytest.fixture
def silvia_kit(shared_data: Path, tmp_path: Path) -> Path:
    front = cv2.imread(str(shared_data / FRONT))
    x0, y0, x1, y1 = PANEL
    cv2.imwrite(str(tmp_path / "silvia_panel.png"), front[y0:y1, x0:x1])
    kit = {
        "kind": "repair_kit", "version": 1, "id": "silvia-switch-off", "machine": "Rancilio Silvia",
        "text_cues": ["RANCILIO"], "reference_images": ["silvia_panel.png"],
        "components": [{"id": "switches", "name": "brew switches", "region": _region(SWITCHES_FRONT, (18, 78))},
                       {"id": "badge", "name": "badge", "region": _region(BADGE_FRONT, (55, 16))}],
        "steps": [{"instruction": "Switch the machine off at the top switch.", "target": "switches"},
                  {"instruction": "Check the model on the badge.", "target": "badge"}],
        "safety": ["Unplug the machine before opening it."],
    }
    (tmp_path / "silvia.json").write_text(json.dumps(kit))
    return tmp_path


async def _arrow(skill: RepairSkill, image: Image, question: str, state: dict[str, object]) -> tuple[ArrowItem, int]:
    ctx = SkillContext(question=question, mode=Mode.INSTANT, image=image, frame_seq=0, ocr=CueReader(), state=state)
    result = await skill.answer(ctx)
    (arrow,) = [item for item in result.items if isinstance(item, ArrowItem)]
    (card,) = [item for item in result.items if isinstance(item, StepCardItem)]
    return arrow, card.step


def _error(arrow: ArrowItem, image: Image, expected: tuple[float, float]) -> float:
    height, width = image.shape[:2]
    return math.hypot(arrow.head[0] * width - expected[0], arrow.head[1] * height - expected[1]) / math.hypot(
        width, height)


async def test_the_kit_registers_onto_a_perspective_warped_copy_exactly(shared_data: Path, silvia_kit: Path) -> None:
    front = cv2.imread(str(shared_data / FRONT))
    warp = np.array([[0.9, 0.12, 40.0], [-0.08, 1.0, 30.0], [0.0002, 0.0003, 1.0]])
    warped = np.ascontiguousarray(cv2.warpPerspective(front, warp, (720, 720)))
    expected = cv2.perspectiveTransform(np.array([[SWITCHES_FRONT]], np.float64), warp)[0, 0]
    skill = RepairSkill(load_pack(silvia_kit).kits)
    arrow, step = await _arrow(skill, warped, "how do I switch this machine off?", {})
    assert step == 1
    assert _error(arrow, warped, (float(expected[0]), float(expected[1]))) < 0.01


async def test_the_kit_registers_onto_another_photo_of_the_machine(shared_data: Path, silvia_kit: Path) -> None:
    full = cv2.imread(str(shared_data / FULL))
    skill = RepairSkill(load_pack(silvia_kit).kits)
    state: dict[str, object] = {}
    arrow, step = await _arrow(skill, full, "how do I switch this machine off?", state)
    assert step == 1 and _error(arrow, full, SWITCHES_FULL) < 0.05
    arrow, step = await _arrow(skill, full, "next", state)
    assert step == 2 and _error(arrow, full, BADGE_FULL) < 0.05
