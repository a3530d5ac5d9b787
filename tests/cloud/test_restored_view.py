"""The restored view Thinking and Contemplating read: a tilted or small shelf that Instant cannot name, read
right once turned upright or enlarged, with the real OCR; and the restoration's own geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eyeline.cloud.knowledge import demo_pack
from eyeline.cloud.model import BadgeItem, Mode, NormBox, SkillResult
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.perception.restore import restore, text_tilt_deg
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.passes import ShelfPasses
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.devices.degrade import Degradation, degrade
from eyeline.devices.synthetic import ShelfTruth, make_shelf_scene, render_shelf_frame
from eyeline.tools.evalset import shelf_cases

QUESTION = "which of these has the most protein?"


def degraded_shelf(index: int, kind: Degradation, severity: int) -> tuple[np.ndarray, ShelfTruth]:
    case = shelf_cases(index + 1)[index]
    image, truth = render_shelf_frame(make_shelf_scene(case.seed, case.n_products, case.layouts), case.t_s)
    return degrade(image, kind, severity, case.seed), truth


async def answer(image: np.ndarray, mode: Mode, ocr: OcrPool) -> SkillResult:
    pack = demo_pack()
    skill = ProteinRankingSkill(pack.products, passes=ShelfPasses(pack.products, ocr))
    ctx = SkillContext(question=QUESTION, mode=mode, image=image, frame_seq=1, ocr=ocr)
    answers = [result async for result in Planner().answers(skill, ctx)]
    return answers[-1]


async def test_thinking_names_the_best_product_on_a_tilted_shelf_instant_could_not(real_ocr: OcrPool) -> None:
    image, truth = degraded_shelf(4, Degradation.ROTATED, 2)
    best = truth.best_product()
    instant = await answer(image, Mode.INSTANT, real_ocr)
    assert not instant.answer.startswith(best.display_name)
    assert instant.confidence < 0.9          # the planner may look again: its first place has no name
    thinking = await answer(image, Mode.THINKING, real_ocr)
    assert thinking.answer.startswith(best.display_name)
    assert any(step.text.startswith("restored the view: turned") for step in thinking.steps)
    # The rank badges are placed back in the frame asked about: inside it, over the shelf's middle band.
    badges = [item for item in thinking.items if isinstance(item, BadgeItem)]
    assert badges and all(0.05 < b.center[0] < 0.95 and 0.1 < b.center[1] < 0.9 for b in badges)


def line(x0: float, y0: float, length: float, degrees: float, height: float = 0.03) -> TextLine:
    """A text line of ``length`` (normalized, in a 1000 x 1000 frame) turned by ``degrees``."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    quad = ((x0, y0), (x0 + length * c, y0 + length * s), (x0 + length * c - height * s, y0 + length * s + height * c),
            (x0 - height * s, y0 + height * c))
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return TextLine("Protein 12 g", 0.9, NormBox(min(xs), min(ys), max(xs), max(ys)), quad)


def test_tilt_is_the_longer_lines_median_angle_and_short_words_do_not_vote() -> None:
    lines = [line(0.1, 0.1 + 0.1 * i, 0.3, 14.0) for i in range(4)] + [line(0.6, 0.5, 0.02, -40.0)] * 5
    assert text_tilt_deg(lines, (1000, 1000)) == pytest.approx(14.0, abs=0.5)
    assert text_tilt_deg(lines[:2], (1000, 1000)) == 0.0     # too few lines to say


def test_a_restored_views_boxes_map_back_onto_the_frame() -> None:
    image = np.full((400, 600, 3), 200, np.uint8)
    lines = [line(0.1, 0.1 + 0.15 * i, 0.5, 12.0, height=0.02) for i in range(4)]
    view = restore(image, lines)
    assert any("turned" in done for done in view.done) and any("enlarged" in done for done in view.done)
    for x, y in ((0.2, 0.3), (0.7, 0.6), (0.5, 0.5)):
        # The frame point, carried forward into the view by the inverse map, comes back where it was.
        forward = np.asarray(__import__("cv2").invertAffineTransform(view.to_frame))
        px, py = forward @ np.array([x * 600, y * 400, 1.0])
        back = view.point((px / view.image.shape[1], py / view.image.shape[0]))
        assert back == pytest.approx((x, y), abs=1e-6)


def test_a_clean_upright_frame_is_left_as_it_is() -> None:
    image = np.random.default_rng(3).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    lines = [line(0.1, 0.1 + 0.2 * i, 0.5, 0.5, height=0.08) for i in range(4)]
    view = restore(image, lines)
    assert not view.changed and view.image is image
