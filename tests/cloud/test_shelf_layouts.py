"""The shelf skill on every label layout, per-100 g panels, units, the catalog fallback and "unknown"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from eyeline.cloud.knowledge import CatalogProduct, demo_pack
from eyeline.cloud.model import Image, Mode, NormBox, PanelItem, SkillResult, StepKind
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.labels import parse_protein_grams, parse_serving_grams
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill

QUESTION = "which of these has the most protein?"


def text_line(text: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.95) -> TextLine:
    return TextLine(text=text, score=score, box=NormBox(x0, y0, x1, y1), quad=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def package(x0: float, brand: str, name: str, panel: Sequence[str] = (), top: float = 0.25) -> list[TextLine]:
    """Brand and name in display type, then panel rows of smaller type below (none: the panel is hidden)."""
    lines = [text_line(brand, x0 + 0.05, top, x0 + 0.13, top + 0.06),
             text_line(name, x0 + 0.02, top + 0.065, x0 + 0.16, top + 0.115)]
    for row, text in enumerate(panel):
        y = top + 0.18 + 0.05 * row
        lines.append(text_line(text, x0 + 0.01, y, x0 + 0.14, y + 0.04))
    return lines


def panel(protein: str, serving: str = "Serving 60g", heading: str = "Nutrition Facts") -> list[str]:
    return [heading, serving, "Calories 210", protein]


class ScriptedReader:
    def __init__(self, lines: Sequence[TextLine]) -> None:
        self.lines = tuple(lines)

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self.lines


async def ask(lines: Sequence[TextLine], catalog: Sequence[CatalogProduct] = ()) -> SkillResult:
    ctx = SkillContext(question=QUESTION, mode=Mode.INSTANT, image=np.zeros((720, 1280, 3), np.uint8), frame_seq=3,
                       ocr=ScriptedReader(lines))
    return await ProteinRankingSkill(catalog).answer(ctx)


def rows(result: SkillResult) -> list[tuple[str, str, str]]:
    table = next(item for item in result.items if isinstance(item, PanelItem))
    return [(row.rank, row.text, row.value) for row in table.rows]


@pytest.mark.parametrize(("text", "grams"), [
    ("Protein 20g", 20.0), ("Protein: 20 g", 20.0), ("20g protein", 20.0), ("Protein 12.5 g", 12.5),
    ("Protein 500mg", 0.5), ("Protein: 3,7 g", 3.7), ("Protein 33.3g per 100g", 33.3),
])
def test_each_layout_of_the_protein_line_is_read_in_grams(text: str, grams: float) -> None:
    assert parse_protein_grams(text) == pytest.approx(grams)


@pytest.mark.parametrize(("text", "grams"), [
    ("Serving 60g", 60.0), ("Serving size: 30 g", 30.0), ("Serving size 1 bag (58.5g)", 58.5),
    ("Per 100g", None), ("Servings per container 2", None),
])
def test_serving_sizes_are_read_and_per_100g_headings_are_not_one(text: str, grams: float | None) -> None:
    assert parse_serving_grams(text) == grams


@pytest.mark.parametrize("protein", ["Protein 20g", "Protein: 20 g", "20g protein"])
async def test_every_per_serving_layout_ranks_the_same(protein: str) -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", panel("Protein 4g", "Serving 30g")),
             *package(0.25, "Peak", "Protein Bar", panel(protein))]
    result = await ask(lines)
    assert rows(result)[0] == ("1", "Peak Protein Bar", "20 g")
    assert "20 g per serving" in result.answer


async def test_a_per_100g_table_is_converted_with_its_serving_size_and_the_answer_says_so() -> None:
    lines = [*package(0.05, "Peak", "Protein Bar", panel("Protein 33.3g", "Serving 60g", heading="Per 100g")),
             *package(0.25, "Atlas", "Jerky Bites", panel("Protein 15g", "Serving 40g"))]
    result = await ask(lines)
    assert rows(result) == [("1", "Peak Protein Bar", "20 g"), ("2", "Atlas Jerky Bites", "15 g")]
    assert "per serving" in result.answer and "33.3 g per 100 g with a 60 g serving" in result.answer


async def test_without_serving_sizes_per_100g_figures_are_compared_per_100g() -> None:
    lines = [*package(0.05, "Peak", "Protein Bar", panel("Protein 33.3g", "Net 120g", heading="Per 100g")),
             *package(0.25, "Atlas", "Jerky Bites", panel("Protein 37.5g", "Net 80g", heading="Per 100g"))]
    result = await ask(lines)
    assert rows(result)[0] == ("1", "Atlas Jerky Bites", "37.5 g")
    assert "per 100 g" in result.answer and "Compared per 100 g" in result.answer
    assert next(item for item in result.items if isinstance(item, PanelItem)).title == "Protein per 100 g"


async def test_a_hidden_panel_is_grounded_in_the_catalog_by_the_visible_name() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", panel("Protein 4g", "Serving 30g")),
             *package(0.25, "Peak", "Prot3in Bar"),   # panel out of view; the name read with a slip
             *package(0.45, "Atlas", "Jerky Bites", panel("Protein 15g", "Serving 40g"))]
    result = await ask(lines, demo_pack().products)
    assert rows(result)[0] == ("1", "Peak Protein Bar (catalog)", "20 g")
    assert "From the product catalog" in result.answer and "Peak Protein Bar" in result.answer
    ground = [step for step in result.steps if step.kind is StepKind.GROUND]
    assert len(ground) == 1 and ground[0].confidence >= 0.8


async def test_an_unreadable_panel_not_in_the_catalog_is_unknown_not_guessed() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", panel("Protein 4g", "Serving 30g")),
             *package(0.25, "Mystery", "Moon Bar", ["Nutrition Facts", "Serving 50g", "Calories 200", "Pr0tein ##"])]
    result = await ask(lines, demo_pack().products)
    assert rows(result) == [("1", "Nordic Oat Crisps", "4 g"), ("?", "Mystery Moon Bar", "unknown")]
    assert "Unknown" in result.answer and "Mystery Moon Bar" in result.answer


async def test_display_text_without_a_panel_or_catalog_entry_is_not_a_product() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", panel("Protein 4g", "Serving 30g")),
             text_line("SALE", 0.40, 0.60, 0.50, 0.66)]
    result = await ask(lines, demo_pack().products)
    assert rows(result) == [("1", "Nordic Oat Crisps", "4 g")]


async def test_a_label_that_disagrees_with_the_catalog_is_flagged_in_a_verify_step() -> None:
    lines = [*package(0.05, "Peak", "Protein Bar", panel("Protein 2g")),
             *package(0.25, "Atlas", "Jerky Bites", panel("Protein 15g", "Serving 40g"))]
    result = await ask(lines, demo_pack().products)
    (verify,) = [step for step in result.steps if step.kind is StepKind.VERIFY]
    assert "Peak Protein Bar" in verify.text and "catalog states 20 g" in verify.text
    assert verify.confidence < 0.5


class RereadingReader:
    """The whole frame reads Peak's amount badly; a crop (any later read) reads it well, in crop coordinates."""

    def __init__(self, frame_lines: Sequence[TextLine]) -> None:
        self.frame_lines = tuple(frame_lines)
        self.reads = 0

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        self.reads += 1
        if self.reads == 1:
            return self.frame_lines
        return (text_line("Protein 20g", 0.2, 0.55, 0.8, 0.62, score=0.99),)


async def test_thinking_rereads_a_low_confidence_amount_at_higher_resolution_and_instant_does_not() -> None:
    lines = [*package(0.05, "Peak", "Protein Bar", ["Nutrition Facts", "Serving 60g"]),
             text_line("Protein 2g", 0.06, 0.48, 0.19, 0.52, score=0.55),
             *package(0.25, "Atlas", "Jerky Bites", panel("Protein 15g", "Serving 40g"))]
    image = np.zeros((720, 1280, 3), np.uint8)
    answers = {}
    for mode in (Mode.INSTANT, Mode.THINKING):
        reader = RereadingReader(lines)
        result = await ProteinRankingSkill().answer(SkillContext(QUESTION, mode, image, 3, reader))
        answers[mode] = (reader.reads, rows(result)[0], [s.text for s in result.steps if "re-read" in s.text])
    assert answers[Mode.INSTANT] == (1, ("1", "Atlas Jerky Bites", "15 g"), [])
    reads, top, rereads = answers[Mode.THINKING]
    assert reads == 2 and top == ("1", "Peak Protein Bar", "20 g")
    assert rereads == ["re-read Peak Protein Bar at 2x: 20 g (label)"]


@pytest.mark.slow
async def test_the_real_ocr_ranks_a_rendered_shelf_of_every_layout_with_the_catalog(real_ocr: OcrPool) -> None:
    from eyeline.devices.synthetic import LabelLayout, make_shelf_scene, render_shelf_frame

    layouts = [LabelLayout.COLON, LabelLayout.AMOUNT_FIRST, LabelLayout.PER_100G, LabelLayout.HIDDEN,
               LabelLayout.OCCLUDED]
    scene = make_shelf_scene(3, 5, layouts)
    image, truth = render_shelf_frame(scene, 0.0)
    ctx = SkillContext(QUESTION, Mode.INSTANT, image, 1, real_ocr)

    result = await ProteinRankingSkill(demo_pack().products).answer(ctx)

    fully_visible = {p.product.display_name: p.product for p in truth.products if p.visible_fraction >= 0.99}
    hidden = [scene.products[slot].display_name for slot in (3, 4)]
    table = rows(result)
    assert table[0][1].removesuffix(" (catalog)") == truth.best_product().display_name
    for _, name, value in table:
        product = fully_visible[name.removesuffix(" (catalog)")]
        assert value == f"{product.protein_g:g} g"
        assert name.endswith(" (catalog)") == (product.display_name in hidden)
    assert len(table) == len(fully_visible)
