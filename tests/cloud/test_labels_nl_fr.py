"""Dutch and French nutrition labels: the parser on OCR-like lines, and the real Belgian/French photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from eyeline.cloud.model import Mode, NormBox, PanelItem
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.labels import (
    is_name_text,
    is_panel_text,
    parse_protein_grams,
    parse_serving_grams,
    states_per_100g,
)
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.cloud.skills.shelf.text import group_products, read_product

QUESTION = "which of these has the most protein?"


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> TextLine:
    return TextLine(text=text, score=0.95, box=NormBox(x0, y0, x1, y1), quad=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


@pytest.mark.parametrize(("text", "grams"), [
    ("Eiwitten 20 g", 20.0),
    ("Eiwit 8 g", 8.0),
    ("Eiwitten: 3,7 g", 3.7),
    ("Protéines 12,5 g", 12.5),
    ("Protéines: 12,5g", 12.5),
    ("Proteines : 7,7 g", 7.7),            # OCR drops the accent
    ("Eiwitten - Protéines 3,7 g 4,6 g", 3.7),   # bilingual row: the first column
    ("12,5 g de protéines", 12.5),
    ("Protein 20g", 20.0),                 # English unchanged
])
def test_dutch_and_french_protein_rows_are_read_with_decimal_commas(text: str, grams: float) -> None:
    assert parse_protein_grams(text) == pytest.approx(grams)


@pytest.mark.parametrize("text", ["Eiwitrijk ontbijt", "Protéines", "Eiwit", "Suikers - Sucres 12,2 g"])
def test_lines_without_a_protein_amount_state_none(text: str) -> None:
    assert parse_protein_grams(text) is None


@pytest.mark.parametrize(("heading", "per_100g"), [
    (["Voedingswaarden per 100 g"], True),
    (["Valeurs nutritionnelles pour 100 g"], True),
    (["pour 100 g", "par portion (30 g)"], False),
    (["per 100 g", "per portie 125 g"], False),
    (["Voedingswaarden"], True),   # an EU label naming no serving states per 100 g
    (["Voedingswaarden", "per portie 125 g"], False),
])
def test_the_basis_is_taken_from_dutch_and_french_headings(heading: list[str], per_100g: bool) -> None:
    assert states_per_100g("Eiwitten 3,7 g", heading) is per_100g


def test_an_english_label_naming_no_basis_is_per_serving() -> None:
    assert not states_per_100g("Protein 20g", ["Nutrition Facts", "Serving 60g"])
    assert not states_per_100g("Proteins 20g", [])
    assert states_per_100g("Protéines 5,4 g", [])


@pytest.mark.parametrize(("text", "grams"), [
    ("per portie 125 g", 125.0), ("par portion (30 g)", 30.0), ("Portion de 2,5 g", 2.5), ("pour 100 g", None)])
def test_serving_sizes_in_dutch_and_french(text: str, grams: float | None) -> None:
    assert parse_serving_grams(text) == grams


@pytest.mark.parametrize("text", ["Voedingswaarden - Valeurs nutritionnelles", "Vetten - Matières grasses",
                                  "Koolhydraten - Glucides", "waarvan - dont", "Zout - Sel", "Eiwitten - Protéines"])
def test_dutch_and_french_table_rows_are_panel_text_never_a_name(text: str) -> None:
    assert is_panel_text(text)
    assert not is_name_text(line(text, 0.1, 0.1, 0.3, 0.15))


def test_a_split_bilingual_row_joins_its_amount_and_the_table_reads_per_100g() -> None:
    lines = [
        line("Zuivel Dessert", 0.1, 0.05, 0.5, 0.15),
        line("Voedingswaarden per 100 g", 0.1, 0.2, 0.5, 0.25),
        line("Koolhydraten - Glucides", 0.1, 0.27, 0.3, 0.32), line("12,2 g", 0.4, 0.27, 0.48, 0.32),
        line("Eiwitten - Protéines", 0.1, 0.34, 0.3, 0.39), line("3,7 g", 0.4, 0.34, 0.48, 0.39),
    ]
    products = group_products(lines, aspect=1.0)
    assert len(products) == 1
    reading = read_product(products[0])
    assert reading.name == "Zuivel Dessert"
    assert reading.per_100g == pytest.approx(3.7)
    assert reading.per_serving_g is None


# ------------------------------------------------------------------ real photos through the real OCR

# file -> (protein g per 100 g from the MANIFEST, the basis the answer must state)
REAL_LABELS = {
    # Belgian dairy pot: Dutch/French table, its value columns headed "100 g" and "1 potje - 1 pot"
    "nutrition_labels/off_5400141167801_3.jpg": (3.7, "per 100 g"),
    # Auchan bouillon cubes: French table, columns headed "100g" and "2 g (100 ml)"
    "nutrition_labels/off_3596710368259_2.jpg": (7.7, "per 100 g"),
    # Chocolate figure: French running text, photo rotated 90 degrees, no basis on the line OCR returns: an EU
    # label that names no serving states per 100 g.
    "nutrition_labels/off_2509757363133_2.jpg": (5.4, "per 100 g"),
}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected"), REAL_LABELS.items())
async def test_real_dutch_and_french_labels_are_read(shared_data: Path, real_ocr: OcrPool,
                                                    name: str, expected: tuple[float, str]) -> None:
    grams, basis = expected
    image = cv2.imread(str(shared_data / name))
    result = await ProteinRankingSkill().answer(SkillContext(QUESTION, Mode.INSTANT, image, 1, real_ocr))
    panel = next(item for item in result.items if isinstance(item, PanelItem))
    assert panel.rows[0].value == f"{grams:g} g"
    assert f"{grams:g} g of protein {basis}" in result.answer


def test_a_bare_100g_column_heading_far_up_the_table_sets_the_basis() -> None:
    lines = [
        line("Gemiddelde voedingswaarde", 0.02, 0.12, 0.38, 0.17), line("100 g", 0.54, 0.12, 0.60, 0.17),
        line("1 potje - 1 pot", 0.64, 0.12, 0.82, 0.17),
        *(line(f"Rij {i}", 0.02, 0.2 + 0.05 * i, 0.3, 0.24 + 0.05 * i) for i in range(8)),
        line("Eiwitten - Protéines", 0.01, 0.66, 0.3, 0.71), line("3,7 g", 0.51, 0.65, 0.59, 0.71),
        line("4,6 g", 0.76, 0.66, 0.85, 0.72),
    ]
    (product,) = group_products(lines, aspect=1.27)
    reading = read_product(product)
    assert (reading.per_100g, reading.per_serving_g) == (3.7, None)


def test_a_row_that_says_per_100g_itself_is_read_per_100g() -> None:
    products = group_products([line("Eiwit 4 g per 100 g", 0.1, 0.5, 0.4, 0.55)], aspect=1.0)
    reading = read_product(products[0])
    assert (reading.per_100g, reading.per_serving_g) == (4.0, None)
