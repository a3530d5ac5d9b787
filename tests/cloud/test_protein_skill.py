"""The protein ranking skill: parsing, grouping, the answer it builds, and the real thing on rendered shelves."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

from eyeline.cloud.model import (
    BadgeItem,
    BoxItem,
    Image,
    Mode,
    NormBox,
    NoticeItem,
    PanelItem,
    SkillResult,
    StepKind,
)
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillConfigError, SkillContext, SkillRouter, UnsupportedQuestionError
from eyeline.cloud.skills.noop import NoopSkill
from eyeline.cloud.skills.shelf.labels import is_panel_text, parse_protein_grams
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.cloud.skills.shelf.text import group_products
from eyeline.devices.synthetic import ShelfTruth, make_shelf_scene, render_shelf_frame

ASPECT = 16 / 9
QUESTION = "which of these has the most protein?"


def text_line(text: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.95) -> TextLine:
    quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return TextLine(text=text, score=score, box=NormBox(x0, y0, x1, y1), quad=quad)


def package(x0: float, brand: str, name: str, protein: str, *, top: float = 0.25,
            serving: str = "Serving 60g") -> list[TextLine]:
    """The lines OCR reads off one package 0.18 wide: brand and name large at the top, a panel below."""
    return [
        text_line(brand, x0 + 0.05, top, x0 + 0.13, top + 0.06),
        text_line(name, x0 + 0.02, top + 0.065, x0 + 0.16, top + 0.115),
        text_line("Nutrition Facts", x0 + 0.01, top + 0.18, x0 + 0.15, top + 0.22),
        text_line(serving, x0 + 0.01, top + 0.23, x0 + 0.13, top + 0.27),
        text_line("Calories 210", x0 + 0.01, top + 0.28, x0 + 0.13, top + 0.32),
        text_line(protein, x0 + 0.01, top + 0.33, x0 + 0.12, top + 0.37),
    ]


def three_packages() -> list[TextLine]:
    return [*package(0.05, "Nordic", "Oat Crisps", "Protein 4g"),
            *package(0.25, "Peak", "Protein Bar", "Protein 20g"),
            *package(0.45, "Atlas", "Jerky Bites", "Protein 15g")]


def contains(box: NormBox, point: tuple[float, float]) -> bool:
    return box.x0 <= point[0] <= box.x1 and box.y0 <= point[1] <= box.y1


class ScriptedReader:
    def __init__(self, lines: Sequence[TextLine]) -> None:
        self.lines = tuple(lines)

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self.lines


async def ask(lines: Sequence[TextLine], question: str = QUESTION) -> SkillResult:
    image = np.zeros((720, 1280, 3), dtype=np.uint8)
    context = SkillContext(question=question, mode=Mode.INSTANT, image=image, frame_seq=7,
                           ocr=ScriptedReader(lines))
    return await ProteinRankingSkill().answer(context)


def badges(result: SkillResult) -> list[BadgeItem]:
    return [item for item in result.items if isinstance(item, BadgeItem)]


def ranking_panel(result: SkillResult) -> PanelItem:
    (panel,) = [item for item in result.items if isinstance(item, PanelItem)]
    return panel


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(("text", "grams"), [
    ("Protein 20g", 20.0),
    ("Protein: 20 g", 20.0),
    ("protein 20.5 g", 20.5),
    ("PROTEIN 12 G", 12.0),
    ("20g protein", 20.0),
    ("20 g of protein", 20.0),
    ("Protein20g", 20.0),
    ("Protein 2O g", 20.0),
    ("Protein 1o g", 10.0),
    ("Protein l5g", 15.0),
    ("Pr0tein 9g", 9.0),
    ("Protein 7,5 g", 7.5),
    ("Protein 2.5g", 2.5),
    ("Protein 0g", 0.0),
    ("Calories 210 Protein 18g", 18.0),
    ("Protein 20g 40%", 20.0),
])
def test_protein_amounts_are_read_in_every_wording(text: str, grams: float) -> None:
    assert parse_protein_grams(text) == grams


@pytest.mark.parametrize("text", [
    "Calories 210",
    "Serving 60g",
    "Fat 8g",
    "Protein",
    "Peak Protein Bar",
    "Protein 20%",          # a share of the daily value, not an amount
    "Protein O g",          # no real digit: too little to go on
    "Protein 250g",         # merged digits, not a serving
    "Protein per 100g 33g",  # per 100 g, not per serving
    "",
])
def test_lines_without_a_protein_amount_are_not_read_as_one(text: str) -> None:
    assert parse_protein_grams(text) is None


@pytest.mark.parametrize(("text", "panel"), [
    ("Nutrition Facts", True),
    ("Serving 60g", True),
    ("Serving size 1 bar (60g)", True),
    ("Calories 210", True),
    ("Protein", True),
    ("Protein 20g", True),
    ("20g", True),
    ("Peak Protein Bar", False),
    ("Protein Crunch", False),
    ("Fat Free Crisps", False),
    ("Atlas", False),
])
def test_panel_boilerplate_is_told_from_names(text: str, panel: bool) -> None:
    assert is_panel_text(text) is panel


# ------------------------------------------------------------------ grouping


def test_each_protein_amount_is_one_product_named_by_the_large_text_above_it() -> None:
    products = group_products(three_packages(), aspect=ASPECT)

    assert [product.name for product in products] == ["Nordic Oat Crisps", "Peak Protein Bar", "Atlas Jerky Bites"]
    assert [product.protein_line.text for product in products] == ["Protein 4g", "Protein 20g", "Protein 15g"]
    for product in products:
        assert sorted(line.text for line in product.panel_lines) == ["Calories 210", "Nutrition Facts", "Serving 60g"]
        assert all(contains(product.region, line.box.center) for line in product.panel_lines)


def test_names_of_neighbouring_packages_are_not_joined() -> None:
    # Packages side by side with no gap: the names are little more than a text height apart.
    lines = [*package(0.05, "Nordic", "Oat Crisps", "Protein 4g"),
             *package(0.23, "Peak", "Protein Bar", "Protein 20g")]

    assert [product.name for product in group_products(lines, aspect=ASPECT)] == ["Nordic Oat Crisps",
                                                                                  "Peak Protein Bar"]


def test_words_the_detector_split_on_one_row_are_joined_left_to_right() -> None:
    lines = [text_line("Protein Bar", 0.16, 0.30, 0.27, 0.35), text_line("Peak", 0.10, 0.30, 0.15, 0.35),
             text_line("Protein 20g", 0.10, 0.50, 0.22, 0.54)]

    (product,) = group_products(lines, aspect=ASPECT)

    assert product.name == "Peak Protein Bar"


def test_a_label_and_its_amount_read_as_separate_lines_are_joined() -> None:
    lines = [text_line("Peak", 0.10, 0.30, 0.18, 0.35),
             text_line("Protein", 0.10, 0.50, 0.16, 0.54), text_line("20 g", 0.20, 0.50, 0.24, 0.54)]

    (product,) = group_products(lines, aspect=ASPECT)

    assert (product.name, product.protein_line.text) == ("Peak", "Protein 20 g")
    assert product.protein_line.box == NormBox(0.10, 0.50, 0.24, 0.54)


def test_a_lower_package_without_a_readable_name_does_not_take_the_upper_ones_name() -> None:
    upper = package(0.05, "Peak", "Protein Bar", "Protein 20g", top=0.05)
    lower = [line for line in package(0.05, "Atlas", "Jerky Bites", "Protein 15g", top=0.50)
             if line.text not in ("Atlas", "Jerky Bites")]

    products = group_products([*upper, *lower], aspect=ASPECT)

    assert {product.protein_line.text: product.name for product in products} == {"Protein 20g": "Peak Protein Bar",
                                                                                 "Protein 15g": ""}


def test_packages_on_two_shelves_are_named_from_their_own_row() -> None:
    upper = package(0.05, "Peak", "Protein Bar", "Protein 20g", top=0.05)
    lower = package(0.05, "Atlas", "Jerky Bites", "Protein 15g", top=0.50)

    products = group_products([*lower, *upper], aspect=ASPECT)

    assert {product.protein_line.text: product.name for product in products} == {
        "Protein 20g": "Peak Protein Bar", "Protein 15g": "Atlas Jerky Bites"}


def test_a_package_whose_amount_cannot_be_read_is_left_out() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", "Protein ?"), *package(0.25, "Peak", "Protein Bar", "Protein 20g")]

    assert [product.name for product in group_products(lines, aspect=ASPECT)] == ["Peak Protein Bar"]


def test_no_lines_make_no_products() -> None:
    assert group_products([], aspect=ASPECT) == ()


# ------------------------------------------------------------------ the skill on scripted OCR


async def test_the_answer_names_the_winner_with_its_amount() -> None:
    result = await ask(three_packages())

    assert result.answer.startswith("Peak Protein Bar has the most protein: 20 g per serving (of 3 products read)")
    assert "not medical advice" in result.answer.lower()
    assert [(row.rank, row.text, row.value) for row in ranking_panel(result).rows] == [
        ("1", "Peak Protein Bar", "20 g"), ("2", "Atlas Jerky Bites", "15 g"), ("3", "Nordic Oat Crisps", "4 g")]
    assert ranking_panel(result).title == "Protein per serving"
    assert any(isinstance(item, NoticeItem) and "not medical advice" in item.text.lower() for item in result.items)


async def test_each_badge_sits_inside_the_package_it_ranks() -> None:
    lines = three_packages()
    result = await ask(lines)
    package_of = {"Nordic Oat Crisps": NormBox(0.05, 0.24, 0.23, 0.63),
                  "Peak Protein Bar": NormBox(0.25, 0.24, 0.43, 0.63),
                  "Atlas Jerky Bites": NormBox(0.45, 0.24, 0.63, 0.63)}
    rows = {row.rank: row.text for row in ranking_panel(result).rows}

    assert sorted(badge.id for badge in badges(result)) == ["rank-1", "rank-2", "rank-3"]
    for badge in badges(result):
        assert contains(package_of[rows[badge.text]], badge.center)


async def test_boxes_outline_each_product_with_its_amount() -> None:
    result = await ask(three_packages())
    boxes = {item.caption: item for item in result.items if isinstance(item, BoxItem)}

    assert set(boxes) == {"20 g", "15 g", "4 g"}
    assert contains(boxes["20 g"].box, (0.34, 0.45)) and not contains(boxes["20 g"].box, (0.14, 0.45))


async def test_the_same_scene_gets_the_same_item_ids_whatever_order_ocr_reports() -> None:
    lines = three_packages()
    shuffled = list(lines)
    random.Random(3).shuffle(shuffled)

    first, second = await ask(lines), await ask(shuffled)

    assert [(item.id, item) for item in first.items] == [(item.id, item) for item in second.items]
    assert len({item.id for item in first.items}) == len(first.items)


async def test_the_trace_walks_perceive_group_read_compare_answer() -> None:
    lines = three_packages()
    result = await ask(lines)
    kinds = [step.kind for step in result.steps]

    # OCR and package segmentation perceive the frame side by side (these lines come with a blank frame).
    assert kinds == [StepKind.PERCEIVE, StepKind.PERCEIVE, StepKind.GROUP, *[StepKind.READ] * 3, StepKind.COMPARE,
                     StepKind.ANSWER]
    assert all(step.agent == "shelf" and step.cost_us >= 0 for step in result.steps)
    assert len(result.steps[0].evidence) == len(lines)
    assert len(result.steps[2].evidence) == 3
    protein_boxes = {line.box for line in lines if line.text in ("Protein 4g", "Protein 20g", "Protein 15g")}
    assert {step.evidence[0] for step in result.steps if step.kind is StepKind.READ} == protein_boxes


async def test_read_confidence_is_the_ocr_score_of_the_amount() -> None:
    lines = [*package(0.05, "Peak", "Protein Bar", "Protein 20g")]
    lines[-1] = text_line("Protein 20g", 0.06, 0.58, 0.17, 0.62, score=0.61)

    result = await ask(lines)

    (read,) = [step for step in result.steps if step.kind is StepKind.READ]
    assert read.confidence == pytest.approx(0.61)
    assert result.answer.startswith("Peak Protein Bar has 20 g of protein per serving; it is the only product")


async def test_equal_amounts_are_reported_as_a_tie() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", "Protein 20g"),
             *package(0.25, "Peak", "Protein Bar", "Protein 20g")]

    result = await ask(lines)

    assert result.answer.startswith("Nordic Oat Crisps and Peak Protein Bar tie for the most protein: 20 g")


async def test_without_a_readable_amount_it_says_so_and_pins_nothing() -> None:
    lines = [text_line("Peak", 0.10, 0.30, 0.18, 0.35), text_line("Nutrition Facts", 0.10, 0.40, 0.22, 0.44)]

    result = await ask(lines)

    assert "could not read" in result.answer.lower()
    assert badges(result) == [] and not any(isinstance(item, PanelItem) for item in result.items)
    assert result.steps[-1].kind is StepKind.ANSWER


async def test_a_package_cut_off_at_the_frame_edge_is_read_but_not_ranked() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", "Protein 4g"), *package(0.84, "Ocean", "Tuna Sn", "Protein 18g")]

    result = await ask(lines)

    assert result.answer.startswith("Nordic Oat Crisps has the most protein: 4 g per serving (of 1 product read; "
                                    "1 more at the edge of view not ranked)")
    assert [row.text for row in ranking_panel(result).rows] == ["Nordic Oat Crisps"]
    reads = [step.text for step in result.steps if step.kind is StepKind.READ]
    assert reads == ["Nordic Oat Crisps: protein 4 g",
                     "Ocean Tuna Sn: protein 18 g (package cut off at the edge of view; not ranked)"]


async def test_when_only_cut_off_packages_are_read_it_asks_to_turn_toward_them() -> None:
    result = await ask(package(0.84, "Ocean", "Tuna Sn", "Protein 18g"))

    assert "edge of view" in result.answer and "turn toward" in result.answer
    assert badges(result) == []


@pytest.mark.parametrize(("question", "matches"), [
    ("which of these has the most protein?", True),
    ("Which has the highest protein?", True),
    ("rank by protein", True),
    ("most protein", True),
    ("sort these by protein please", True),
    ("what is protein?", False),
    ("which of these is cheapest?", False),
    ("how do I descale this machine", False),
])
def test_it_takes_questions_about_ranking_by_protein(question: str, matches: bool) -> None:
    assert ProteinRankingSkill().matches(question) is matches


# ------------------------------------------------------------------ routing


def test_the_router_picks_the_first_skill_that_matches() -> None:
    router = SkillRouter([NoopSkill(), ProteinRankingSkill()])

    assert router.route("rank by protein").name == "protein"
    assert router.names() == ["noop", "protein"]


@pytest.mark.parametrize("question", ["what is the weather?", "   "])
def test_an_unanswerable_question_says_what_can_be_asked(question: str) -> None:
    router = SkillRouter([ProteinRankingSkill()])

    with pytest.raises(UnsupportedQuestionError, match="which of these has the most protein") as raised:
        router.route(question)
    assert raised.value.retryable is False


def test_two_skills_with_one_name_are_refused() -> None:
    with pytest.raises(SkillConfigError, match="protein"):
        SkillRouter([ProteinRankingSkill(), ProteinRankingSkill()])


async def test_the_noop_skill_answers_with_nothing_and_matches_no_question() -> None:
    context = SkillContext(question="", mode=Mode.INSTANT, image=np.zeros((4, 4, 3), np.uint8), frame_seq=1,
                           ocr=ScriptedReader([text_line("Protein 20g", 0.1, 0.1, 0.2, 0.2)]))

    result = await NoopSkill().answer(context)

    assert (result.answer, result.items, result.steps) == ("", (), ())
    assert not NoopSkill().matches("which has the most protein?")


# ------------------------------------------------------------------ the real OCR on rendered shelves


def truth_at(truth: ShelfTruth, center: tuple[float, float], width: int, height: int) -> list[str]:
    x, y = center[0] * width, center[1] * height
    return [product.product.display_name for product in truth.products
            if product.box[0] <= x < product.box[2] and product.box[1] <= y < product.box[3]]


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "t_s", "n_products", "size"), [
    (0, 0.0, 5, (1280, 720)),
    (9, 0.4, 5, (1280, 720)),   # the richest package is cut off at the frame's edge
    (2, 1.3, 4, (640, 360)),
])
async def test_the_real_ocr_ranks_a_rendered_shelf_correctly(real_ocr: OcrPool, seed: int, t_s: float,
                                                             n_products: int, size: tuple[int, int]) -> None:
    image, truth = render_shelf_frame(make_shelf_scene(seed=seed, n_products=n_products), t_s, *size)
    height, width = image.shape[:2]
    context = SkillContext(question=QUESTION, mode=Mode.INSTANT, image=image, frame_seq=1, ocr=real_ocr)

    result = await ProteinRankingSkill().answer(context)

    rows = {row.rank: row for row in ranking_panel(result).rows}
    assert rows["1"].text == truth.best_product().display_name
    assert result.answer.startswith(f"{truth.best_product().display_name} has the most protein")
    by_name = {product.product.display_name: product for product in truth.products}
    fully_visible = {name for name, product in by_name.items() if product.visible_fraction >= 0.99}
    badged: set[str] = set()
    for badge in badges(result):
        (under_badge,) = truth_at(truth, badge.center, width, height)
        row = rows[badge.text]
        assert row.value == f"{by_name[under_badge].product.protein_g:g} g"
        if under_badge in fully_visible:
            assert row.text == under_badge
        badged.add(under_badge)
    assert badged == fully_visible


@pytest.mark.slow
async def test_the_real_ocr_on_an_empty_wall_answers_that_it_could_not_read(real_ocr: OcrPool) -> None:
    image = np.full((720, 1280, 3), (214, 220, 224), dtype=np.uint8)
    context = SkillContext(question=QUESTION, mode=Mode.INSTANT, image=image, frame_seq=1, ocr=real_ocr)

    result = await ProteinRankingSkill().answer(context)

    assert "could not read" in result.answer.lower()
    assert badges(result) == []
    assert result.steps[0].text == "OCR read 0 text lines"
