"""The pieces of a nutrition table in OCR boxes: row labels, printed amounts (cells) and column headings.

Geometry is worked in "upright" coordinates: when most long lines of text run vertically (a package photographed
on its side), the frame is turned a quarter so rows run across, and every later step (rows, columns, headings)
is the same as for an upright table. Each piece keeps its box in the frame, for evidence.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.nutrition.lexicon import (
    Amount,
    Basis,
    Nutrient,
    amounts_in,
    fold,
    heading_basis,
    heading_parts,
    label_text,
    leading_quantity,
    net_grams,
    nutrients_named,
    serving_grams,
)


@dataclass(frozen=True, slots=True)
class Placed:
    """A line in upright coordinates (``box``) with its box in the frame (``frame_box``)."""

    line: TextLine
    box: NormBox
    frame_box: NormBox
    whole: NormBox | None = None

    @property
    def height(self) -> float:
        return self.box.y1 - self.box.y0

    @property
    def y(self) -> float:
        return (self.box.y0 + self.box.y1) / 2

    @property
    def line_box(self) -> NormBox:
        """The whole line's box in upright coordinates (``box`` may be a part of it: a heading's own words)."""
        return self.whole or self.box


@dataclass(frozen=True, slots=True)
class Row:
    """A line that names a nutrient (``None``: one this reader does not report, still a row of the table)."""

    nutrient: Nutrient | None
    placed: Placed
    label_x1: float       # where the row's name ends: its values stand to the right of this
    english: bool = True  # named in English (a label in another European language states per 100 g by law)


@dataclass(frozen=True, slots=True)
class Cell:
    """One printed amount: where it stands, and the row it was printed in, if it shares that row's line."""

    amount: Amount
    x0: float
    x1: float
    placed: Placed
    bound_to: Nutrient | None = None     # printed after this nutrient's name on the same line
    bound_row: Row | None = None

    @property
    def x(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def y(self) -> float:
        return self.placed.y


@dataclass(frozen=True, slots=True)
class Heading:
    """A column heading: the basis of the figures under it, and the serving size it states, if any."""

    basis: Basis
    placed: Placed
    serving_g: float | None = None


@dataclass(frozen=True, slots=True)
class Pieces:
    rows: tuple[Row, ...]
    cells: tuple[Cell, ...]
    headings: tuple[Heading, ...]
    servings: tuple[tuple[Placed, float], ...]      # lines that state a serving size, with it
    us_style: bool                                  # "Nutrition Facts"/"Amount per serving": US panel
    nets: tuple[tuple[Placed, float], ...] = ()     # lines that state a package's net quantity, with it


# A line this much taller than wide (in pixels), with this many characters, is text set vertically.
_VERTICAL_RATIO = 1.5
_LONG_LINE = 6


def upright(lines: Sequence[TextLine], aspect: float) -> tuple[Placed, ...]:
    """Every line placed so its text runs across; ``aspect`` is the frame's width / height."""
    long_lines = [line for line in lines if len(line.text.strip()) >= _LONG_LINE]
    vertical = sum(line.height > _VERTICAL_RATIO * line.width * aspect for line in long_lines)
    if long_lines and vertical * 2 > len(long_lines):
        return tuple(Placed(line, NormBox(line.box.y0, 1.0 - line.box.x1, line.box.y1, 1.0 - line.box.x0),
                            line.box) for line in lines)
    return tuple(Placed(line, line.box, line.box) for line in lines)


def find_pieces(placed: Sequence[Placed]) -> Pieces:
    rows: list[Row] = []
    cells: list[Cell] = []
    headings: list[Heading] = []
    servings: list[tuple[Placed, float]] = []
    for item in placed:
        text = item.line.text
        size = serving_grams(text) or _serving_beside(item, placed)
        if size is not None:
            servings.append((item, size))
        named = nutrients_named(text)
        if named:
            row, bound = _row_of(item, named)
            rows.append(row)
            cells.extend(bound)
            # Running text may state its basis before its first figure ("... pour 100g. Energie: 2393kJ").
            headings += [h for h in _headings(item) if h.basis is Basis.PER_100]
            continue
        basis = heading_basis(text)
        if basis is not None and (basis is not Basis.REFERENCE or not _is_value_text(text)):
            headings += _headings(item)
        elif _is_value_text(text):
            cells.extend(_cells(item, label_text(text), amounts_in(label_text(text))))
    first_row = min((row.placed.box.y0 for row in rows if row.nutrient is not None), default=1.0)
    headings += [Heading(Basis.SERVING, item, size) for item in placed if item.box.y1 <= first_row + 0.002
                 and not nutrients_named(item.line.text) and (size := leading_quantity(item.line.text))]
    us_style = any(_US_MARKERS.search(label_text(item.line.text)) for item in placed)
    nets = tuple((item, grams) for item in placed if (grams := net_grams(item.line.text)) is not None)
    return Pieces(tuple(rows), tuple(cells), tuple(headings), tuple(servings), us_style, nets)


_US_MARKERS = re.compile(r"nutrition facts|amount per serving|servings? per|% daily value|daily values? are based|"
                         r"calories from fat")


def _headings(item: Placed) -> list[Heading]:
    """One heading per basis a heading line names, each over its own part of the line."""
    text = fold(item.line.text)
    parts = heading_parts(text)
    headings = []
    for index, (basis, start, end) in enumerate(parts):
        stop = parts[index + 1][1] if index + 1 < len(parts) else len(text)
        box = NormBox(_x_at(item, start, len(text)), item.box.y0, _x_at(item, end, len(text)), item.box.y1)
        headings.append(Heading(basis, Placed(item.line, box, item.frame_box, item.box),
                                serving_grams(text[start:stop])))
    return headings


_ENGLISH = re.compile(r"protein|fat|saturate|carb|sugar|fib(?:re|er)|salt|sodium|energy|calorie")


def _row_of(item: Placed, named: Sequence[tuple[Nutrient | None, int, int]]) -> tuple[Row, list[Cell]]:
    """The row a label line starts, and the amounts printed after each name in it (running text names many)."""
    text = label_text(item.line.text)
    amounts = amounts_in(text)
    bound: list[Cell] = []
    first = text[named[0][1]:named[0][2]]
    row = Row(named[0][0], item, _x_at(item, named[0][2], len(text)), bool(_ENGLISH.search(first)))
    for index, (nutrient, _, end) in enumerate(named):
        stop = named[index + 1][1] if index + 1 < len(named) else len(text)
        mine = [amount for amount in amounts if end <= amount.start < stop]
        bound += _cells(item, text, mine, nutrient, row)
    return row, bound


def _cells(item: Placed, text: str, amounts: Sequence[Amount], nutrient: Nutrient | None = None,
           row: Row | None = None) -> list[Cell]:
    return [Cell(amount, _x_at(item, amount.start, len(text)), _x_at(item, amount.end, len(text)), item, nutrient,
                 row) for amount in amounts]


def _x_at(item: Placed, index: int, length: int) -> float:
    """Where in the line's box a character stands, assuming even spacing (good enough to tell columns apart)."""
    share = index / max(1, length)
    return item.box.x0 + share * (item.box.x1 - item.box.x0)


def _is_value_text(text: str) -> bool:
    """A cell of values: amounts and units only ("5.3 g", "407 kJ / 97 kcal", "<0.5g", "12%")."""
    folded = label_text(text)
    amounts = amounts_in(folded)
    if not amounts:
        return False
    rest = folded
    for amount in reversed(amounts):
        rest = rest[:amount.start] + rest[amount.end:]
    letters = sum(char.isalpha() for char in rest)
    return letters <= 3


def _serving_beside(item: Placed, placed: Sequence[Placed]) -> float | None:
    """"Serving Size" whose amount the detector set apart on its row ("Serving Size" | "1 bag (58.5g)")."""
    if "serving size" not in label_text(item.line.text) or serving_grams(item.line.text) is not None:
        return None
    beside = [other for other in placed if other is not item and other.box.x0 >= item.box.x1 - 0.01
              and abs(other.y - item.y) <= 0.5 * max(item.height, other.height)]
    for other in sorted(beside, key=lambda other: other.box.x0):
        size = serving_grams("serving " + other.line.text)
        if size is not None:
            return size
    return None


def median_height(rows: Sequence[Row]) -> float:
    return statistics.median([row.placed.height for row in rows]) if rows else 0.0
