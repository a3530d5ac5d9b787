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
from dataclasses import dataclass

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import (
    BadgeItem,
    BoxItem,
    NormBox,
    NoticeItem,
    OverlayItem,
    PanelItem,
    PanelRow,
    Point,
    SkillResult,
    StepKind,
    TraceStep,
)
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.base import SkillContext

AGENT = "shelf"
NOTICE_TEXT = "Nutrition information only - not medical advice."
# A per-serving amount beyond this is an OCR misread (merged digits), not food.
MAX_PLAUSIBLE_PROTEIN_G = 100.0
# Package text this close to the frame's border (as a share of the frame) means the package runs out of
# view: its name may be cut short and part of its panel unseen, so it is read but not ranked.
FRAME_EDGE_MARGIN = 0.01


class UnreadableAmountError(CloudError):
    """A product was handed to reading whose protein line states no amount."""


# ------------------------------------------------------------------ parsing

# OCR confuses O with 0 and l/I with 1 inside numbers; a token counts only if it holds a real digit.
_NUMBER = r"(?P<num>[0-9OoIl]*[0-9][0-9OoIl]*(?:[.,][0-9Oo]+)?)"
_GRAMS = r"(?:grams?|gr|g)(?![a-z])"
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
    return grams if 0.0 <= grams <= MAX_PLAUSIBLE_PROTEIN_G else None


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
# A package's name is display type, set larger than the rows of its nutrition panel.
_NAME_MIN_HEIGHT = 1.15
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
        name_lines = _name_lines(protein_line, names, protein_lines, aspect, _panel_row_height(protein_line, panel))
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
                aspect: float, row_height: float) -> tuple[TextLine, ...]:
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
    if anchor.height < _NAME_MIN_HEIGHT * row_height:
        return ()  # only panel-sized text above: rows of the same table, not the package's name
    return _reading_order(_stacked_with(anchor, above, aspect))


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


# ------------------------------------------------------------------ reading and ranking


@dataclass(frozen=True, slots=True)
class ProductReading:
    """One product's name and protein per serving as read from its package."""

    name: str
    protein_g: float
    text: ProductText

    @property
    def confidence(self) -> float:
        return self.text.protein_line.score

    @property
    def display_name(self) -> str:
        return self.name or "Unnamed product"

    @property
    def badge_center(self) -> Point:
        return self.text.region.center

    @property
    def cut_off(self) -> bool:
        return at_frame_edge(self.text.region)


def at_frame_edge(box: NormBox, margin: float = FRAME_EDGE_MARGIN) -> bool:
    return box.x0 < margin or box.y0 < margin or box.x1 > 1.0 - margin or box.y1 > 1.0 - margin


def read_product(text: ProductText) -> ProductReading:
    grams = parse_protein_grams(text.protein_line.text)
    if grams is None:
        raise UnreadableAmountError(f"line {text.protein_line.text!r} states no protein amount")
    return ProductReading(name=text.name, protein_g=grams, text=text)


def rank_by_protein(readings: Iterable[ProductReading]) -> tuple[ProductReading, ...]:
    """Most protein first; equal amounts keep their left-to-right order."""
    return tuple(sorted(readings, key=lambda reading: (-reading.protein_g, reading.text.region.x0,
                                                       reading.text.region.y0)))


# ------------------------------------------------------------------ the answer


def answer_text(ranking: Sequence[ProductReading], cut_off: int = 0) -> str:
    """The spoken answer; ``cut_off`` counts packages read but left unranked at the edge of view."""
    if not ranking:
        return _no_ranking_text(cut_off)
    best = ranking[0]
    if len(ranking) == 1 and not cut_off:
        return (f"{best.display_name} has {best.protein_g:g} g of protein per serving; it is the only product "
                "whose panel I could read. Not medical advice.")
    count = f"of {len(ranking)} product{'s' if len(ranking) != 1 else ''} read"
    if cut_off:
        count += f"; {cut_off} more at the edge of view not ranked"
    tied = [reading for reading in ranking if reading.protein_g == best.protein_g]
    if len(tied) > 1:
        names = " and ".join(reading.display_name for reading in tied)
        return f"{names} tie for the most protein: {best.protein_g:g} g per serving ({count}). Not medical advice."
    return (f"{best.display_name} has the most protein: {best.protein_g:g} g per serving ({count}). "
            "Not medical advice.")


def _no_ranking_text(cut_off: int) -> str:
    if cut_off:
        return ("The only protein amounts I could read are on packages cut off at the edge of view; turn "
                "toward them so they are fully in view, and ask again.")
    return ("I could not read any nutrition panel with a protein amount in view, so I cannot rank these "
            "products. Try holding the packages closer, panels facing the camera.")


def overlay_items(ranking: Sequence[ProductReading]) -> tuple[OverlayItem, ...]:
    """Badges, boxes, the ranked panel and the notice; colours are left to the edge's renderer."""
    if not ranking:
        return ()
    box_ids = _box_ids(ranking)
    items: list[OverlayItem] = []
    for rank, reading in enumerate(ranking, start=1):
        items.append(BadgeItem(id=f"rank-{rank}", center=reading.badge_center, text=str(rank)))
        items.append(BoxItem(id=box_ids[rank - 1], box=reading.text.region, caption=f"{reading.protein_g:g} g"))
    rows = tuple(PanelRow(rank=str(rank), text=reading.display_name, value=f"{reading.protein_g:g} g")
                 for rank, reading in enumerate(ranking, start=1))
    items.append(PanelItem(id="ranking", title="Protein per serving", rows=rows))
    items.append(NoticeItem(id="notice", text=NOTICE_TEXT))
    return tuple(items)


def _box_ids(ranking: Sequence[ProductReading]) -> list[str]:
    """Ids from the product's read name, so a product keeps its box id when the ranking changes."""
    ids: list[str] = []
    for reading in ranking:
        slug = re.sub(r"[^a-z0-9]+", "-", reading.name.lower()).strip("-") or "unnamed"
        candidate, suffix = f"product-{slug}", 2
        while candidate in ids:
            candidate, suffix = f"product-{slug}-{suffix}", suffix + 1
        ids.append(candidate)
    return ids


# ------------------------------------------------------------------ the skill

_PROTEIN_QUESTION = re.compile(r"\bprotein", re.IGNORECASE)
_RANKING_WORDS = re.compile(r"\b(most|highest|higher|more|max\w*|rank\w*|best|top|richest|compare|sort\w*|order\w*|"
                            r"which|largest|biggest|greatest)\b", re.IGNORECASE)


class ProteinRankingSkill:
    """Ranks the packages in view by protein per serving and pins the ranks onto them."""

    name = "protein"
    examples = ("which of these has the most protein?", "rank by protein")

    def matches(self, question: str) -> bool:
        return bool(_PROTEIN_QUESTION.search(question) and _RANKING_WORDS.search(question))

    async def answer(self, ctx: SkillContext) -> SkillResult:
        steps: list[TraceStep] = []
        lines = await self._perceive(ctx, steps)
        products = self._group(lines, aspect=ctx.image.shape[1] / ctx.image.shape[0], steps=steps)
        readings = [self._read(product, steps) for product in products]
        ranking = self._compare([reading for reading in readings if not reading.cut_off], steps)
        started = time.perf_counter_ns()
        text = answer_text(ranking, cut_off=len(readings) - len(ranking))
        items = overlay_items(ranking)
        steps.append(TraceStep(StepKind.ANSWER, text, evidence=tuple(r.text.region for r in ranking[:1]),
                               cost_us=_since_us(started), agent=AGENT))
        return SkillResult(answer=text, items=items, steps=tuple(steps))

    @staticmethod
    async def _perceive(ctx: SkillContext, steps: list[TraceStep]) -> tuple[TextLine, ...]:
        started = time.perf_counter_ns()
        lines = await ctx.ocr.read(ctx.image)
        steps.append(TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines",
                               evidence=tuple(line.box for line in lines), cost_us=_since_us(started), agent=AGENT))
        return lines

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
        if reading.cut_off:
            text += " (package cut off at the edge of view; not ranked)"
        steps.append(TraceStep(StepKind.READ, text, evidence=(product.protein_line.box,),
                               confidence=reading.confidence, cost_us=_since_us(started), agent=AGENT))
        return reading

    @staticmethod
    def _compare(readings: Sequence[ProductReading], steps: list[TraceStep]) -> tuple[ProductReading, ...]:
        started = time.perf_counter_ns()
        ranking = rank_by_protein(readings)
        order = ", ".join(f"{rank}. {r.display_name} {r.protein_g:g} g" for rank, r in enumerate(ranking, 1))
        steps.append(TraceStep(StepKind.COMPARE, f"ranked by protein per serving: {order or 'nothing to rank'}",
                               evidence=tuple(r.text.region for r in ranking), cost_us=_since_us(started),
                               agent=AGENT))
        return ranking


def _since_us(started_ns: int) -> int:
    return (time.perf_counter_ns() - started_ns) // 1000
