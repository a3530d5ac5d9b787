"""Shelf readings built on the table reader: a two-basis panel is one product, an unnamed package is named by
where it stands, an implausible figure is flagged, a readable package at the frame's edge is ranked."""

from __future__ import annotations

from eyeline.cloud.perception.ocr import TextLine
from tests.cloud.test_shelf_layouts import ask, package, rows, text_line


def _stacked_panel(x0: float, per_100: str, per_serving: str) -> list[TextLine]:
    """A panel stating protein twice, one block per 100 g above one per serving (two protein rows)."""
    return [text_line("Per 100 g", x0 + 0.01, 0.43, x0 + 0.12, 0.46),
            text_line(per_100, x0 + 0.01, 0.47, x0 + 0.14, 0.51),
            text_line("Per serving (30 g)", x0 + 0.01, 0.53, x0 + 0.14, 0.56),
            text_line(per_serving, x0 + 0.01, 0.57, x0 + 0.14, 0.61)]


async def test_a_panel_with_per_100g_and_per_serving_rows_is_one_product() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", ["Serving 30g"]),
             *_stacked_panel(0.05, "Protein 10g", "Protein 3g"),
             *package(0.3, "Peak", "Protein Bar", ["Nutrition Facts", "Serving 60g", "Calories 210", "Protein 20g"])]
    result = await ask(lines)
    names = [row[1] for row in rows(result)]
    assert names == ["Peak Protein Bar", "Nordic Oat Crisps"]
    assert not any("unnamed" in name for name in names)
    assert rows(result)[1][2] == "3 g"


async def test_an_unnamed_package_is_named_by_where_it_stands_never_unnamed_product() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", ["Nutrition Facts", "Serving 30g", "Calories 120", "Protein 4g"]),
             text_line("Nutrition Facts", 0.71, 0.43, 0.84, 0.47), text_line("Serving 60g", 0.71, 0.48, 0.84, 0.52),
             text_line("Protein 25g", 0.71, 0.53, 0.84, 0.57)]
    result = await ask(lines)
    assert result.answer.startswith("the unnamed package on the right has the most protein")
    assert "Unnamed product" not in result.answer


async def test_an_implausible_per_100g_figure_is_flagged_not_reported_as_certain() -> None:
    lines = [*package(0.05, "Nordic", "Oat Crisps", ["Nutrition per 100g", "Serving 30g", "Energy 150 kcal",
                                                      "Protein 93.3g"]),
             *package(0.3, "Peak", "Protein Bar", ["Nutrition per 100g", "Serving 60g", "Energy 380 kcal",
                                                   "Protein 33.3g"])]
    result = await ask(lines)
    assert "Check the label of Nordic Oat Crisps" in result.answer and "do not add up" in result.answer
    assert result.confidence < 0.9


async def test_a_fully_readable_package_whose_panel_touches_the_frame_edge_is_ranked() -> None:
    lines = [*package(0.3, "Nordic", "Oat Crisps", ["Nutrition Facts", "Serving 30g", "Calories 120", "Protein 4g"]),
             *package(0.5, "Peak", "Protein Bar", ["Nutrition Facts", "Serving 60g", "Calories 210", "Protein 20g"]),
             text_line("Ingredients: oats, whey, cocoa, salt", 0.5, 0.66, 0.999, 0.7)]
    result = await ask(lines)
    assert rows(result)[0] == ("1", "Peak Protein Bar", "20 g")
    assert "edge of view" not in result.answer


async def test_a_column_heading_over_a_panel_is_never_an_unknown_product() -> None:
    lines = [*package(0.05, "Peak", "Protein Bar", ["Nutrition Facts", "Serving 60g", "Calories 210", "Protein 20g"]),
             text_line("Ave. Quantity", 0.45, 0.25, 0.62, 0.31), text_line("per Serving", 0.45, 0.32, 0.62, 0.38),
             text_line("% Daily Intake*", 0.65, 0.25, 0.85, 0.31)]
    result = await ask(lines)
    assert rows(result) == [("1", "Peak Protein Bar", "20 g")]
    assert "nknown" not in result.answer
