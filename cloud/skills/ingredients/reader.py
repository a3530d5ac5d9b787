"""Read a label's ingredient list and allergen statements from OCR lines, keeping where each was printed.

An ingredient list starts at its heading ("Ingredients:", "Zutaten:", "Sastojci:") and runs down the lines
below it in the same column, until the next section of the label, a gap, or a sentence that ends and is
followed by one that lists nothing. Allergen statements ("Contains: ...", "May contain traces of ...") are found
anywhere, inside the list or apart from it; they run to the end of their sentence.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import median

from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.ingredients.lexicon import (
    CONTAINS,
    INGREDIENTS_HEADING,
    MAY_CONTAIN,
    SECTION_END,
    Substance,
    fold,
    mentions_in,
)

_MAX_LIST_LINES = 30
_MAX_GAP_LINES = 1.2        # a blank wider than this many line heights ends the list
_MIN_SCORE = 0.5
_MAX_ROW_HEIGHT = 2.5       # a line this many times the usual height is display type, not a list's text
# A nutrition table's column heading: the list has ended, even where no section heading says so.
_TABLE_HEADING = re.compile(r"\b(?:per|pour|pro|je|por|voor|na|per)\s*100\s*(?:g|ml)\b|^\W*%\W*$")


class Where(enum.Enum):
    INGREDIENTS = "ingredients"
    CONTAINS = "contains"
    MAY_CONTAIN = "may contain"


@dataclass(frozen=True, slots=True)
class Found:
    """A substance the label names, the word as printed, in which part of the label, on which line."""

    substance: Substance
    word: str
    where: Where
    box: NormBox
    emphasised: bool      # printed in capitals inside lower-case text: how labels mark allergens


@dataclass(frozen=True, slots=True)
class LabelReading:
    """What the label says about what is in it."""

    ingredients: str                     # the ingredient list as read, heading left out ("" when none)
    ingredient_lines: tuple[NormBox, ...]
    statements: tuple[tuple[Where, str, NormBox], ...]   # allergen statements: kind, text, line
    found: tuple[Found, ...]
    score: float = 0.0                   # the OCR's least sure line among those read (0: nothing read)

    def named(self, where: Where) -> tuple[Found, ...]:
        return tuple(item for item in self.found if item.where is where)

    def placed(self, place: Callable[[NormBox], NormBox]) -> LabelReading:
        """The same reading with every box moved by ``place`` (from a turned image's coordinates back)."""
        return replace(self, ingredient_lines=tuple(place(box) for box in self.ingredient_lines),
                       statements=tuple((where, text, place(box)) for where, text, box in self.statements),
                       found=tuple(replace(item, box=place(item.box)) for item in self.found))


def read_label(lines: Sequence[TextLine]) -> LabelReading:
    """The ingredient list and allergen statements among ``lines`` (CPU work: call it off the event loop)."""
    readable = sorted((line for line in lines if line.score >= _MIN_SCORE and line.text.strip()),
                      key=lambda line: (line.box.y0, line.box.x0))
    block = _ingredient_block(readable)
    parts: list[tuple[Where, str, TextLine]] = []
    for line in block:
        parts += _split(line, Where.INGREDIENTS, first=True)
    parts = _carry_statements(parts)
    in_block = set(id(line) for line in block)
    for index, line in enumerate(readable):
        if id(line) in in_block or not _statement_start(fold(line.text)):
            continue
        statement = [line, *_sentence_rest(readable, index)]
        in_block.update(id(other) for other in statement)
        pieces = _carry_statements([piece for other in statement
                                    for piece in _split(other, Where.INGREDIENTS, first=False)])
        parts += [piece for piece in pieces if piece[0] is not Where.INGREDIENTS]   # not the list's
    found = tuple(item for where, text, line in parts for item in _found(text, where, line))
    ingredients = " ".join(text.strip() for where, text, _ in parts if where is Where.INGREDIENTS).strip(" :")
    statements = tuple((where, text.strip(), line.box) for where, text, line in parts
                       if where is not Where.INGREDIENTS and text.strip())
    score = min((line.score for _, text, line in parts if text.strip()), default=0.0)
    return LabelReading(ingredients, tuple(line.box for line in block), statements, found, score)


def _ingredient_block(lines: Sequence[TextLine]) -> list[TextLine]:
    """The heading's line and the rows below it in its column, each row left to right, until the list ends."""
    heading = next((line for line in lines if _heading(fold(line.text))), None)
    if heading is None:
        return []
    height = median(line.height for line in lines) or heading.height
    left, right = heading.box.x0, max(heading.box.x1, heading.box.x0 + 0.05)
    block: list[TextLine] = []
    for row in _rows([line for line in lines if _upright(line, height)
                      and (line.box.y0 + line.box.y1) / 2 >= heading.box.y0]):
        row = [line for line in row if line.box.x1 >= left and line.box.x0 <= right + height * 2]  # its column
        if not row:
            continue
        if block and (_stops(block, row, height) or len(block) >= _MAX_LIST_LINES):
            break
        block += row
        right = max(right, *(line.box.x1 for line in row))
    return block


def _heading(said: str) -> re.Match[str] | None:
    """The list's heading: starting its line, or followed by a colon ("NO artificial ingredients" is a claim)."""
    for match in INGREDIENTS_HEADING.finditer(said):
        if not said[:match.start()].strip(" -*•.") or said[match.end():].lstrip().startswith(":"):
            return match
    return None


def _upright(line: TextLine, height: float) -> bool:
    """Running text in rows: not a column of text turned on its side, nor display type."""
    return line.width > line.height and line.height <= height * _MAX_ROW_HEIGHT


def _rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines (top to bottom) grouped into rows, each left to right: OCR splits a row at wide gaps."""
    rows: list[list[TextLine]] = []
    for line in lines:
        centre = (line.box.y0 + line.box.y1) / 2
        if rows and rows[-1][0].box.y0 <= centre <= rows[-1][0].box.y1:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda line: line.box.x0) for row in rows]


def _stops(block: Sequence[TextLine], row: Sequence[TextLine], height: float) -> bool:
    """Whether the list ends before ``row``: a gap, the label's next section, or a sentence that ended
    followed by a new one that lists nothing."""
    said = [fold(line.text) for line in row]
    if row[0].box.y0 - max(line.box.y1 for line in block) > height * _MAX_GAP_LINES:
        return True
    if any(SECTION_END.search(piece) or _TABLE_HEADING.search(piece) for piece in said):
        return True
    return (block[-1].text.rstrip().endswith(".") and row[0].text.lstrip()[:1].isupper()
            and not any("," in piece or _statement_start(piece) for piece in said))


def _statement_start(said: str) -> bool:
    return bool(MAY_CONTAIN.search(said) or CONTAINS.match(said.lstrip(" -*•")))


def _sentence_rest(lines: Sequence[TextLine], index: int) -> list[TextLine]:
    """The lines that finish the sentence begun on ``lines[index]``: those below it until one ends with '.'."""
    rest: list[TextLine] = []
    current = lines[index]
    for line in lines[index + 1:index + 4]:
        if current.text.rstrip().endswith(".") or line.box.y0 - current.box.y1 > current.height * _MAX_GAP_LINES:
            break
        if line.box.x1 < current.box.x0 or line.box.x0 > current.box.x1:
            continue
        rest.append(line)
        current = line
    return rest


def _split(line: TextLine, where: Where, *, first: bool) -> list[tuple[Where, str, TextLine]]:
    """The line cut where an allergen statement starts inside it; a list heading, and what comes before it, cut
    off."""
    text = line.text
    said = fold(text)
    if first and (heading := _heading(said)):
        text, said = text[heading.end():], said[heading.end():]
    pieces: list[tuple[Where, str, TextLine]] = []
    while True:
        may, contains = MAY_CONTAIN.search(said), _contains_in(said)
        cut = min((m for m in (may, contains) if m is not None), key=lambda m: m.start(), default=None)
        if cut is None:
            pieces.append((where, text, line))
            return pieces
        pieces.append((where, text[:cut.start()], line))
        where = Where.MAY_CONTAIN if cut is may else Where.CONTAINS
        text, said = text[cut.end():], said[cut.end():]


def _contains_in(said: str) -> re.Match[str] | None:
    """A "Contains:" inside running text: only with its colon, or at the start of a sentence."""
    for match in CONTAINS.finditer(said):
        at_start = not said[:match.start()].strip() or said[:match.start()].rstrip().endswith((".", ";"))
        if match.group(0).rstrip().endswith(":") or at_start:
            return match
    return None


def _carry_statements(parts: list[tuple[Where, str, TextLine]]) -> list[tuple[Where, str, TextLine]]:
    """A statement runs over line ends until its sentence ends: the pieces after it keep its kind."""
    carried: list[tuple[Where, str, TextLine]] = []
    kind = None
    for where, text, line in parts:
        if where is not Where.INGREDIENTS:
            kind = where
        elif kind is not None:
            where = kind
        carried.append((where, text, line))
        if text.rstrip().endswith("."):
            kind = None
    return carried


def _found(text: str, where: Where, line: TextLine) -> list[Found]:
    said = fold(text)
    mostly_lower = sum(c.islower() for c in text) > sum(c.isupper() for c in text)
    return [Found(m.substance, text[m.start:m.start + len(m.word)] if len(said) == len(text) else m.word,
                  where, line.box, mostly_lower and _capitals(text, said, m.start, len(m.word)))
            for m in mentions_in(said)]


def _capitals(text: str, said: str, start: int, length: int) -> bool:
    if len(said) != len(text):
        return False
    word = text[start:start + length]
    return len(word) > 1 and word.isupper()
