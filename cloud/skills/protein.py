"""Rank the products in view by protein per serving, read from their nutrition panels.

The chain of steps: perceive (OCR the frame), group (which lines belong to which package), read (each
package's name and protein), compare (rank), answer. Parsing and grouping are pure functions of the
OCR lines, so they are tested without a model.

Grouping, in words: every line that states a protein amount is one product's panel. That product's name
is the largest non-panel text above the protein line in the same column (horizontally overlapping it),
and below any other product's protein line in that column; text of similar size right next to it (a
brand above a name, or words the detector split) joins the name, unless it stands over another product's
panel. Panel text (Nutrition Facts, Serving,
Calories...) in the column near the protein line belongs to the same product but never names it.

Nothing is guessed: a package whose protein amount cannot be read is left out of the ranking, so is one
whose text runs into the frame's edge (it is cut off, so its name and panel may be incomplete), and a
frame with no readable amount gets an answer that says so.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from eyeline.cloud.errors import CloudError
from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import (
    Mode,
    NormBox,
    SkillResult,
    StepKind,
    TraceStep,
)
from eyeline.cloud.perception.crops import from_crop, package_crop
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.grounding import CatalogMatcher
from eyeline.cloud.skills.ranking import (
    Basis,
    ProductReading,
    Ranking,
    Source,
    answer_text,
    catalog_reading,
    label_reading,
    overlay_items,
    rank_by_protein,
)

AGENT = "shelf"
# A per-serving amount beyond this is an OCR misread (merged digits), not food.
MAX_PLAUSIBLE_PROTEIN_G = 100.0


class UnreadableAmountError(CloudError):
    """A product was handed to reading whose protein line states no amount."""


# ------------------------------------------------------------------ parsing

# OCR confuses O with 0 and l/I with 1 inside numbers; a token counts only if it holds a real digit.
_NUMBER = r"(?P<num>[0-9OoIl]*[0-9][0-9OoIl]*(?:[.,][0-9Oo]+)?)"
_GRAMS = r"(?P<unit>mg|milligrams?|grams?|gr|g)(?![a-z])"
_PROTEIN_WORD = r"pr[o0]t[e3]in"
_LABEL_FIRST = re.compile(rf"{_PROTEIN_WORD}\s*[:.]?\s*{_NUMBER}\s*{_GRAMS}", re.IGNORECASE)
_AMOUNT_FIRST = re.compile(rf"(?<![a-z0-9.,]){_NUMBER}\s*{_GRAMS}\s*(?:of\s+)?{_PROTEIN_WORD}", re.IGNORECASE)
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", ",": "."})

_BARE_PROTEIN_LABEL = re.compile(rf"^\W*{_PROTEIN_WORD}\W*$", re.IGNORECASE)
_BARE_GRAMS = re.compile(rf"^\W*{_NUMBER}\s*{_GRAMS}\W*$", re.IGNORECASE)
_PANEL_PREFIX = re.compile(r"^\W*(nutrition|serving|servings|per\s+(serving|100)|amount\s+per|%\s*daily|daily\s+value)",
                           re.IGNORECASE)
_PANEL_WORDS = frozenset({
    "nutrition", "facts", "information", "calories", "calorie", "kcal", "kj", "energy", "protein", "fat",
    "total", "saturated", "trans", "carbohydrate", "carbohydrates", "carbs", "sugar", "sugars", "sodium",
    "salt", "fiber", "fibre", "cholesterol", "g", "mg", "cal", "%",
})
_AMOUNT_TOKEN = re.compile(r"^[0-9OoIl]*[0-9][0-9OoIl]*(?:[.,][0-9]+)?(?:g|mg|kcal|kj|cal|%)?$", re.IGNORECASE)


def parse_protein_grams(text: str) -> float | None:
    """Grams of protein stated by one OCR line ("Protein 20g", "20 g protein"), or None if it states none."""
    match = _LABEL_FIRST.search(text) or _AMOUNT_FIRST.search(text)
    if match is None:
        return None
    grams = float(match.group("num").translate(_DIGIT_LOOKALIKES))
    if match.group("unit").lower().startswith("m"):
        grams /= 1000.0  # milligrams: normalised to grams like every other figure
    return grams if 0.0 <= grams <= MAX_PLAUSIBLE_PROTEIN_G else None


_PER_100 = re.compile(r"(?:\bper\s*|/\s*)100\s*(?:g|ml)\b", re.IGNORECASE)
_PER_SERVING = re.compile(r"\b(?:per|amount\s+per)\s+(?:serving|portion|bar|pack)\b", re.IGNORECASE)
_SERVING_LINE = re.compile(r"\b(?:serving|portion)", re.IGNORECASE)
_SERVING_AMOUNT = re.compile(rf"{_NUMBER}\s*(?:g|ml)\b", re.IGNORECASE)


def parse_serving_grams(text: str) -> float | None:
    """The serving size a line states ("Serving 60g", "Serving size 1 bag (58.5g)"), or None."""
    if not _SERVING_LINE.search(text) or _PER_100.search(text):
        return None
    amounts = _SERVING_AMOUNT.findall(text)
    if not amounts:
        return None
    grams = float(amounts[-1].translate(_DIGIT_LOOKALIKES))
    return grams if grams > 0.0 else None


def states_per_100g(protein_line: str, panel: Sequence[str]) -> bool:
    """Whether a protein amount is per 100 g: said on its own line, or by a panel heading with no per-serving one."""
    if _PER_100.search(protein_line):
        return True
    return any(_PER_100.search(text) for text in panel) and not any(_PER_SERVING.search(text) for text in panel)


def is_panel_text(text: str) -> bool:
    """True for nutrition-panel boilerplate: labels, amounts, headings; never a product's name."""
    if _PANEL_PREFIX.match(text) or parse_protein_grams(text) is not None:
        return True
    tokens = re.findall(r"[^\s:()\[\]/]+", text.lower())
    return bool(tokens) and all(token in _PANEL_WORDS or _AMOUNT_TOKEN.match(token) for token in tokens)


# Text that states a quantity ("58.5g", "100 ml") or a serving ("servings per container", "per 100g") is
# label information, never a product's name.
_QUANTITY = re.compile(r"\d(?:[.,]\d+)?\s*(?:g|mg|kg|ml|l|kcal|kj)\b", re.IGNORECASE)
_SERVING_WORDS = re.compile(r"\b(servings?|container|portions?|per\s+100|typical\s+values?)\b", re.IGNORECASE)
# Nutrient names a product is not called by ("fat" and "protein" stay out: "Low Fat Yoghurt", "Protein Bar").
_NUTRIENT_WORDS = re.compile(
    r"\b(nutrients?|nutrition|dietary|fib(?:er|re)|sugars|sodium|cholesterol|carbohydrates?|saturated|"
    r"vitamins?|calcium|iron|potassium|calories|kcal|kj)\b", re.IGNORECASE)


def is_name_text(line: TextLine) -> bool:
    letters = sum(char.isalpha() for char in line.text)
    if letters < 2 or any(p.search(line.text) for p in (_QUANTITY, _SERVING_WORDS, _NUTRIENT_WORDS)):
        return False
    return not is_panel_text(line.text)


# ------------------------------------------------------------------ geometry helpers


def _x_overlap(a: NormBox, b: NormBox) -> float:
    return min(a.x1, b.x1) - max(a.x0, b.x0)


def _same_column(a: NormBox, b: NormBox) -> bool:
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
    stacked = _same_column(box, span) and line_gap <= _LINE_BREAK * anchor.height
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

    @property
    def name(self) -> str:
        return " ".join(" ".join(line.text.split()) for line in self.name_lines)

    @property
    def region(self) -> NormBox:
        return _union(line.box for line in (*self.name_lines, self.protein_line, *self.panel_lines))


def join_split_amounts(lines: Sequence[TextLine]) -> tuple[TextLine, ...]:
    """Join a bare "Protein" label with the bare amount to its right on the same row ("Protein" + "20g")."""
    joined: list[TextLine] = []
    used: set[int] = set()
    for index, line in enumerate(lines):
        if index in used or not _BARE_PROTEIN_LABEL.match(line.text):
            continue
        value = _amount_right_of(line, lines, used)
        if value is not None:
            used.update({index, value})
            joined.append(_joined_line(line, lines[value]))
    return (*joined, *(line for index, line in enumerate(lines) if index not in used))


def _amount_right_of(label: TextLine, lines: Sequence[TextLine], used: set[int]) -> int | None:
    candidates = [
        (line.box.x0 - label.box.x1, index) for index, line in enumerate(lines)
        if index not in used and _BARE_GRAMS.match(line.text) and line.box.x0 >= label.box.center[0]
        and -_gap(label.box.y0, label.box.y1, line.box.y0, line.box.y1) >= 0.5 * min(label.height, line.height)
        and line.box.x0 - label.box.x1 <= 4 * label.width
    ]
    return min(candidates)[1] if candidates else None


def _joined_line(label: TextLine, value: TextLine) -> TextLine:
    box = label.box.union(value.box)
    quad = ((box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1))
    return TextLine(text=f"{label.text} {value.text}", score=min(label.score, value.score), box=box, quad=quad)


def group_products(lines: Sequence[TextLine], aspect: float = 16 / 9) -> tuple[ProductText, ...]:
    """Split a frame's OCR lines into products, one per readable protein amount, left to right.

    ``aspect`` is the frame's width / height, so distances across and down the frame compare fairly.
    """
    lines = join_split_amounts(lines)
    protein_lines = sorted((line for line in lines if parse_protein_grams(line.text) is not None),
                           key=lambda line: (line.box.y0, line.box.x0))
    names = [line for line in lines if is_name_text(line)]
    panel = [line for line in lines if is_panel_text(line.text)]
    products: list[ProductText] = []
    for protein_line in protein_lines:
        name_lines = _name_lines(protein_line, names, protein_lines, aspect, panel)
        if name_lines and any(name_lines == product.name_lines for product in products):
            continue  # a second amount on a package already found (e.g. a repeated panel)
        products.append(ProductText(name_lines, protein_line))
    products = _with_panel_lines(products, lines)
    return tuple(sorted(products, key=lambda product: (product.region.x0, product.region.y0)))


def _panel_row_height(protein_line: TextLine, panel: Sequence[TextLine]) -> float:
    """The typical height of the panel rows around a protein line (the line itself included)."""
    reach = _PANEL_REACH_LINES * protein_line.height
    rows = [line.height for line in panel if _same_column(line.box, protein_line.box)
            and abs(line.box.center[1] - protein_line.box.center[1]) <= reach]
    return statistics.median(rows or [protein_line.height])


def _name_lines(protein_line: TextLine, names: Sequence[TextLine], protein_lines: Sequence[TextLine],
                aspect: float, panel: Sequence[TextLine]) -> tuple[TextLine, ...]:
    others = [other for other in protein_lines if other is not protein_line]
    ceiling = max((other.box.y1 for other in others
                   if other.box.y1 <= protein_line.box.y0 and _same_column(other.box, protein_line.box)),
                  default=0.0)
    above = [line for line in names if line.box.y0 >= ceiling and line.box.center[1] < protein_line.box.y0
             and not _over_another_panel(line, protein_line, others)]
    column = [line for line in above if _same_column(line.box, protein_line.box)]
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
    return any(_PANEL_HEADING.match(line.text) and _same_column(line.box, protein_line.box)
               and anchor.box.y1 <= line.box.y0 and line.box.y1 <= protein_line.box.y0 for line in panel)


def _over_another_panel(line: TextLine, own: TextLine, others: Sequence[TextLine]) -> bool:
    """A line in another product's column (and not in this one's) names that product, however close it is."""
    return not _same_column(line.box, own.box) and any(
        _same_column(line.box, other.box) and other.box.y0 > line.box.center[1] for other in others)


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


def _with_panel_lines(products: Sequence[ProductText], lines: Sequence[TextLine]) -> list[ProductText]:
    taken = {id(line) for product in products for line in (*product.name_lines, product.protein_line)}
    panel: dict[int, list[TextLine]] = {index: [] for index in range(len(products))}
    for line in lines:
        if id(line) in taken or not is_panel_text(line.text):
            continue
        owner = _panel_owner(line, products)
        if owner is not None:
            panel[owner].append(line)
    return [ProductText(product.name_lines, product.protein_line, tuple(panel[index]))
            for index, product in enumerate(products)]


def _panel_owner(line: TextLine, products: Sequence[ProductText]) -> int | None:
    """The product whose protein line shares this line's column and is vertically closest, if close."""
    best: tuple[float, int] | None = None
    for index, product in enumerate(products):
        protein = product.protein_line.box
        reach = _PANEL_REACH_LINES * product.protein_line.height
        top = max((name.box.y1 for name in product.name_lines), default=protein.y0 - reach)
        reach_below = protein.y1 + reach
        centre_y = line.box.center[1]
        if not _same_column(line.box, protein) or not top <= centre_y <= reach_below:
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
    return label_reading(text.name, text.region, grams, basis, serving, text.protein_line.score)


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
                    aspect: float = 16 / 9) -> tuple[UnlabelledText, ...]:
    """Names of packages whose panel is hidden or unreadable, left to right: display-size text no product owns."""
    used = {id(line) for product in products for line in (*product.name_lines, product.protein_line,
                                                          *product.panel_lines)}
    panel = [line for line in lines if is_panel_text(line.text)]
    row_height = statistics.median([line.height for line in panel]) if panel else 0.0
    free = [line for line in lines if id(line) not in used and is_name_text(line)
            and not any(_same_column(line.box, p.protein_line.box) and line.box.y1 <= p.protein_line.box.y0
                        for p in products)]
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
        has_panel = any(_same_column(line.box, region) and line.box.y0 >= region.y1 for line in panel)
        found.append(UnlabelledText(names, has_panel))
    return tuple(sorted(found, key=lambda item: (item.region.x0, item.region.y0)))


def _under_panel_text(line: TextLine, panel: Sequence[TextLine]) -> bool:
    """Whether panel text stands above ``line`` in its column; a package's name has none over it."""
    return any(_same_column(line.box, other.box) and other.box.y1 <= line.box.center[1] for other in panel)


# ------------------------------------------------------------------ the skill

_PROTEIN_QUESTION = re.compile(r"\bprotein", re.IGNORECASE)
_RANKING_WORDS = re.compile(r"\b(most|highest|higher|more|max\w*|rank\w*|best|top|richest|compare|sort\w*|order\w*|"
                            r"which|largest|biggest|greatest)\b", re.IGNORECASE)


class ProteinRankingSkill:
    """Ranks the packages in view by protein and pins the ranks onto them.

    ``catalog`` grounds packages whose panel cannot be read; without one they are "unknown". In
    ``THINKING`` and ``CONTEMPLATING`` modes, packages read with low confidence or not at all are re-read
    from a crop at twice the resolution before ranking; the planner stops there once all are confident.
    """

    name = "protein"
    examples = ("which of these has the most protein?", "rank by protein")

    def __init__(self, catalog: Sequence[CatalogProduct] = ()) -> None:
        self._matcher = CatalogMatcher(catalog)

    def matches(self, question: str) -> bool:
        return bool(_PROTEIN_QUESTION.search(question) and _RANKING_WORDS.search(question))

    async def answer(self, ctx: SkillContext) -> SkillResult:
        steps: list[TraceStep] = []
        lines = await self._perceive(ctx, steps)
        aspect = ctx.image.shape[1] / ctx.image.shape[0]
        readings = self._read_all(lines, aspect, steps)
        if ctx.mode is not Mode.INSTANT and _doubtful(readings):
            readings = await self._reread(ctx, readings, steps)
        readings = self._verify(readings, steps)
        ranking = self._compare(readings, steps)
        started = time.perf_counter_ns()
        text = answer_text(ranking)
        steps.append(TraceStep(StepKind.ANSWER, text, evidence=tuple(r.region for r in ranking.ranked[:1]),
                               confidence=min((r.confidence for r in ranking.ranked[:1]), default=0.0),
                               cost_us=_since_us(started), agent=AGENT))
        return SkillResult(answer=text, items=overlay_items(ranking), steps=tuple(steps),
                           confidence=_ranking_confidence(ranking))

    @staticmethod
    async def _perceive(ctx: SkillContext, steps: list[TraceStep]) -> tuple[TextLine, ...]:
        started = time.perf_counter_ns()
        lines = await ctx.ocr.read(ctx.image)
        steps.append(TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines",
                               evidence=tuple(line.box for line in lines), cost_us=_since_us(started), agent=AGENT))
        return lines

    def _read_all(self, lines: Sequence[TextLine], aspect: float, steps: list[TraceStep]) -> list[ProductReading]:
        products = self._group(lines, aspect=aspect, steps=steps)
        readings = [self._read(product, steps) for product in products]
        for unlabelled in find_unlabelled(lines, products, aspect):
            reading = self._ground(unlabelled, steps)
            if reading is not None:
                readings.append(reading)
        return readings

    @staticmethod
    def _group(lines: Sequence[TextLine], *, aspect: float, steps: list[TraceStep]) -> tuple[ProductText, ...]:
        started = time.perf_counter_ns()
        products = group_products(lines, aspect=aspect)
        steps.append(TraceStep(StepKind.GROUP, f"{len(products)} products with a protein amount",
                               evidence=tuple(product.region for product in products),
                               cost_us=_since_us(started), agent=AGENT))
        return products

    @staticmethod
    def _read(product: ProductText, steps: list[TraceStep]) -> ProductReading:
        started = time.perf_counter_ns()
        reading = read_product(product)
        text = f"{reading.display_name}: protein {reading.protein_g:g} g"
        text += f" ({reading.note})" if reading.note else ""
        if reading.cut_off:
            text += " (package cut off at the edge of view; not ranked)"
        steps.append(TraceStep(StepKind.READ, text, evidence=(product.protein_line.box,),
                               confidence=reading.confidence, cost_us=_since_us(started), agent=AGENT))
        return reading

    def _ground(self, unlabelled: UnlabelledText, steps: list[TraceStep]) -> ProductReading | None:
        """Catalog figures for a package with no readable amount; unknown only if a panel shows it is one."""
        started = time.perf_counter_ns()
        reading = catalog_reading(unlabelled.name, unlabelled.region, self._matcher)
        if reading.source is Source.UNKNOWN and not unlabelled.has_panel:
            return None  # display text with no panel and no catalog entry: a sign, a sticker, not a product
        text = (f"{unlabelled.name!r}: no readable amount; " + (
            f"catalog says {reading.per_serving_g} g per serving" if reading.source is Source.CATALOG
            else "not in the catalog, so unknown"))
        steps.append(TraceStep(StepKind.GROUND, text, evidence=(unlabelled.region,), confidence=reading.confidence,
                               cost_us=_since_us(started), agent=AGENT))
        return reading

    async def _reread(self, ctx: SkillContext, readings: list[ProductReading],
                      steps: list[TraceStep]) -> list[ProductReading]:
        """Re-read each doubtful package from a crop at twice the resolution; keep the better reading."""
        better: list[ProductReading] = []
        budget = MAX_REREADS
        for reading in sorted(readings, key=lambda r: r.confidence):
            if not _is_doubtful(reading) or budget == 0:
                better.append(reading)
                continue
            budget -= 1
            started = time.perf_counter_ns()
            crop, window = package_crop(ctx.image, reading.region)
            lines = tuple(from_crop(line, window) for line in await ctx.ocr.read(crop))
            found = [read_product(p) for p in group_products(lines, aspect=ctx.image.shape[1] / ctx.image.shape[0])]
            found = [r for r in found if _same_package(r.region, reading.region)]
            best = max(found, key=lambda r: r.confidence, default=None)
            chosen = best if best is not None and best.confidence > reading.confidence else reading
            chosen = _keep_name(chosen, reading)
            steps.append(TraceStep(StepKind.READ, f"re-read {reading.display_name} at 2x: "
                                   f"{chosen.protein_g:g} g ({chosen.source.value})", evidence=(window,),
                                   confidence=chosen.confidence, cost_us=_since_us(started), agent=AGENT))
            better.append(chosen)
        return better

    def _verify(self, readings: Sequence[ProductReading], steps: list[TraceStep]) -> list[ProductReading]:
        """Check label figures against the catalog where the name matches; a disagreement lowers confidence."""
        checked: list[ProductReading] = []
        for reading in readings:
            match = self._matcher.match(reading.name) if self._matcher and reading.source is Source.LABEL else None
            stated = match.product.per_serving_g if match is not None else None
            if stated is not None and reading.per_serving_g is not None and abs(stated - reading.per_serving_g) > 0.5:
                started = time.perf_counter_ns()
                reading = replace(reading, confidence=reading.confidence * 0.5)
                steps.append(TraceStep(StepKind.VERIFY, f"{reading.display_name}: label reads "
                                       f"{reading.per_serving_g:g} g, catalog states {stated:g} g per serving",
                                       evidence=(reading.region,), confidence=reading.confidence,
                                       cost_us=_since_us(started), agent=AGENT))
            checked.append(reading)
        return checked

    @staticmethod
    def _compare(readings: Sequence[ProductReading], steps: list[TraceStep]) -> Ranking:
        started = time.perf_counter_ns()
        ranking = rank_by_protein(readings)
        order = ", ".join(f"{rank}. {r.display_name} {r.value(ranking.basis) or 0.0:g} g"
                          for rank, r in enumerate(ranking.ranked, 1))
        steps.append(TraceStep(StepKind.COMPARE, f"ranked by protein {ranking.basis.value}: "
                               f"{order or 'nothing to rank'}", evidence=tuple(r.region for r in ranking.ranked),
                               cost_us=_since_us(started), agent=AGENT))
        return ranking


# A reading below this confidence is worth a second look in the deeper modes, at most this many per answer
# (the least confident first), so a hard frame costs a bounded number of OCR passes.
CONFIDENT = 0.9
MAX_REREADS = 3


def _is_doubtful(reading: ProductReading) -> bool:
    return not reading.cut_off and (reading.source is not Source.LABEL or reading.confidence < CONFIDENT)


def _doubtful(readings: Sequence[ProductReading]) -> bool:
    return any(_is_doubtful(reading) for reading in readings)


def _same_package(found: NormBox, wanted: NormBox) -> bool:
    return _same_column(found, wanted)


def _keep_name(chosen: ProductReading, original: ProductReading) -> ProductReading:
    """A re-read may see less of the name than the whole frame did; keep the longer name."""
    if len(original.name) > len(chosen.name) and original.source is not Source.UNKNOWN:
        return replace(chosen, name=original.name)
    if original.source is Source.UNKNOWN and not chosen.name:
        return replace(chosen, name=original.name)
    return chosen


def _ranking_confidence(ranking: Ranking) -> float:
    """The least sure reading the ranking rests on; nothing ranked is no confidence at all."""
    deciding = (*ranking.ranked, *ranking.unknown)
    return min((reading.confidence for reading in deciding), default=0.0) if ranking.ranked else 0.0


def _since_us(started_ns: int) -> int:
    return (time.perf_counter_ns() - started_ns) // 1000
