"""Nutrition tables read from OCR-like lines: the lexicon, rows and columns from geometry, plausibility.

Tables are laid out here the way OCR reports them: a line per label, a line per value cell, headings above the
columns; every case is a layout met on real packs, in the languages the reader covers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.nutrition.lexicon import (
    Basis,
    Nutrient,
    amounts_in,
    heading_basis,
    misreadings,
    net_grams,
    nutrient_named,
    serving_grams,
)
from eyeline.cloud.skills.nutrition.naming import product_names
from eyeline.cloud.skills.nutrition.table import best_fact, read_tables


def line(text: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.97) -> TextLine:
    return TextLine(text=text, score=score, box=NormBox(x0, y0, x1, y1), quad=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def table(rows: Sequence[tuple[str, Sequence[str]]], headings: Sequence[str] = (), *, top: float = 0.2,
          pitch: float = 0.05, columns: Sequence[float] = (0.5, 0.7, 0.85), shift: float = 0.0,
          left: float = 0.05) -> list[TextLine]:
    """A table: headings over the value columns, then one label line and one line per value, row by row.
    ``shift`` moves every value that many rows down (a value column set off its labels)."""
    lines = [line(text, x, top - pitch, x + 0.12, top - pitch + 0.03) for text, x in zip(headings, columns,
                                                                                         strict=False)]
    for index, (label, values) in enumerate(rows):
        y = top + index * pitch
        lines.append(line(label, left, y, left + 0.02 * len(label) / 2, y + 0.03))
        for value, x in zip(values, columns, strict=False):
            if value:
                vy = y + shift * pitch
                lines.append(line(value, x, vy, x + 0.1, vy + 0.03))
    return lines


def protein(lines: Sequence[TextLine], basis: Basis | None = None, aspect: float = 1.0) -> float | None:
    fact = best_fact(read_tables(lines, aspect), Nutrient.PROTEIN, basis)
    return None if fact is None else fact.value


# ------------------------------------------------------------------ the lexicon

@pytest.mark.parametrize(("text", "nutrient"), [
    ("Protein", Nutrient.PROTEIN), ("Protéines", Nutrient.PROTEIN), ("Eiweiß", Nutrient.PROTEIN),
    ("Eiwitten - Protéines", Nutrient.PROTEIN), ("Proteínas", Nutrient.PROTEIN), ("Proteine", Nutrient.PROTEIN),
    ("Proteiini", Nutrient.PROTEIN), ("Bjelančevine", Nutrient.PROTEIN), ("Białko", Nutrient.PROTEIN),
    ("Protoln", Nutrient.PROTEIN),                                   # OCR slip: l for i, o for e
    ("Fett", Nutrient.FAT), ("Matières grasses", Nutrient.FAT), ("Grassi", Nutrient.FAT), ("Masti", Nutrient.FAT),
    ("Grasas", Nutrient.FAT), ("Vetten", Nutrient.FAT), ("Rasva", Nutrient.FAT), ("FAT, TOTAL", Nutrient.FAT),
    ("of which saturates", Nutrient.SATURATED_FAT), ("dont acides gras saturés", Nutrient.SATURATED_FAT),
    ("davon gesättigte Fettsäuren", Nutrient.SATURATED_FAT), ("S aturated Fat", Nutrient.SATURATED_FAT),
    ("varav mättat fett", Nutrient.SATURATED_FAT), ("od čega zasićene masne kiseline", Nutrient.SATURATED_FAT),
    ("Kohlenhydrate", Nutrient.CARBOHYDRATE), ("Glucides", Nutrient.CARBOHYDRATE),
    ("Hidratos de carbono", Nutrient.CARBOHYDRATE), ("Ugljikohidrati", Nutrient.CARBOHYDRATE),
    ("Kolhydrat", Nutrient.CARBOHYDRATE), ("Carboidrati", Nutrient.CARBOHYDRATE),
    ("davon Zucker", Nutrient.SUGARS), ("dont sucres", Nutrient.SUGARS), ("waarvan suikers", Nutrient.SUGARS),
    ("of which suugars", Nutrient.SUGARS), ("Šećeri", Nutrient.SUGARS), ("Sukkerarter", Nutrient.SUGARS),
    ("Ballaststoffe", Nutrient.FIBRE), ("Fibres alimentaires", Nutrient.FIBRE), ("Kostfiber", Nutrient.FIBRE),
    ("Dietary Fiber", Nutrient.FIBRE), ("Vlakna", Nutrient.FIBRE),
    ("Salz", Nutrient.SALT), ("Sel", Nutrient.SALT), ("Zout", Nutrient.SALT), ("Sale", Nutrient.SALT),
    ("Sodium", Nutrient.SODIUM), ("Energie", Nutrient.ENERGY), ("Brennwert", Nutrient.ENERGY),
    ("Calories", Nutrient.ENERGY), ("Energetska vrijednost", Nutrient.ENERGY),
])
def test_row_names_in_many_languages(text: str, nutrient: Nutrient) -> None:
    assert nutrient_named(text) is nutrient


@pytest.mark.parametrize("text", ["Trans Fat 0g", "mono-unsaturates", "Cholesterol 0mg", "Incl. 20g Added Sugars",
                                  "Calories from Fat 45", "Vitamin C"])
def test_rows_this_reader_does_not_report_name_no_nutrient(text: str) -> None:
    assert nutrient_named(text) is None


@pytest.mark.parametrize(("text", "value", "unit", "below"), [
    ("3,2 g", 3.2, "g", False), ("<0.5g", 0.5, "g", True), ("less than 1g", 1.0, "g", True),
    ("407 kJ", 407.0, "kJ", False), ("97 kcal", 97.0, "kcal", False), ("810mg", 810.0, "mg", False),
    ("Og", 0.0, "g", False), ("12 %", 12.0, "%", False), ("134 Cal", 134.0, "kcal", False),
])
def test_amounts_as_printed(text: str, value: float, unit: str, below: bool) -> None:
    amount = amounts_in(text)[0]
    assert (amount.value, amount.unit, amount.below) == (value, unit, below)


@pytest.mark.parametrize(("text", "basis"), [
    ("per 100g", Basis.PER_100), ("POUR 100 g", Basis.PER_100), ("je 100 g", Basis.PER_100),
    ("na 100 g", Basis.PER_100), ("100 g", Basis.PER_100), ("per serving", Basis.SERVING),
    ("par portion (30 g)", Basis.SERVING), ("per 25g", Basis.SERVING), ("%RI*", Basis.REFERENCE),
    ("% Daily Value*", Basis.REFERENCE), ("1 potje - 1 pot", Basis.PACKAGE), ("Typical values", None),
])
def test_column_headings(text: str, basis: Basis | None) -> None:
    assert heading_basis(text) is basis


@pytest.mark.parametrize(("text", "grams"), [("Serving size 1 tbsp (15mL)", 15.0), ("per 25g", 25.0),
                                             ("Per serving (2 cookies, 21g)", 21.0), ("per 100g", None)])
def test_serving_sizes(text: str, grams: float | None) -> None:
    assert serving_grams(text) == grams


@pytest.mark.parametrize(("text", "grams"), [("Poids net: 90g", 90.0), ("NET WT : 4.11 oz. (117g)", 117.0),
                                             ("℮ 1 kg", 1000.0), ("Nettoinhoud 500 ml", 500.0), ("Serving 60g", None)])
def test_net_quantities(text: str, grams: float | None) -> None:
    assert net_grams(text) == grams


def test_likely_ocr_slips_are_offered_as_readings_not_taken() -> None:
    assert 23.2 in [a.value for a in misreadings(amounts_in("2329")[0])]      # "23.2g", the g read as 9
    assert [a.value for a in misreadings(amounts_in("12g")[0])] == [1.2]     # a lost decimal point
    assert misreadings(amounts_in("3.1g")[0]) == []


# ------------------------------------------------------------------ tables

UK_ROWS = [("Energy", ["1248kJ/301kcal", "316kJ/76kcal"]), ("Fat", ["25g", "6.3g"]),
           ("of which saturates", ["10g", "2.5g"]), ("Carbohydrate", ["1.0g", "<0.5g"]),
           ("of which sugars", ["1.0g", "<0.5g"]), ("Protein", ["18g", "4.5g"]), ("Salt", ["3.5g", "0.88g"])]


def test_a_uk_table_with_per_100g_and_per_serving_columns_is_one_product_with_both() -> None:
    tables = read_tables(table(UK_ROWS, ["per 100g", "per 25g"]))
    assert len(tables) == 1
    assert protein(table(UK_ROWS, ["per 100g", "per 25g"]), Basis.PER_100) == 18.0
    assert protein(table(UK_ROWS, ["per 100g", "per 25g"]), Basis.SERVING) == 4.5
    assert tables[0].serving_g == 25.0
    sugars = tables[0].fact(Nutrient.SUGARS, Basis.SERVING)
    assert sugars is not None and sugars.below


def test_a_ri_column_is_never_read_as_an_amount() -> None:
    rows = [(label, [values[0], pct]) for (label, values), pct in zip(UK_ROWS, ["15%", "36%", "50%", "<1%", "1%",
                                                                                 "36%", "58%"], strict=True)]
    tables = read_tables(table(rows, ["per 100g", "%RI*"]))
    assert [f.basis for f in tables[0].facts if f.nutrient is Nutrient.PROTEIN] == [Basis.PER_100]


def test_a_value_column_set_a_row_off_its_labels_is_realigned_by_plausibility() -> None:
    # The tofu label: values printed half a row above their names, so by height each sits by the next row.
    rows = [("Energie", ["407 kJ / 97 kcal"]), ("Matières grasses", ["5,3 g"]), ("dont acides gras saturés", ["0,8 g"]),
            ("Glucides", ["1,7 g"]), ("dont sucres", ["0,7 g"]), ("Protéines", ["11 g"]), ("Sel", ["0,05 g"])]
    lines = table(rows, ["POUR 100 g"], shift=-0.9)
    tables = read_tables(lines)
    fact = tables[0].fact(Nutrient.PROTEIN, Basis.PER_100)
    assert fact is not None and fact.value == 11.0          # not 0.05, the salt row
    assert any("one row" in note or "in order" in note for note in tables[0].notes)
    assert fact.confidence < 1.0


def test_a_french_crepe_table_with_decimal_commas() -> None:
    rows = [("Énergie", ["1252 kJ / 297 kcal", "501 kJ / 119 kcal"]), ("Matières grasses", ["7,0 g", "2,8 g"]),
            ("dont acides gras saturés", ["0,9 g", "0,4 g"]), ("Glucides", ["47 g", "19 g"]),
            ("dont sucres", ["7,5 g", "3,0 g"]), ("Protéines", ["8,0 g", "3,2 g"]), ("Sel", ["0,83 g", "0,33 g"])]
    lines = table(rows, ["pour 100 g", "par crêpe (40 g)"])
    assert protein(lines, Basis.PER_100) == 8.0
    assert protein(lines, Basis.SERVING) == 3.2


def test_a_croatian_and_romanian_table() -> None:
    rows = [("Energetska vrijednost / Valoare energetică", ["1610 kJ / 385 kcal"]),
            ("Masti / Grăsimi", ["14 g"]),
            ("od čega zasićene masne kiseline / din care acizi grași saturați", ["8,1 g"]),
            ("Ugljikohidrati / Glucide", ["56 g"]), ("od čega šećeri / din care zaharuri", ["30 g"]),
            ("Bjelančevine / Proteine", ["7,2 g"]), ("Sol / Sare", ["0,4 g"])]
    assert protein(table(rows, ["100 g"])) == 7.2


def test_an_implausible_figure_loses_confidence() -> None:
    # 93.3 g protein in 100 g cannot be 120 kcal: the reading stands but says it is doubtful.
    rows = [("Energy", ["120 kcal"]), ("Fat", ["1.0 g"]), ("Carbohydrate", ["12 g"]), ("Protein", ["93.3 g"]),
            ("Salt", ["0.1 g"])]
    tables = read_tables(table(rows, ["per 100 g"]))
    fact = tables[0].fact(Nutrient.PROTEIN, Basis.PER_100)
    assert fact is not None and fact.confidence <= 0.5 and fact.checks


def test_a_lost_decimal_point_is_read_again_when_the_serving_column_disagrees() -> None:
    rows = [("Energy", ["102kcal", "15kcal"]), ("Carbohydrate", ["23.2g", "3.5g"]),
            ("of which sugars", ["22.8g", "3.4g"]), ("Protein", ["12g", "0.2g"])]
    lines = table(rows, ["Per 100g", "Per serving (15g)"])
    assert protein(lines, Basis.PER_100) == 1.2
    assert protein(lines, Basis.SERVING) == 0.2


def test_a_value_column_drifting_against_its_names_is_paired_in_order() -> None:
    # A photo at an angle: the values drift down against their names, half a row by the bottom of the table;
    # the units stand in a column of their own.
    rows = [("Energy", "627", "kcal"), ("Protein", "11.8", "g"), ("Total Carbohydrate", "33.5", "g"),
            ("of which Sugars", "1.0", "g"), ("Total Fat", "49.5", "g"), ("Saturated Fat", "11.7", "g"),
            ("Trans Fat", "0.1", "g"), ("Sodium", "1022", "mg")]
    lines = [line("Per 100g", 0.72, 0.15, 0.82, 0.18)]
    for index, (label, value, unit) in enumerate(rows):
        y = 0.2 + 0.05 * index
        drift = -0.02 + 0.007 * index
        lines += [line(label, 0.05, y, 0.3, y + 0.03), line(unit, 0.6, y + drift, 0.64, y + drift + 0.03),
                  line(value, 0.72, y + drift, 0.8, y + drift + 0.03)]
    tables = read_tables(lines)
    read = {f.nutrient: f.value for f in tables[0].facts}
    assert (read[Nutrient.PROTEIN], read[Nutrient.FAT], read[Nutrient.SATURATED_FAT]) == (11.8, 49.5, 11.7)


def test_running_text_rotated_a_quarter_is_read() -> None:
    # "... pour 100g. Energie: 2393kJ/574kcal, ..., protéines: 5,4g, sel: 0,16g." set vertically on a sticker.
    text = "Valeurs nutritionnelles pour 100g: dont sucres: 53g, protéines: 5,4g, sel: 0,16g."
    lines = [line(text, 0.45, 0.05, 0.5, 0.95), line("MOULAGE LICORNE - Chocolat au lait décoré", 0.2, 0.1, 0.25, 0.9)]
    assert protein(lines, Basis.PER_100, aspect=0.7) == 5.4


def test_a_us_panel_is_per_serving_and_its_daily_values_are_not_amounts() -> None:
    lines = [line("Nutrition Facts", 0.1, 0.02, 0.8, 0.08), line("Serving size 1 tbsp (15mL)", 0.1, 0.1, 0.8, 0.14),
             line("% Daily Value*", 0.6, 0.17, 0.9, 0.2), line("Total Fat 0g", 0.1, 0.22, 0.4, 0.26),
             line("0%", 0.8, 0.22, 0.88, 0.26), line("Sodium 810mg", 0.1, 0.28, 0.44, 0.32),
             line("35%", 0.78, 0.28, 0.88, 0.32), line("Protein 1g", 0.1, 0.34, 0.37, 0.38)]
    tables = read_tables(lines)
    fact = best_fact(tables, Nutrient.PROTEIN)
    assert fact is not None and (fact.value, fact.basis, fact.serving_g) == (1.0, Basis.SERVING, 15.0)


def test_a_column_heading_never_names_a_product() -> None:
    lines = [line("SUZU TOFU", 0.1, 0.02, 0.6, 0.1), line("per 100 g", 0.45, 0.14, 0.6, 0.17),
             *table([("Energy", ["407 kJ"]), ("Protein", ["11 g"])], top=0.2, columns=(0.45,))]
    tables = read_tables(lines)
    assert product_names(lines, tables) == ["SUZU TOFU"]
    unnamed = [line("per 100 g", 0.45, 0.14, 0.6, 0.17), *table([("Protein", ["11 g"])], top=0.2, columns=(0.45,))]
    assert product_names(unnamed, read_tables(unnamed)) == [""]
    for section in ("Valeur nutritive", "Minerals", "NUTRITIONAL INFORMATION", "www.leggos.com.au"):
        headed = [line(section, 0.1, 0.02, 0.6, 0.1), *unnamed]
        assert product_names(headed, read_tables(headed)) == [""]


def test_two_tables_side_by_side_are_two_products() -> None:
    left = table([("Fat", ["3 g"]), ("Protein", ["20 g"])], ["per 100 g"], columns=(0.25,), left=0.02)
    right = table([("Fat", ["5 g"]), ("Protein", ["8 g"])], ["per 100 g"], columns=(0.75,), left=0.55)
    tables = read_tables([*left, *right])
    assert [t.fact(Nutrient.PROTEIN, Basis.PER_100).value for t in tables] == [20.0, 8.0]  # type: ignore[union-attr]


def test_bare_numbers_beside_a_per_100g_column_are_a_reference_intake_column_not_a_serving() -> None:
    rows = [("Energie", ["407 kJ / 97 kcal", "5"]), ("Matières grasses", ["5,3 g", "8"]),
            ("Protéines", ["11 g", "22"]), ("Sel", ["0,05 g", "1"])]
    tables = read_tables(table(rows, ["POUR 100 g"]))
    assert {f.basis for f in tables[0].facts} == {Basis.PER_100}
