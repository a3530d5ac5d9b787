"""Nutrition tables read from OCR lines: which figure is which nutrient, on which basis.

In words: lines that name a nutrient are rows; rows stacked in one column, close together, are one table (one
product). Figures printed after a name on its own line belong to it. Figures on lines of their own form value
columns (cells whose boxes overlap across); a column's basis is the heading above it ("per 100 g", "per
serving (25 g)", "%RI"), else the table's. Each column is matched to the rows by height — as printed, and
shifted one row up or down, for tables whose values are set a row off their names — and the match the
plausibility checks like best is kept; failed checks lower the confidence of what that column states.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import replace

from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.nutrition.corrections import cross_check, repair_column
from eyeline.cloud.skills.nutrition.facts import FAILED_CHECK_FACTOR, REPAIRED_FACTOR, Fact, NutritionTable
from eyeline.cloud.skills.nutrition.layout import Cell, Heading, Pieces, Placed, Row, find_pieces, upright
from eyeline.cloud.skills.nutrition.lexicon import Amount, Basis, Nutrient, label_text, nutrients_named
from eyeline.cloud.skills.nutrition.plausibility import Verdict, check_column

# Confidence kept when its values had to be shifted a row to fit their names.
SHIFTED_FACTOR = 0.9
# How far (in row pitches) a value may sit from its row's middle and still be its value.
_ROW_REACH = 0.6
# Pairing values with rows in order costs a little (the rows' own heights are the better evidence), and reaches
# this far (in row pitches).
_IN_ORDER_COST = 0.25
_IN_ORDER_REACH = 1.5
_SHIFT_COST = 0.75
_OFFSET_WORDS = {0: "", -1: ", one row up", 1: ", one row down"}
# Rows further apart than this (in row heights) are different tables.
_TABLE_GAP = 3.0


def read_tables(lines: Sequence[TextLine], aspect: float = 16 / 9) -> tuple[NutritionTable, ...]:
    """Every nutrition table in a frame's OCR lines, left to right; ``aspect`` is the frame's width / height."""
    pieces = find_pieces(upright(lines, aspect))
    groups = _tables(pieces.rows)
    tables = [_read_table(rows, pieces, _right_bound(rows, groups)) for rows in groups]
    found = [table for table in tables if table.facts]
    found = _with_net_quantities(found, pieces.nets)
    return tuple(sorted(found, key=lambda table: (table.region.x0, table.region.y0)))


def _with_net_quantities(tables: list[NutritionTable], nets: Sequence[tuple[Placed, float]]) -> list[NutritionTable]:
    """Each net quantity in view given to the table nearest it (one product's pack states one)."""
    if not tables:
        return tables
    given = list(tables)
    for placed, grams in nets:
        cx, cy = placed.frame_box.center
        nearest = min(range(len(given)), key=lambda i: (given[i].region.center[0] - cx) ** 2
                      + (given[i].region.center[1] - cy) ** 2)
        if given[nearest].package_g is None:
            given[nearest] = replace(given[nearest], package_g=grams)
    return given


def best_fact(tables: Sequence[NutritionTable], nutrient: Nutrient, basis: Basis | None = None,
              unit: str | None = None) -> Fact | None:
    """The most confident figure any of one product's tables states (a label may be read as several pieces)."""
    found = [fact for table in tables if (fact := table.fact(nutrient, basis, unit)) is not None]
    return max(found, key=lambda fact: fact.confidence, default=None)


def _tables(rows: Sequence[Row]) -> list[list[Row]]:
    """Rows stacked close together in one column, each group one table (untracked-only groups dropped).

    A sentence (running text) is a table of its own; the daily-value footnote of a US panel ends its table, and
    the reference amounts under it are no product's."""
    footnotes = [row.placed for row in rows if _FOOTNOTE.search(label_text(row.placed.line.text))]
    ordered = sorted((row for row in rows if not any(_below(row.placed, note) for note in footnotes)),
                     key=lambda row: row.placed.y)
    groups: list[list[Row]] = []
    for row in ordered:
        home = None if _is_prose(row) else next(
            (group for group in groups if not _is_prose(group[-1]) and _joins(row, group)), None)
        if home is None:
            groups.append([row])
        else:
            home.append(row)
    return [group for group in groups if any(row.nutrient is not None for row in group)]


_FOOTNOTE = re.compile(r"daily values? (?:are|is) based|based on a 2,?000|reference intake of an average|"
                       r"apports? de reference pour un|referenzmenge fur einen")
_PROSE_WORDS = 6


def _is_prose(row: Row) -> bool:
    """A sentence, not a row's name: many words, or several naming more than one nutrient."""
    words = len(row.placed.line.text.split())
    named = {n for n, _, _ in nutrients_named(row.placed.line.text) if n is not None}
    return words >= 2 * _PROSE_WORDS - 4 or (words >= _PROSE_WORDS and len(named) > 1)


def _below(item: Placed, note: Placed) -> bool:
    overlap = min(item.box.x1, note.box.x1) - max(item.box.x0, note.box.x0)
    return item.y > note.y and overlap > 0


def _joins(row: Row, group: Sequence[Row]) -> bool:
    last = group[-1].placed
    box = row.placed.box
    gap = box.y0 - last.box.y1
    overlap = min(box.x1, last.box.x1) - max(box.x0, last.box.x0)
    return overlap > -0.02 and gap <= _TABLE_GAP * max(row.placed.height, last.height)


def _right_bound(rows: Sequence[Row], groups: Sequence[Sequence[Row]]) -> float:
    """Where the next table to the right begins, at this table's height: its values and headings end there."""
    top = min(row.placed.box.y0 for row in rows)
    bottom = max(row.placed.box.y1 for row in rows)
    labels_end = max(row.label_x1 for row in rows)
    starts = [min(r.placed.box.x0 for r in group) for group in groups if group is not rows
              and min(r.placed.box.x0 for r in group) > labels_end
              and min(r.placed.box.y0 for r in group) < bottom and max(r.placed.box.y1 for r in group) > top]
    return min(starts, default=1.0)


def _read_table(rows: list[Row], pieces: Pieces, right: float = 1.0) -> NutritionTable:
    top = min(row.placed.box.y0 for row in rows)
    bottom = max(row.placed.box.y1 for row in rows)
    height = statistics.median(row.placed.height for row in rows)
    left = min(row.label_x1 for row in rows if row.nutrient is not None) - 0.02
    start = min(row.placed.box.x0 for row in rows) - 0.02
    headings = [h for h in pieces.headings if top - 10 * height <= h.placed.y <= bottom
                and h.placed.line_box.x1 > start and h.placed.line_box.x0 < right]
    serving = _serving_size(headings, pieces, top, bottom, height, start, right)
    free = [c for c in pieces.cells if c.bound_row is None and top - height <= c.y <= bottom + height
            and c.x0 >= left and c.x1 <= right + 0.01]
    bound = [c for c in pieces.cells if c.bound_row is not None and c.bound_row in rows]
    columns = _columns(free)
    bases = [_column_basis(column, headings) for column in columns]
    default = _default_basis(headings, bases, pieces, serving,
                             all(row.english for row in rows if row.nutrient is not None))
    facts: list[Fact] = []
    notes: list[str] = []
    for column, basis in zip(columns, bases, strict=True):
        chosen = basis or default
        if basis is None and _unitless(column):
            chosen = Basis.REFERENCE   # bare numbers under no heading: a %RI column whose "%" is in the heading
        if chosen is None or chosen is Basis.REFERENCE:
            continue  # a share of the reference intake is not an amount
        column_facts, column_notes = _read_column(column, rows, chosen, serving)
        facts += column_facts
        notes += column_notes
    facts += _bound_facts(bound, headings, default or Basis.PER_100, serving)
    facts = cross_check(facts, serving, notes)
    region = _frame_union([row.placed.frame_box for row in rows] + [f for fact in facts for f in fact.evidence])
    return NutritionTable(tuple(facts), region, serving, tuple(notes))


def _serving_size(headings: Sequence[Heading], pieces: Pieces, top: float, bottom: float,
                  height: float, start: float = 0.0, right: float = 1.0) -> float | None:
    stated = [h.serving_g for h in headings if h.serving_g is not None and h.basis is Basis.SERVING]
    if stated:
        return stated[0]
    near = [(abs(placed.y - top), size) for placed, size in pieces.servings
            if top - 20 * height <= placed.y <= bottom + 6 * height and start < placed.box.x1
            and placed.box.x0 < right]
    return min(near)[1] if near else None


def _columns(cells: Sequence[Cell]) -> list[list[Cell]]:
    """Cells whose horizontal extents overlap, grouped (one value column each), left to right."""
    columns: list[list[Cell]] = []
    for cell in sorted(cells, key=lambda c: c.x):
        home = next((col for col in columns if any(min(c.x1, cell.x1) - max(c.x0, cell.x0) > 0 for c in col)),
                    None)
        if home is None:
            columns.append([cell])
        else:
            home.append(cell)
    return columns


def _column_basis(column: Sequence[Cell], headings: Sequence[Heading], *, whole_lines: bool = False) -> Basis | None:
    """The basis of the nearest heading above the column that stands over it: over its figures by the heading's
    own words, or (``whole_lines``, for figures printed in their row's line) by the heading's whole line."""
    if all(cell.amount.unit == "%" for cell in column):
        return Basis.REFERENCE
    x0, x1 = min(c.x0 for c in column), max(c.x1 for c in column)
    if whole_lines:
        x0, x1 = min(c.placed.box.x0 for c in column), max(c.placed.box.x1 for c in column)
    first = min(c.placed.box.y0 for c in column)
    over = [h for h in headings if h.placed.y <= first + 0.005 and _overlaps(x0, x1, h, whole_lines)]
    nearest = max(over, key=lambda h: h.placed.y, default=None)
    return None if nearest is None else nearest.basis


def _overlaps(x0: float, x1: float, heading: Heading, whole_line: bool) -> bool:
    box = heading.placed.line_box if whole_line else heading.placed.box
    return min(x1, box.x1) - max(x0, box.x0) > 0.3 * min(x1 - x0, box.x1 - box.x0)


def _unitless(column: Sequence[Cell]) -> bool:
    return sum(not cell.amount.unit for cell in column) >= 0.75 * len(column)


def _default_basis(headings: Sequence[Heading], bases: Sequence[Basis | None], pieces: Pieces,
                   serving: float | None, english: bool) -> Basis | None:
    """The basis of figures no heading stands over: a heading no column claimed, else the panel's custom."""
    claimed = set(bases)
    for basis in (Basis.PER_100, Basis.SERVING, Basis.PACKAGE):
        if any(h.basis is basis for h in headings) and basis not in claimed:
            return basis
    if Basis.PER_100 in claimed:
        # A second column of amounts beside a per-100 g one is a portion's, named or not (a %RI one is in %).
        return Basis.SERVING
    if pieces.us_style or Basis.SERVING in claimed or english:
        return Basis.SERVING   # an English panel that names no basis is a per-serving panel
    return Basis.PER_100       # an EU label must state per 100 g (Regulation (EU) 1169/2011)


def _read_column(column: Sequence[Cell], rows: Sequence[Row], basis: Basis,
                 serving: float | None) -> tuple[list[Fact], list[str]]:
    """The column matched to the rows by height (as printed, and shifted a row each way) and in order; the match
    the plausibility checks like best wins, and a match other than by height is said and costs confidence."""
    ordered = sorted(rows, key=lambda row: row.placed.y)
    pitches = [b.placed.y - a.placed.y for a, b in itertools.pairwise(ordered)]
    pitch = statistics.median(pitches) if pitches else ordered[0].placed.height
    best: tuple[float, str, dict[Row, list[Cell]], dict[Nutrient, Amount], list[str], Verdict] | None = None
    geometric = _match(column, ordered, 0.0, pitch)
    candidates = [("", 0.0, geometric), ("read one row up from its names", _SHIFT_COST,
                                         _match(column, ordered, -pitch, pitch)),
                  ("read one row down from its names", _SHIFT_COST, _match(column, ordered, pitch, pitch))]
    candidates += [(f"paired with its names in order{_OFFSET_WORDS[offset]}", _IN_ORDER_COST + abs(offset),
                    _in_order(column, ordered, offset, pitch)) for offset in (0, -1, 1)]
    for how, cost, match in candidates:
        values, energy = _as_column(match)
        repaired, repairs = repair_column(values, energy, basis)
        verdict = check_column(repaired, basis, energy)
        filled = sum(1 for row in match if row.nutrient is not None)
        score = verdict.score + 0.25 * filled - cost - 0.5 * len(repairs)
        if best is None or score > best[0]:
            best = (score, how if match != geometric else "", match, repaired, repairs, verdict)
    if best is None:
        return [], []
    _, how, match, repaired, notes, verdict = best
    factor = (FAILED_CHECK_FACTOR if verdict.failed else 1.0) * (SHIFTED_FACTOR if how else 1.0)
    notes = [f"{basis.value} column: {note}" for note in (*notes, *verdict.failed)]
    if how:
        notes.append(f"{basis.value} column {how}")
    facts = [_fact(row, cell, basis, serving, factor, verdict.failed, repaired)
             for row, cells in match.items() for cell in cells if row.nutrient is not None]
    return facts, notes


def _match(column: Sequence[Cell], rows: Sequence[Row], shift: float, pitch: float) -> dict[Row, list[Cell]]:
    """Each row's cell: the nearest in height (after ``shift``), each cell used once; an energy row also takes
    a second energy figure (kJ and kcal set on two lines)."""
    pairs = sorted((abs(cell.y - (row.placed.y + shift)), index, cell_index)
                   for index, row in enumerate(rows) for cell_index, cell in enumerate(column)
                   if cell.x0 >= row.label_x1 - 0.02)
    reach = _ROW_REACH * pitch
    match: dict[Row, list[Cell]] = {}
    used: set[int] = set()
    for distance, index, cell_index in pairs:
        row, cell = rows[index], column[cell_index]
        if distance > reach or cell_index in used or (row in match and not _second_energy(row, match[row], cell)):
            continue
        match.setdefault(row, []).append(cell)
        used.add(cell_index)
    for cell_index, cell in enumerate(column):   # an energy figure set on the line under its row
        if cell_index not in used and cell.amount.unit in ("kJ", "kcal"):
            energy = [r for r in rows if r.nutrient is Nutrient.ENERGY and 0 < cell.y - r.placed.y <= 1.5 * pitch]
            if energy and _second_energy(energy[0], match.get(energy[0], []), cell):
                match.setdefault(energy[0], []).append(cell)
    return match


def _in_order(column: Sequence[Cell], rows: Sequence[Row], offset: int, pitch: float) -> dict[Row, list[Cell]]:
    """Rows and values paired in order (the i-th value for the i-th row, ``offset`` rows on), for a column that
    drifts against its names (a photo at an angle): each pair within a row and a half of each other. An energy
    row's kJ and kcal on two lines are one value."""
    slots: list[list[Cell]] = []
    for cell in sorted(column, key=lambda c: c.y):
        if slots and _energy_pair(slots[-1], cell, pitch):
            slots[-1].append(cell)
        else:
            slots.append([cell])
    match: dict[Row, list[Cell]] = {}
    for index, row in enumerate(rows):
        slot = index + offset
        if 0 <= slot < len(slots) and all(abs(c.y - row.placed.y) <= _IN_ORDER_REACH * pitch
                                          and c.x0 >= row.label_x1 - 0.02 for c in slots[slot]):
            match[row] = slots[slot]
    return match


def _energy_pair(slot: Sequence[Cell], cell: Cell, pitch: float) -> bool:
    units = {c.amount.unit for c in slot}
    return len(slot) == 1 and units <= {"kJ", "kcal"} and cell.amount.unit in ("kJ", "kcal") \
        and cell.amount.unit not in units and cell.y - slot[0].y <= pitch


def _second_energy(row: Row, cells: Sequence[Cell], cell: Cell) -> bool:
    units = {c.amount.unit for c in cells}
    return row.nutrient is Nutrient.ENERGY and cell.amount.unit in ("kJ", "kcal") and cell.amount.unit not in units \
        and len(cells) < 2


def _as_column(match: dict[Row, list[Cell]]) -> tuple[dict[Nutrient, Amount], tuple[Amount, ...]]:
    column: dict[Nutrient, Amount] = {}
    energy: list[Amount] = []
    for row, cells in match.items():
        if row.nutrient is Nutrient.ENERGY:
            energy += [cell.amount for cell in cells]
        elif row.nutrient is not None and cells:
            column.setdefault(row.nutrient, cells[0].amount)
    return column, tuple(energy)


def _fact(row: Row, cell: Cell, basis: Basis, serving: float | None, factor: float,
          failed: tuple[str, ...], repaired: dict[Nutrient, Amount] | None = None) -> Fact:
    nutrient = row.nutrient or Nutrient.ENERGY
    amount = cell.amount
    if repaired and nutrient in repaired and repaired[nutrient].start == amount.start \
            and repaired[nutrient].digits == amount.digits and repaired[nutrient] != amount:
        amount, factor = repaired[nutrient], factor * REPAIRED_FACTOR
    unit = amount.unit or ("kcal" if nutrient is Nutrient.ENERGY else "g")
    if nutrient is not Nutrient.ENERGY and unit in ("kcal", "kJ"):
        factor *= FAILED_CHECK_FACTOR
    confidence = round(min(row.placed.line.score, cell.placed.line.score) * factor, 3)
    return Fact(nutrient, amount.value, unit, basis, serving if basis is Basis.SERVING else None, confidence,
                amount.below, (row.placed.frame_box, cell.placed.frame_box), failed, amount.digits)


def _bound_facts(cells: Sequence[Cell], headings: Sequence[Heading], default: Basis,
                 serving: float | None) -> list[Fact]:
    """Figures printed after their name on the row's own line; their basis from the heading above them."""
    facts: list[Fact] = []
    by_basis: dict[Basis, list[Cell]] = {}
    for cell in cells:
        if cell.bound_to is None or cell.bound_row is None:
            continue
        basis = (Basis.REFERENCE if cell.amount.unit == "%"
                 else _column_basis([cell], headings, whole_lines=True) or default)
        if basis is not Basis.REFERENCE:
            by_basis.setdefault(basis, []).append(cell)
    for basis, group in by_basis.items():
        column: dict[Nutrient, Amount] = {}
        energy: list[Amount] = []
        for cell in group:
            if cell.bound_to is Nutrient.ENERGY:
                energy.append(cell.amount)
            elif cell.bound_to is not None:
                column.setdefault(cell.bound_to, cell.amount)
        verdict = check_column(column, basis, tuple(energy))
        factor = FAILED_CHECK_FACTOR if verdict.failed else 1.0
        seen: set[tuple[Nutrient, str]] = set()
        for cell in group:
            assert cell.bound_row is not None and cell.bound_to is not None
            row = Row(cell.bound_to, cell.bound_row.placed, cell.bound_row.label_x1)
            fact = _fact(row, cell, basis, serving, factor, verdict.failed)
            if (fact.nutrient, fact.unit) not in seen:
                seen.add((fact.nutrient, fact.unit))
                facts.append(fact)
    return facts


def _frame_union(boxes: Sequence[NormBox]) -> NormBox:
    total = boxes[0]
    for box in boxes[1:]:
        total = total.union(box)
    return total
