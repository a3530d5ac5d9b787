"""Which product a nutrition table belongs to: the largest name-like text above it, in its column."""

from __future__ import annotations

import re
from collections.abc import Sequence

from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.nutrition.facts import NutritionTable
from eyeline.cloud.skills.nutrition.lexicon import heading_basis, nutrients_named
from eyeline.cloud.skills.shelf.labels import is_name_text

# A name is display type: at least this many times the height of the table's text.
_NAME_HEIGHT = 1.3
# Headings of a label's sections, and web or mail addresses: never a product's name.
_SECTION = re.compile(r"\b(?:minerals?|vitamins?|ingredients?|ingr[eé]dients?|zutaten|ingredi[eë]nten|"
                      r"nutrition(?:al)?|nutritionnelles?|nutritive|nutrizionali|voedingswaarden?|valeurs?|information|typical|"
                      r"values?|allerg\w*|storage)\b|www\.|\.com\b|https?:|@",
                      re.IGNORECASE)
# A name is a few words; a sentence above a table is a story or an address.
_NAME_WORDS = 5


def product_names(lines: Sequence[TextLine], tables: Sequence[NutritionTable]) -> list[str]:
    """One name per table ("" where none stands above it): never a column heading or a nutrient row."""
    return [_name(lines, table) for table in tables]


def _name(lines: Sequence[TextLine], table: NutritionTable) -> str:
    region = table.region
    inside = [line.height for line in lines if _within(line, table)]
    row_height = sorted(inside)[len(inside) // 2] if inside else 0.0
    candidates = [line for line in lines if line.box.y1 <= region.y0 + 0.005 and _overlaps(line, table)
                  and is_name_text(line) and heading_basis(line.text) is None and not nutrients_named(line.text)
                  and line.height >= _NAME_HEIGHT * row_height and line.score >= 0.8
                  and len(line.text.split()) <= _NAME_WORDS and not _SECTION.search(line.text)]
    best = max(candidates, key=lambda line: (line.height, line.box.y1), default=None)
    return " ".join(best.text.split()) if best is not None else ""


def _within(line: TextLine, table: NutritionTable) -> bool:
    box, region = line.box, table.region
    return region.x0 <= box.center[0] <= region.x1 and region.y0 <= box.center[1] <= region.y1


def _overlaps(line: TextLine, table: NutritionTable) -> bool:
    return min(line.box.x1, table.region.x1) - max(line.box.x0, table.region.x0) > 0
