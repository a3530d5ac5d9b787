"""Nutrition-label text: the protein amount, the serving size and the basis one OCR line states.

Pure functions of text, so every layout is tested without a model. Layouts read: "Protein 20g", "Protein: 20 g",
"20g protein", per-100 g tables, in English, Dutch ("Eiwitten 20 g", "per portie") and French ("Protéines :
12,5 g", "pour 100 g", "par portion"); decimal commas are decimal points.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eyeline.cloud.perception.ocr import TextLine

# A per-serving amount beyond this is an OCR misread (merged digits), not food.
MAX_PLAUSIBLE_PROTEIN_G = 100.0


# OCR confuses O with 0 and l/I with 1 inside numbers; a token counts only if it holds a real digit.
_NUMBER = r"(?P<num>[0-9OoIl]*[0-9][0-9OoIl]*(?:[.,][0-9Oo]+)?)"
_GRAMS = r"(?P<unit>mg|milligrams?|grams?|gr|g)(?![a-z])"
# English protein(s), French protéines (OCR often drops the accent), Dutch eiwit / eiwitten.
_PROTEIN_WORD = r"(?:pr[o0]t[eéèê3]ine?s?|e[il1]w[il1]t(?:ten)?)"
_LABEL_FIRST = re.compile(rf"{_PROTEIN_WORD}\s*[:.]?\s*{_NUMBER}\s*{_GRAMS}", re.IGNORECASE)
_AMOUNT_FIRST = re.compile(rf"(?<![a-z0-9.,]){_NUMBER}\s*{_GRAMS}\s*(?:of\s+|de\s+|d['’]\s*)?{_PROTEIN_WORD}",
                           re.IGNORECASE)
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "i": "1", "l": "1", ",": "."})

# Bilingual tables name a row twice ("Eiwitten - Protéines").
_BARE_PROTEIN_LABEL = re.compile(rf"^\W*{_PROTEIN_WORD}(?:\W+{_PROTEIN_WORD})?\W*$", re.IGNORECASE)
_BARE_GRAMS = re.compile(rf"^\W*{_NUMBER}\s*{_GRAMS}\W*$", re.IGNORECASE)
_PANEL_PREFIX = re.compile(
    r"^\W*(nutrition|serving|servings|per\s+(serving|100)|amount\s+per|%\s*daily|daily\s+value|"
    r"voedingswaarde|valeurs?\s+nutritionnelles|informations?\s+nutritionnelles|(?:pour|par|voor)\s+100|"
    r"(?:per|par|pour)\s+(?:une\s+)?(?:portion|portie)|portion|portie)", re.IGNORECASE)
_PANEL_WORDS = frozenset({
    "nutrition", "facts", "information", "calories", "calorie", "kcal", "kj", "energy", "protein", "fat",
    "total", "saturated", "trans", "carbohydrate", "carbohydrates", "carbs", "sugar", "sugars", "sodium",
    "salt", "fiber", "fibre", "cholesterol", "g", "mg", "cal", "%",
    # Dutch and French rows of the same tables
    "voedingswaarden", "energie", "énergie", "vetten", "vet", "waarvan", "verzadigde", "vetzuren", "koolhydraten",
    "suikers", "vezels", "voedingsvezels", "zout", "eiwitten", "eiwit", "matières", "matieres", "grasses", "dont",
    "acides", "gras", "saturés", "satures", "glucides", "sucres", "fibres", "alimentaires", "sel", "protéines",
    "proteines", "-",
})
_AMOUNT_TOKEN = re.compile(r"^[0-9OoIl]*[0-9][0-9OoIl]*(?:[.,][0-9]+)?(?:g|mg|kcal|kj|cal|%)?$", re.IGNORECASE)


def parse_protein_grams(text: str) -> float | None:
    """Grams of protein stated by one OCR line ("Protein 20g", "20 g protein"), or None if it states none."""
    match = _LABEL_FIRST.search(text) or _AMOUNT_FIRST.search(text)
    if match is None:
        return None
    try:
        grams = float(match.group("num").translate(_DIGIT_LOOKALIKES))
    except ValueError:
        return None  # a lookalike the table does not map: not a number after all
    if match.group("unit").lower().startswith("m"):
        grams /= 1000.0  # milligrams: normalised to grams like every other figure
    return grams if 0.0 <= grams <= MAX_PLAUSIBLE_PROTEIN_G else None


_PER_100 = re.compile(r"(?:\b(?:per|pour|par|voor)\s*|/\s*)100\s*(?:g|ml)\b", re.IGNORECASE)
_PER_SERVING = re.compile(r"\b(?:per|par|pour|amount\s+per)\s+(?:une\s+)?(?:serving|portion|portie|bar|pack)\b",
                          re.IGNORECASE)
_SERVING_LINE = re.compile(r"\b(?:serving|portion|portie)", re.IGNORECASE)
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


# A label in French or Dutch is an EU label, which must state nutrients per 100 g (Regulation (EU) 1169/2011);
# a per-portion figure is an optional extra that is always named as such.
_EU_PROTEIN_WORD = re.compile(r"pr[o0]t[eéèê3]ines|e[il1]w[il1]t", re.IGNORECASE)


def states_per_100g(protein_line: str, panel: Sequence[str]) -> bool:
    """Whether a protein amount is per 100 g: said on its own line, or by a panel heading, or by an EU label that
    names no per-serving basis."""
    if _PER_100.search(protein_line):
        return True
    if any(_PER_SERVING.search(text) for text in (protein_line, *panel)):
        return False
    return any(map(is_per_100g_heading, panel)) or bool(_EU_PROTEIN_WORD.search(protein_line))


# A European table heads its value columns with the quantity alone ("100 g", "100ml") above the numbers.
_BARE_100 = re.compile(r"^\W*100\s*(?:g|ml)\W*$", re.IGNORECASE)


def is_per_100g_heading(text: str) -> bool:
    """A heading that puts the figures under it per 100 g ("per 100 g", "pour 100 g", "100 g" over a column)."""
    return bool(_PER_100.search(text) or _BARE_100.match(text))


def is_panel_text(text: str) -> bool:
    """True for nutrition-panel boilerplate: labels, amounts, headings; never a product's name."""
    if _PANEL_PREFIX.match(text) or parse_protein_grams(text) is not None:
        return True
    tokens = re.findall(r"[^\s:()\[\]/]+", text.lower())
    return bool(tokens) and all(token in _PANEL_WORDS or _AMOUNT_TOKEN.match(token) for token in tokens)


# Text that states a quantity ("58.5g", "100 ml") or a serving ("servings per container", "per 100g") is
# label information, never a product's name.
_QUANTITY = re.compile(r"\d(?:[.,]\d+)?\s*(?:g|mg|kg|ml|l|kcal|kj)\b", re.IGNORECASE)
_SERVING_WORDS = re.compile(r"\b(servings?|container|portions?|porties?|(?:per|pour|par|voor)\s+100|"
                            r"typical\s+values?)\b", re.IGNORECASE)
# Nutrient names a product is not called by ("fat" and "protein" stay out: "Low Fat Yoghurt", "Protein Bar").
_NUTRIENT_WORDS = re.compile(
    r"\b(nutrients?|nutrition|dietary|fib(?:er|re)|sugars|sodium|cholesterol|carbohydrates?|saturated|"
    r"vitamins?|calcium|iron|potassium|calories|kcal|kj|voedingswaarden?|koolhydraten|suikers|vezels|zout|"
    r"verzadigde|valeurs?\s+nutritionnelles|glucides|sucres|fibres|matières\s+grasses|saturés)\b", re.IGNORECASE)


# A table's column headings ("Ave. Quantity", "per Serving", "% Daily Intake", "Valeur moyenne") name no product.
_COLUMN_WORDS = re.compile(
    r"\b(?:ave\.?|average|quantity|quantities|typical|moyennes?|gemiddelde|durchschnitt\w*|media|intake|"
    r"daily|ri|gda|apports?|referenz\w*|per\s+(?:serving|portion|pack|100))\b|%", re.IGNORECASE)


def is_name_text(line: TextLine) -> bool:
    letters = sum(char.isalpha() for char in line.text)
    if letters < 2 or any(p.search(line.text) for p in (_QUANTITY, _SERVING_WORDS, _NUTRIENT_WORDS, _COLUMN_WORDS)):
        return False
    return not is_panel_text(line.text)


def is_bare_protein_label(text: str) -> bool:
    """A line that is only the word protein, its amount split off into a cell of its own."""
    return bool(_BARE_PROTEIN_LABEL.match(text))


def is_bare_amount(text: str) -> bool:
    """A line that is only an amount in grams ("20g"), the value cell of a split row."""
    return bool(_BARE_GRAMS.match(text))
