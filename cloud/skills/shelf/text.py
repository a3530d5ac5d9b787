"""Which OCR lines belong to which package on a shelf: names, protein lines and panels, grouped.

Grouping, in words: every line that states a protein amount is one product's panel. That product's name
is the largest non-panel text above the protein line in the same column (horizontally overlapping it),
and below any other product's protein line in that column; text of similar size right next to it (a
brand above a name, or words the detector split) joins the name, unless it stands over another product's
panel. Panel text (Nutrition Facts, Serving, Calories...) in the column near the protein line belongs to the
same product but never names it. Text no protein line claims is a package whose panel is hidden
(:func:`find_unlabelled`). Pure functions of the OCR lines, so they are tested without a model.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.perception.segmentation import package_of
from eyeline.cloud.skills.shelf.labels import (
    is_bare_amount,
    is_bare_protein_label,
    is_name_text,
    is_panel_text,
    is_per_100g_heading,
    parse_protein_grams,
    parse_serving_grams,
    states_per_100g,
)
from eyeline.cloud.skills.shelf.ranking import Basis, ProductReading, label_reading
from eyeline.cloud.skills.shelf.tables import as_table


class UnreadableAmountError(CloudError):
    """A product was handed to reading whose protein line states no amount."""


# ------------------------------------------------------------------ geometry helpers


def _x_overlap(a: NormBox, b: NormBox) -> float:
    return min(a.x1, b.x1) - max(a.x0, b.x0)


def same_column(a: NormBox, b: NormBox) -> bool:
    narrower = min(a.x1 - a.x0, b.x1 - b.x0)
    return _x_overlap(a, b) >= 0.3 * narrower


def _gap(lo0: float, lo1: float, hi0: float, hi1: float) -> float:
    """Distance between two intervals; zero or less when they overlap."""
    return max(lo0, hi0) - min(lo1, hi1)


def _same_row(a: NormBox, b: NormBox) -> bool:
    shorter = min(a.y1 - a.y0, b.y1 - b.y0)
    return -_gap(a.y0, a.y1, b.y0, b.y1) >= 0.5 * shorter


def _continues(line: TextLine, span: NormBox, anchor: TextLine, aspect: float) -> bool:
    """Whether ``line`` continues a name: stacked right under/over it, or next to it on its row.

    ``aspect`` (width / height) turns normalized x distances into units of frame height, like text heights.
    """
    box = line.box
    line_gap = _gap(box.y0, box.y1, span.y0, span.y1)
    word_gap = _gap(box.x0, box.x1, span.x0, span.x1) * aspect
    stacked = same_column(box, span) and line_gap <= _LINE_BREAK * anchor.height
    beside = _same_row(box, span) and word_gap <= _WORD_SPACE * min(line.height, anchor.height)
    return stacked or beside


def _union(boxes: Iterable[NormBox]) -> NormBox:
    remaining = iter(boxes)
    total = next(remaining)
    for box in remaining:
        total = total.union(box)
    return total


# ------------------------------------------------------------------ grouping

# How far, in text heights, the next part of a name may be: a line break below, or a word space beside;
# never as far as the gap between two packages.
_LINE_BREAK = 0.8
_WORD_SPACE = 0.6
# A package's name is display type, set larger than the rows of its nutrition panel; where no table can be
# (above the panel's heading, or with no panel text over it) it may be as small as most of a row.
_NAME_MIN_HEIGHT = 1.15
_HEADED_NAME_MIN_HEIGHT = 0.8
_PANEL_HEADING = re.compile(r"^\W*nutrition", re.IGNORECASE)
# A panel runs a few lines on either side of its protein line (energy and fat above, sugars and salt below).
_PANEL_REACH_LINES = 6


@dataclass(frozen=True, slots=True)
class ProductText:
    """The OCR lines that belong to one package."""

    name_lines: tuple[TextLine, ...]
    protein_line: TextLine
    panel_lines: tuple[TextLine, ...] = ()
    # The same table's protein row on another basis ("Per serving ... Protein 6 g" under "Per 100 g ... 20 g").
    more_protein_lines: tuple[TextLine, ...] = ()

    @property
    def name(self) -> str:
        return " ".join(" ".join(line.text.split()) for line in self.name_lines)

    @property
    def region(self) -> NormBox:
        return _union(line.box for line in (*self.name_lines, self.protein_line, *self.more_protein_lines,
                                            *self.panel_lines))

    @property
    def readable(self) -> NormBox:
        """The text the reading rests on: the name and the protein rows."""
        return _union(line.box for line in (*self.name_lines, self.protein_line, *self.more_protein_lines))


def join_split_amounts(lines: Sequence[TextLine]) -> tuple[TextLine, ...]:
    """Join a bare "Protein" label with the bare amount to its right on the same row ("Protein" + "20g")."""
    joined: list[TextLine] = []
    used: set[int] = set()
    for index, line in enumerate(lines):
        if index in used or not is_bare_protein_label(line.text):
            continue
        value = _amount_right_of(line, lines, used)
        if value is not None:
            used.update({index, value})
            joined.append(_joined_line(line, lines[value]))
    return (*joined, *(line for index, line in enumerate(lines) if index not in used))


def _amount_right_of(label: TextLine, lines: Sequence[TextLine], used: set[int]) -> int | None:
    candidates = [
        (line.box.x0 - label.box.x1, index) for index, line in enumerate(lines)
        if index not in used and is_bare_amount(line.text) and line.box.x0 >= label.box.center[0]
        and -_gap(label.box.y0, label.box.y1, line.box.y0, line.box.y1) >= 0.5 * min(label.height, line.height)
        and line.box.x0 - label.box.x1 <= 4 * label.width
    ]
    return min(candidates)[1] if candidates else None


def _joined_line(label: TextLine, value: TextLine) -> TextLine:
    box = label.box.union(value.box)
    quad = ((box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1))
    return TextLine(text=f"{label.text} {value.text}", score=min(label.score, value.score), box=box, quad=quad)


def group_products(lines: Sequence[TextLine], aspect: float = 16 / 9,
                   packages: Sequence[NormBox] = ()) -> tuple[ProductText, ...]:
    """Split a frame's OCR lines into products, one per readable protein amount, left to right.

    ``aspect`` is the frame's width / height, so distances across and down the frame compare fairly.
    ``packages`` are the package regions segmented from the frame: text on one package never names, nor
    joins the panel of, a protein line on another, however the columns line up.
    """
    lines = join_split_amounts(lines)
    protein_lines = sorted((line for line in lines if parse_protein_grams(line.text) is not None),
                           key=lambda line: (line.box.y0, line.box.x0))
    names = [line for line in lines if is_name_text(line)]
    panel = [line for line in lines if is_panel_text(line.text)]
    products: list[ProductText] = []
    for protein_line in protein_lines:
        own_package = [line for line in names if not _apart(line, protein_line, packages)]
        name_lines = _name_lines(protein_line, own_package, protein_lines, aspect, panel)
        if name_lines and any(name_lines == product.name_lines for product in products):
            continue  # a second amount on a package already found (e.g. a repeated panel)
        products.append(ProductText(name_lines, protein_line))
    products = _one_per_table(products, packages)
    products = [_with_heading(product, lines, protein_lines, packages)
                for product in _with_panel_lines(products, lines, packages)]
    return tuple(sorted(products, key=lambda product: (product.region.x0, product.region.y0)))


def _one_per_table(products: Sequence[ProductText], packages: Sequence[NormBox]) -> list[ProductText]:
    """A nameless protein row close under another in its column is that table's row on another basis (a panel
    per 100 g and per serving one above the other), not a product of its own."""
    kept: list[ProductText] = []
    for product in sorted(products, key=lambda p: p.protein_line.box.y0):
        own = product.protein_line
        above = [index for index, other in enumerate(kept) if same_column(other.protein_line.box, own.box)
                 and other.protein_line.box.y1 <= own.box.y0
                 and own.box.y0 - other.protein_line.box.y1 <= _PANEL_REACH_LINES * own.height
                 and not _apart(own, other.protein_line, packages)]
        if product.name_lines or not above:
            kept.append(product)
            continue
        index = max(above, key=lambda i: kept[i].protein_line.box.y1)
        host = kept[index]
        kept[index] = ProductText(host.name_lines, host.protein_line, host.panel_lines,
                                  (*host.more_protein_lines, own))
    return kept


def _panel_row_height(protein_line: TextLine, panel: Sequence[TextLine]) -> float:
    """The typical height of the panel rows around a protein line (the line itself included)."""
    reach = _PANEL_REACH_LINES * protein_line.height
    rows = [line.height for line in panel if same_column(line.box, protein_line.box)
            and abs(line.box.center[1] - protein_line.box.center[1]) <= reach]
    return statistics.median(rows or [protein_line.height])


def _name_lines(protein_line: TextLine, names: Sequence[TextLine], protein_lines: Sequence[TextLine],
                aspect: float, panel: Sequence[TextLine]) -> tuple[TextLine, ...]:
    others = [other for other in protein_lines if other is not protein_line]
    ceiling = max((other.box.y1 for other in others
                   if other.box.y1 <= protein_line.box.y0 and same_column(other.box, protein_line.box)),
                  default=0.0)
    above = [line for line in names if line.box.y0 >= ceiling and line.box.center[1] < protein_line.box.y0
             and not _over_another_panel(line, protein_line, others)]
    column = [line for line in above if same_column(line.box, protein_line.box)]
    if not column:
        return ()
    anchor = max(column, key=lambda line: (line.height, line.box.y1))
    row_height = _panel_row_height(protein_line, panel)
    least = _HEADED_NAME_MIN_HEIGHT if _above_heading(anchor, protein_line, panel) else _NAME_MIN_HEIGHT
    if anchor.height < least * row_height:
        return ()  # only panel-sized text above: rows of the same table, not the package's name
    return _reading_order(_stacked_with(anchor, above, aspect))


def _above_heading(anchor: TextLine, protein_line: TextLine, panel: Sequence[TextLine]) -> bool:
    """Whether the panel's heading stands between ``anchor`` and the protein line, in their column."""
    return any(_PANEL_HEADING.match(line.text) and same_column(line.box, protein_line.box)
               and anchor.box.y1 <= line.box.y0 and line.box.y1 <= protein_line.box.y0 for line in panel)


def _over_another_panel(line: TextLine, own: TextLine, others: Sequence[TextLine]) -> bool:
    """A line in another product's column (and not in this one's) names that product, however close it is."""
    return not same_column(line.box, own.box) and any(
        same_column(line.box, other.box) and other.box.y0 > line.box.center[1] for other in others)


def _stacked_with(anchor: TextLine, candidates: Sequence[TextLine], aspect: float) -> list[TextLine]:
    """The anchor plus similar-sized lines that continue it (brand over name, or words split apart)."""
    similar = [line for line in candidates if line is not anchor and line.height >= 0.6 * anchor.height]
    members = [anchor]
    span = anchor.box
    grew = True
    while grew:
        grew = False
        for line in similar:
            if line not in members and _continues(line, span, anchor, aspect):
                members.append(line)
                span = span.union(line.box)
                grew = True
    return members


def _reading_order(lines: Sequence[TextLine]) -> tuple[TextLine, ...]:
    """Top to bottom by row (lines sharing most of their height are one row), left to right within a row."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda line: line.box.center[1]):
        if rows and _same_row(rows[-1][0].box, line.box):
            rows[-1].append(line)
        else:
            rows.append([line])
    return tuple(line for row in rows for line in sorted(row, key=lambda line: line.box.x0))


def _with_heading(product: ProductText, lines: Sequence[TextLine], protein_lines: Sequence[TextLine],
                  packages: Sequence[NormBox]) -> ProductText:
    """The product with the per-100 g heading of its value column, however far up the table it stands."""
    own = product.protein_line
    ceiling = max((other.box.y1 for other in protein_lines if other is not own and other.box.y1 <= own.box.y0
                   and same_column(other.box, own.box)), default=0.0)
    headings = [line for line in lines if is_per_100g_heading(line.text) and ceiling <= line.box.y0
                and line.box.y1 <= own.box.y0 and same_column(line.box, own.box) and not _apart(line, own, packages)]
    if not headings or any(line in product.panel_lines for line in headings):
        return product
    nearest = max(headings, key=lambda line: line.box.y1)
    return ProductText(product.name_lines, own, (nearest, *product.panel_lines), product.more_protein_lines)


def _apart(line: TextLine, other: TextLine, packages: Sequence[NormBox]) -> bool:
    """Whether two lines are known to sit on different packages: both inside segmented regions, not the same."""
    own, theirs = package_of(line.box, packages), package_of(other.box, packages)
    if own is None or theirs is None or own == theirs:
        return False
    # Regions that overlap much are one package segmented in two, not two packages.
    overlap = max(0.0, _x_overlap(own, theirs)) * max(0.0, -_gap(own.y0, own.y1, theirs.y0, theirs.y1))
    return overlap < 0.1 * min(_area(own), _area(theirs))


def _with_panel_lines(products: Sequence[ProductText], lines: Sequence[TextLine],
                      packages: Sequence[NormBox] = ()) -> list[ProductText]:
    taken = {id(line) for product in products for line in (*product.name_lines, product.protein_line)}
    panel: dict[int, list[TextLine]] = {index: [] for index in range(len(products))}
    for line in lines:
        if id(line) in taken or not is_panel_text(line.text):
            continue
        owner = _panel_owner(line, products, packages)
        if owner is not None:
            panel[owner].append(line)
    return [ProductText(product.name_lines, product.protein_line, tuple(panel[index]), product.more_protein_lines)
            for index, product in enumerate(products)]


def _panel_owner(line: TextLine, products: Sequence[ProductText], packages: Sequence[NormBox]) -> int | None:
    """The product whose protein line shares this line's column and is vertically closest, if close."""
    best: tuple[float, int] | None = None
    for index, product in enumerate(products):
        protein = product.protein_line.box
        reach = _PANEL_REACH_LINES * product.protein_line.height
        top = max((name.box.y1 for name in product.name_lines), default=protein.y0 - reach)
        reach_below = protein.y1 + reach
        centre_y = line.box.center[1]
        if not same_column(line.box, protein) or not top <= centre_y <= reach_below \
                or _apart(line, product.protein_line, packages):
            continue
        distance = abs(centre_y - protein.center[1])
        if best is None or distance < best[0]:
            best = (distance, index)
    return None if best is None else best[1]


# ------------------------------------------------------------------ reading


def read_product(text: ProductText) -> ProductReading:
    """A panel's protein figure on its stated basis, with the serving size read beside it."""
    grams = parse_protein_grams(text.protein_line.text)
    if grams is None:
        raise UnreadableAmountError(f"line {text.protein_line.text!r} states no protein amount")
    panel = [line.text for line in text.panel_lines]
    basis = Basis.PER_100G if states_per_100g(text.protein_line.text, panel) else Basis.PER_SERVING
    serving = next((grams for grams in map(parse_serving_grams, panel) if grams is not None), None)
    reading = label_reading(text.name, text.region, grams, basis, serving, text.protein_line.score)
    return replace(as_table(reading, text), readable=text.readable)


@dataclass(frozen=True, slots=True)
class UnlabelledText:
    """Display text of a package with no readable protein amount, and whether a panel sits under it."""

    name_lines: tuple[TextLine, ...]
    has_panel: bool

    @property
    def name(self) -> str:
        return " ".join(" ".join(line.text.split()) for line in self.name_lines)

    @property
    def region(self) -> NormBox:
        return _union(line.box for line in self.name_lines)


def find_unlabelled(lines: Sequence[TextLine], products: Sequence[ProductText],
                    aspect: float = 16 / 9, packages: Sequence[NormBox] = ()) -> tuple[UnlabelledText, ...]:
    """Names of packages whose panel is hidden or unreadable, left to right: display-size text no product owns."""
    used = {id(line) for product in products for line in (*product.name_lines, product.protein_line,
                                                          *product.panel_lines)}
    panel = [line for line in lines if is_panel_text(line.text)]
    row_height = statistics.median([line.height for line in panel]) if panel else 0.0
    free = [line for line in lines if id(line) not in used and is_name_text(line)
            and not any(same_column(line.box, p.protein_line.box) and line.box.y1 <= p.protein_line.box.y0
                        and not _apart(line, p.protein_line, packages) for p in products)]
    found: list[UnlabelledText] = []
    while free:
        anchor = max(free, key=lambda line: line.height)
        if anchor.height < _HEADED_NAME_MIN_HEIGHT * row_height:
            break  # what is left is panel-sized text, not a package's name
        if anchor.height < _NAME_MIN_HEIGHT * row_height and _under_panel_text(anchor, panel):
            free.remove(anchor)  # a row-sized line inside or below a table is one of its rows
            continue
        group = _stacked_with(anchor, free, aspect)
        free = [line for line in free if line not in group]
        names = _reading_order(group)
        region = _union(line.box for line in names)
        has_panel = any(same_column(line.box, region) and line.box.y0 >= region.y1 for line in panel)
        found.append(UnlabelledText(names, has_panel))
    return tuple(sorted(found, key=lambda item: (item.region.x0, item.region.y0)))


def _under_panel_text(line: TextLine, panel: Sequence[TextLine]) -> bool:
    """Whether panel text stands above ``line`` in its column; a package's name has none over it."""
    return any(same_column(line.box, other.box) and other.box.y1 <= line.box.center[1] for other in panel)


def _area(box: NormBox) -> float:
    return (box.x1 - box.x0) * (box.y1 - box.y0)
