"""A package's name above its panel heading is its name even when set no larger than the panel's rows."""

from __future__ import annotations

from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.shelf.text import find_unlabelled, group_products


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> TextLine:
    return TextLine(text=text, score=0.99, box=NormBox(x0, y0, x1, y1), quad=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


# One package as OCR read it from a rendered shelf (seen closer than its neighbours, so its rows look taller).
OCEAN = (line("Ocean", 0.821, 0.325, 0.917, 0.378), line("Tuna Snack", 0.798, 0.385, 0.941, 0.432),
         line("Nutrition Facts", 0.784, 0.485, 0.936, 0.536), line("Serving 85g", 0.782, 0.537, 0.90, 0.594),
         line("Calories 120", 0.78, 0.594, 0.904, 0.644), line("18g protein", 0.78, 0.65, 0.897, 0.704))


def test_a_name_above_the_heading_names_the_package_though_no_taller_than_the_rows() -> None:
    (product,) = group_products(OCEAN)
    assert product.name == "Ocean Tuna Snack"


def test_panel_sized_text_below_the_heading_still_names_nothing() -> None:
    rows = (line("Nutrition Facts", 0.1, 0.1, 0.3, 0.15), line("Crunchy Bits", 0.1, 0.16, 0.3, 0.21),
            line("Serving 30g", 0.1, 0.22, 0.3, 0.27), line("Protein 5g", 0.1, 0.28, 0.3, 0.33))
    (product,) = group_products(rows)
    assert product.name == ""


def test_a_hidden_panels_name_no_taller_than_rows_elsewhere_is_still_found() -> None:
    lines = (*OCEAN[:1], line("Peak", 0.1, 0.30, 0.2, 0.36), line("Protein Bar", 0.08, 0.37, 0.25, 0.43),
             line("Nutrition Facts", 0.08, 0.485, 0.24, 0.54), line("Serving 60g", 0.08, 0.54, 0.2, 0.6),
             line("Protein 20g", 0.08, 0.65, 0.2, 0.71), OCEAN[1])
    (product,) = group_products(lines)
    (hidden,) = find_unlabelled(lines, (product,))
    assert hidden.name == "Ocean Tuna Snack" and not hidden.has_panel


def test_a_row_sized_line_under_a_table_is_no_package_name() -> None:
    lines = (line("Nutrition Facts", 0.1, 0.1, 0.3, 0.15), line("Serving 30g", 0.1, 0.16, 0.3, 0.21),
             line("Made in Sweden", 0.1, 0.3, 0.3, 0.35))
    assert find_unlabelled(lines, ()) == ()


# Two shelves: an upper package whose panel is covered (no protein line to stop the search) over a lower one.
UPPER = NormBox(0.1, 0.02, 0.35, 0.45)
LOWER = NormBox(0.1, 0.5, 0.35, 0.95)
STACKED = (line("Gamma Giant", 0.12, 0.05, 0.33, 0.12), line("SALE", 0.15, 0.3, 0.25, 0.35),
           line("Beta Bite", 0.15, 0.55, 0.30, 0.59), line("Nutrition Facts", 0.13, 0.65, 0.3, 0.675),
           line("Serving 40g", 0.13, 0.7, 0.3, 0.725), line("Calories 150", 0.13, 0.75, 0.3, 0.775),
           line("Protein 9g", 0.13, 0.80, 0.3, 0.825))


def test_columns_alone_take_the_larger_name_from_the_shelf_above() -> None:
    (product,) = group_products(STACKED, aspect=1.0)
    assert product.name == "Gamma Giant"   # the failure the package regions exist to prevent


def test_package_regions_keep_each_name_on_its_own_package() -> None:
    (product,) = group_products(STACKED, aspect=1.0, packages=(UPPER, LOWER))
    assert product.name == "Beta Bite"
    assert {row.text for row in product.panel_lines} == {"Nutrition Facts", "Serving 40g", "Calories 150"}
    unlabelled = [found.name for found in find_unlabelled(STACKED, (product,), aspect=1.0, packages=(UPPER, LOWER))]
    assert "Gamma Giant" in unlabelled and "Beta Bite" not in unlabelled   # a package of its own, for the catalog


def test_a_panel_row_on_another_package_is_not_taken_into_this_panel() -> None:
    beside = NormBox(0.36, 0.5, 0.6, 0.95)
    stray = line("Serving 25g", 0.24, 0.72, 0.50, 0.745)   # centre on the neighbour, overlapping this column
    lines = (*STACKED, stray)
    (product,) = group_products(lines, aspect=1.0, packages=(UPPER, LOWER, beside))
    assert stray not in product.panel_lines
    (without,) = group_products(lines, aspect=1.0)
    assert stray in without.panel_lines
