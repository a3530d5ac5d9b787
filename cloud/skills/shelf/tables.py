"""A package's panel read as a table (``skills.nutrition``): its protein per 100 g and per serving, checked.

The shelf's line reading finds the protein row; the table reading places each figure on its basis from the
columns and headings, realigns values set a row off their names, and checks the figures against the rest of the
panel. Where the table states protein, its figures win; a failed check lowers the reading's confidence and is
said in its note, so a deeper pass re-reads it and the answer does not present it as certain.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from eyeline.cloud.skills.nutrition.lexicon import Basis as TableBasis
from eyeline.cloud.skills.nutrition.lexicon import Nutrient
from eyeline.cloud.skills.nutrition.table import best_fact, read_tables
from eyeline.cloud.skills.shelf.ranking import Basis, ProductReading, label_reading

if TYPE_CHECKING:
    from eyeline.cloud.skills.shelf.text import ProductText


def as_table(reading: ProductReading, text: ProductText) -> ProductReading:
    """``reading`` with the protein figures the panel's table states, where it states any."""
    lines = [*text.panel_lines, text.protein_line, *text.more_protein_lines]
    tables = read_tables(lines, aspect=1.0)
    per_100 = best_fact(tables, Nutrient.PROTEIN, TableBasis.PER_100)
    per_serving = best_fact(tables, Nutrient.PROTEIN, TableBasis.SERVING)
    if per_100 is None and per_serving is None:
        return reading
    serving = next((table.serving_g for table in tables if table.serving_g), None)
    stated = per_serving or per_100
    assert stated is not None
    basis = Basis.PER_SERVING if per_serving is not None else Basis.PER_100G
    grams = stated.grams if stated.grams is not None else stated.value
    confidence = min(text.protein_line.score, *(f.confidence for f in (per_100, per_serving) if f is not None))
    table = label_reading(reading.name, reading.region, grams, basis, serving, round(confidence, 3))
    if per_100 is not None and per_serving is not None:
        table = replace(table, per_100g=per_100.grams, note="")
    doubts = sorted({check for fact in (per_100, per_serving) if fact is not None for check in fact.checks})
    if doubts:
        table = replace(table, note="; ".join(filter(None, (table.note, "doubtful: " + "; ".join(doubts)))))
    return replace(table, package=reading.package)
