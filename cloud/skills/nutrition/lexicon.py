"""The words of nutrition tables: nutrient row names, column headings and amounts, in many languages.

Pure functions of text. Text is folded first (lower case, accents off, ß to ss), so "Protéines", "Proteines"
and "PROTEINES" are one word, and OCR's habit of dropping accents costs nothing. Covered: English, French,
German, Dutch, Spanish, Italian, Portuguese, Swedish, Danish, Norwegian, Finnish, Croatian, Romanian, Polish.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass


class Nutrient(enum.Enum):
    ENERGY = "energy"
    FAT = "fat"
    SATURATED_FAT = "saturated fat"
    CARBOHYDRATE = "carbohydrate"
    SUGARS = "sugars"
    FIBRE = "fibre"
    PROTEIN = "protein"
    SALT = "salt"
    SODIUM = "sodium"


class Basis(enum.Enum):
    PER_100 = "100g"          # per 100 g or 100 ml
    SERVING = "serving"
    PACKAGE = "package"
    REFERENCE = "%RI"         # a share of the reference intake / daily value: never an amount


def fold(text: str) -> str:
    """Lower case without accents, so one pattern matches every spelling OCR produces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L"))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def _words(*stems: str) -> str:
    return "(?:" + "|".join(stems) + ")"


# Rows that look like a tracked nutrient but are not one ("mono-unsaturates", "trans fat", "cholesterol"):
# checked before the nutrients, so they never take a value that is not theirs.
_NOT_TRACKED = re.compile(
    r"\b(?:mono|poly|multi)[\s-]*(?:un)?satur|\bunsatur|\binsatur|\bungesatt|\bonverzadig|\binsaturi|\bmonoinsat|"
    r"\bpolyol|\btrans\b|\bcholest|\bamidon|\bstarch|\bzetmeel|\bstarke\b|\balmidon|\bamido|\bvitamin|\bcalcium|"
    r"\bpotassium|\biron\b|\breference|\bapports?\b|\badulte?s?\b|\bdaily value|\bingredients?\b|"
    r"\badded sugar|\bcalories from fat|\benergy from fat|\bincl\w* \d+ ?g added|\bsucres? ajout|\berythritol|"
    r"\blactose")

# Specific names before general ones: "saturated fat" is not "fat", "of which sugars" is not "carbohydrate".
_NUTRIENT_PATTERNS: tuple[tuple[Nutrient, re.Pattern[str]], ...] = tuple(
    (nutrient, re.compile(pattern)) for nutrient, pattern in (
        (Nutrient.SATURATED_FAT, _words(
            r"saturate", r"sat\.? fat", r"satures?\b", r"saturados?", r"saturadas?", r"saturi\b", r"saturati",
            r"gesatt", r"verzadigd", r"mattat", r"mattade", r"maettede", r"mattede", r"mettet", r"mettede",
            r"tyydyttyn", r"zasicen", r"saturati", r"nasycon")),
        (Nutrient.SUGARS, _words(
            r"sugars?\b", r"sucres?\b", r"zucker", r"suikers?", r"azucares", r"zuccheri", r"acucares",
            r"sockerarter", r"socker", r"sukkerarter", r"sukker", r"sokeri", r"secer", r"zaharuri", r"cukry")),
        (Nutrient.FIBRE, _words(
            r"fib(?:re|er|ra|ras|res)\b", r"ballaststoff", r"vezels", r"kostfib", r"ravintokuitu", r"kuitu",
            r"vlakn", r"blonnik")),
        (Nutrient.CARBOHYDRATE, _words(
            r"carbohydrate", r"carbs\b", r"glucides?", r"kohlenhydrat", r"koolhydrat", r"hidratos de carbono",
            r"carbohidrat", r"carboidrat", r"kolhydrat", r"kulhydrat", r"karbohydrat", r"hiilihydraat",
            r"ugljikohidrat", r"weglowodan")),
        (Nutrient.PROTEIN, _words(
            r"prote[i1l]n", r"prot[e3]ine", r"protein[ae]", r"proteiini", r"eiwei", r"e[il1]w[il1]t",
            r"bjelancevin", r"bialk")),
        (Nutrient.SALT, _words(
            r"\bsalt\b", r"\bsel\b", r"\bsalz\b", r"\bzout\b", r"\bsal\b", r"\bsale\b", r"\bsuola\b", r"\bsol\b",
            r"\bsare\b")),
        (Nutrient.SODIUM, _words(r"sodium", r"\bsodio\b", r"\bnatrium\b", r"\bsodiu\b", r"\bsod\b")),
        (Nutrient.FAT, _words(
            r"\bfat\b", r"total fat", r"matieres? grasses?", r"lipides", r"\bfett?\b", r"\bvetten?\b", r"\bvet\b",
            r"grasas", r"grassi", r"lipidos", r"gorduras", r"\bfedt\b", r"rasva", r"\bmasti\b", r"\bmast\b",
            r"grasimi", r"tluszcz", r"graisses?", r"\bfats\b")),
        (Nutrient.ENERGY, _words(
            r"energ", r"calories", r"\bcalorie\b", r"brennwert", r"valeur energetique",
            r"valore energetico", r"valor energetico", r"kalorier")),
    ))


# OCR splits a word after its first letter ("S aturated Fat", "Total S ugars"); joined before matching.
_SPLIT_INITIAL = re.compile(r"\b([a-z]) (?=[a-z]{3,})")


def label_text(text: str) -> str:
    """The folded text row names are matched in: split words rejoined, and a long word one OCR slip away from a
    nutrient's name ("suugars", "protien") read as that name."""
    return _WORD.sub(_corrected, _SPLIT_INITIAL.sub(r"\1", fold(text)))


# Names long enough that one slip cannot turn another word into them.
_NAMES = frozenset({
    "protein", "proteins", "proteines", "proteine", "proteinas", "proteiner", "proteiini", "eiwitten", "eiweiss",
    "carbohydrate", "carbohydrates", "glucides", "koolhydraten", "kohlenhydrate", "carboidrati", "kolhydrater",
    "karbohydrater", "kulhydrater", "ugljikohidrati", "sugars", "sucres", "suikers", "zucker", "zuccheri",
    "azucares", "sockerarter", "sukkerarter", "secera", "saturates", "saturated", "satures", "verzadigde",
    "gesattigte", "fibres", "fibre", "fiber", "ballaststoffe", "vezels", "voedingsvezels", "kostfiber",
    "energy", "energie", "energia", "energi", "calories", "sodium", "natrium", "lipides", "matieres", "grasses",
    "bjelancevine", "masti", "vlakna", "zasicene",
})
_WORD = re.compile(r"[a-z][a-z01]{5,}")


# Letters OCR confuses with each other, compared as one: "Protoln" is one slip from "protein".
_CONFUSABLE = str.maketrans({"l": "i", "1": "i", "0": "o", "m": "n"})


def _corrected(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in _NAMES:
        return word
    plain = word.translate(_CONFUSABLE)
    return next((name for name in _NAMES if abs(len(name) - len(word)) <= 1
                 and _one_edit(plain, name.translate(_CONFUSABLE))), word)


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one inserted, deleted or replaced letter."""
    if len(a) > len(b):
        a, b = b, a
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return a[index + 1:] == b[index + 1:] if len(a) == len(b) else a[index:] == b[index + 1:]
    return len(b) - len(a) <= 1


def names_untracked(text: str) -> bool:
    """A row of a nutrient this reader does not report (trans fat, cholesterol, vitamins): it holds a row's
    place in the table, so the values around it stay aligned."""
    return bool(_NOT_TRACKED.search(label_text(text)))


def nutrients_named(text: str) -> list[tuple[Nutrient | None, int, int]]:
    """Every nutrient a line names, in order, with where its name starts and ends in ``label_text(text)``;
    ``None`` for an untracked one (trans fat, cholesterol, added sugars), which wins over a tracked name it
    overlaps ("mono-unsaturates" is not "saturates").

    A bilingual row ("Eiwitten - Protéines") names one nutrient twice; it is reported once, at its first name,
    and a fat name that qualifies a saturated one ("acides gras saturés") is part of it.
    """
    folded = label_text(text)
    found: list[tuple[Nutrient | None, int, int]] = [(None, *m.span()) for m in _NOT_TRACKED.finditer(folded)]
    for nutrient, pattern in _NUTRIENT_PATTERNS:
        for match in pattern.finditer(folded):
            start, end = match.span()
            if any(start < t_end + _QUALIFIER and t_start < end + _QUALIFIER and (other is None or nutrient is
                   Nutrient.FAT or other is nutrient) for other, t_start, t_end in found):
                continue
            found.append((nutrient, start, end))
    return sorted(found, key=lambda item: item[1])


# Characters between two names that make them one ("acides gras saturés", "saturated fat").
_QUALIFIER = 3


def nutrient_named(text: str) -> Nutrient | None:
    """The nutrient a row label names first, or None (none, or an untracked one)."""
    named = nutrients_named(text)
    return named[0][0] if named else None


# ------------------------------------------------------------------ amounts


@dataclass(frozen=True, slots=True)
class Amount:
    """One number as printed: its value, unit ("g", "mg", "kcal", "kJ", "%", "" when none), where it starts in
    the line's text, and whether it was stated as an upper bound ("<0.5 g")."""

    value: float
    unit: str
    start: int
    end: int
    below: bool = False
    digits: str = ""          # the number as printed ("2329", "0,2"), for readings of a likely OCR slip

    @property
    def grams(self) -> float | None:
        if self.unit == "g":
            return self.value
        if self.unit == "mg":
            return self.value / 1000.0
        if self.unit in ("ug", "µg"):
            return self.value / 1_000_000.0
        return None


_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", ",": "."})
_AMOUNT = re.compile(
    r"(?P<below>(?:<|less than|moins de|weniger als|minder dan|menos de|meno di|mindre an|manje od)\s*)?"
    r"(?<![A-Za-z0-9.,])(?P<num>[0-9Oo]*[0-9](?:[0-9Oo]*)(?:[.,][0-9Oo]+)?|[.,][0-9]+|[Oo](?=\s?m?g\b))\s*"
    r"(?:(?P<unit>kcal|kj|mg|µg|ug|mcg|g|gr|gram[sm]?|grammes?|grams?|cal|%)(?![a-z]))?", re.IGNORECASE)


def amounts_in(text: str) -> list[Amount]:
    """Every amount printed in a line, left to right: "3,2 g", "<0.5g", "407 kJ", "12%", or a bare "110"."""
    found: list[Amount] = []
    for match in _AMOUNT.finditer(text):
        raw = match.group("num")
        digits = raw.translate(_LOOKALIKES)
        if digits.startswith("."):
            digits = "0" + digits
        try:
            value = float(digits)
        except ValueError:
            continue
        unit = _unit(match.group("unit") or "")
        found.append(Amount(value, unit, match.start(), match.end(), bool(match.group("below")), raw))
    return found


def misreadings(amount: Amount) -> list[Amount]:
    """What a figure may have been before OCR's two common slips: a lost decimal point ("12g" for "1.2g"), and a
    "g" read as "9" ("0,29" for "0,2g", "2329" for "23.2g"). Only for numbers printed without a unit's "g"."""
    if amount.unit not in ("", "g") or not amount.digits:
        return []
    found: list[float] = []
    digits = amount.digits.translate(_LOOKALIKES)
    stems = [digits]
    if amount.unit == "" and digits.endswith("9") and len(digits) >= 2:
        stems.insert(0, digits[:-1].rstrip("."))   # a missing "g" and a trailing 9: most likely the g
    for stem in stems:
        try:
            value = float(stem)
        except ValueError:
            continue
        if stem != digits:
            found.append(value)
        if "." not in stem:
            found += [value / 10 ** places for places in range(1, len(stem))]
    return [Amount(value, "g", amount.start, amount.end, amount.below, amount.digits) for value in dict.fromkeys(found)
            if value != amount.value]


def _unit(raw: str) -> str:
    lowered = raw.lower()
    if lowered in ("kcal", "cal"):
        return "kcal"
    if lowered == "kj":
        return "kJ"
    if lowered in ("mg",):
        return "mg"
    if lowered in ("µg", "ug", "mcg"):
        return "ug"
    if lowered == "%":
        return "%"
    return "g" if lowered else ""


# ------------------------------------------------------------------ column headings

_PER = r"(?:per|pour|par|pro|je|voor|por|para|per|na|pe|za|/)"
_HUNDRED = r"100\s*(?:g|ml|gr|gram|grammes?|grams?)\b"
_PER_100 = re.compile(rf"(?:{_PER}\s*|^\W*|\b(?:in|di|dla)\s+)(?:1\s*)?{_HUNDRED}|\b100\s*g\s*(?:sadrzi|contiene)|"
                      r"\bper\s+100\b|\b100\s*g(?:r)?\b\s*$|\btypical values? per 100|\bvaleurs? moyennes? pour 100",
                      re.IGNORECASE)
_SERVING_WORDS = (r"serving|portion|portie|porcion|porzione|porcao|annos|porcij|portie|porcja|bag|slice|biscuit|"
                  r"cookie|bar|pot|tbsp|tsp|cup|piece|stuk|pièce|piece|crepe|tranche|scheibe|sachet|packet|pack")
# "per serving", "par portion (30 g)", "per 25g": a column's basis. "Serving size 30 g" or "Serving 60g" alone
# states the size, not a column: it is read as the serving size, not as a heading.
_PER_SERVING = re.compile(rf"(?:{_PER}|amount per|each)\s*(?:\d+(?:[.,]\d+)?\s*)?(?:an?\s+|une?\s+|1\s+)?"
                          rf"(?:{_SERVING_WORDS})|\bper\s+\d+(?:[.,]\d+)?\s*(?:g|ml)\b|"
                          rf"\bpar\s+(?:\w+\s+)?de\s+\d+\s*g|\d+\s*g\s*(?:serving|portion)",
                          re.IGNORECASE)
_REFERENCE = re.compile(r"%\s*(?:ri|dv|ar|vnr|gda|daily|ajr|rda|vr|nrv|ir)\b|\b(?:ri|gda|ar|ajr|vnr|nrv)\s*\*|"
                        r"%\s*\*|daily value|reference intake|apports? de reference|referenzmenge|"
                        r"\bgda\b|\b%\s*$|^\W*%\s*\w{0,4}\W*$", re.IGNORECASE)
_PACKAGE = re.compile(r"^\W*(?:1|une?|one|ein)\s+(?:pot|potje|becher|tub|pack|package|paquet)\b|"
                      r"\bper (?:pack|package|container)\b\s*$|\bpar (?:pot|paquet|sachet)\b|\bper pot\b|"
                      r"\bpro (?:packung|becher)\b|\bper verpakking\b|\bpar emballage\b", re.IGNORECASE)


def heading_basis(text: str) -> Basis | None:
    """The basis a column heading states ("per 100 g", "per serving (25 g)", "%RI*"), or None."""
    folded = fold(text)
    if _REFERENCE.search(folded):
        return Basis.REFERENCE
    if _PER_100.search(folded):
        return Basis.PER_100
    if _PACKAGE.search(folded):
        return Basis.PACKAGE
    if _PER_SERVING.search(folded):
        return Basis.SERVING
    return None


def heading_parts(text: str) -> list[tuple[Basis, int, int]]:
    """Where in a heading line each basis it names is written ("Per 100g  Per serving (15g)" read as one line over
    two columns), left to right; a column heading stands over its own words, not the whole line."""
    folded = fold(text)
    found: list[tuple[Basis, int, int]] = []
    for basis, pattern in ((Basis.REFERENCE, _REFERENCE), (Basis.PER_100, _PER_100), (Basis.PACKAGE, _PACKAGE),
                           (Basis.SERVING, _PER_SERVING)):
        for match in pattern.finditer(folded):
            start, end = match.span()
            if not any(start < o_end and o_start < end for _, o_start, o_end in found):
                found.append((basis, start, end))
    return sorted(found, key=lambda item: item[1])


_SERVING_NAMED = re.compile(r"serving|portion|portie|porcion|porzione|porcao|annos|porcij|porcja|per\s+(?!100\b)\d",
                            re.IGNORECASE)
_QUANTITY = re.compile(r"(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>g|ml)\b", re.IGNORECASE)
_LEADING_QUANTITY = re.compile(r"^\W*(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>g|ml)\b", re.IGNORECASE)


def serving_grams(text: str) -> float | None:
    """The serving size a line states ("Serving size 1 bag (58.5g)", "per portion (25 g)", "per 25g"): its last
    quantity in g or ml that is not the 100 of a per-100 heading."""
    folded = fold(text)
    if not _SERVING_NAMED.search(folded):
        return None
    sizes = [float(m.group("num").replace(",", ".")) for m in _QUANTITY.finditer(folded)]
    sizes = [size for size in sizes if size > 0.0 and size != 100.0]
    return sizes[-1] if sizes else None


_NET = re.compile(
    r"(?:net\s*(?:wt|weight|contents?|quantity)?|poids\s*net|contenance|netto(?:gewicht|inhoud|vikt|vekt|maengde)?|"
    r"inhoud|peso\s*neto|contenido\s*neto|peso\s*netto|neto\s*(?:kolicina|masa)?|masa\s*neta|\u212e)"
    r"[^0-9]{0,6}(?:[\d.,]+\s*(?:oz|fl\.?\s*oz)\.?\s*\(?\s*)?(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>kg|g|ml|cl|l)\b",
    re.IGNORECASE)
_TO_GRAMS = {"kg": 1000.0, "g": 1.0, "l": 1000.0, "cl": 10.0, "ml": 1.0}


def net_grams(text: str) -> float | None:
    """The package's net quantity a line states ("Poids net: 90g", "NET WT 4.11 oz (117g)", "℮ 1 kg"), in g or ml."""
    match = _NET.search(fold(text)) or _NET.search(text)
    if match is None:
        return None
    amount = float(match.group("num").replace(",", ".")) * _TO_GRAMS[match.group("unit").lower()]
    return amount if amount > 0 else None


def leading_quantity(text: str) -> float | None:
    """A heading that is a quantity alone ("2 g (100 ml) made up", "30 g"): the size of its column's portion."""
    match = _LEADING_QUANTITY.match(fold(text))
    if match is None:
        return None
    size = float(match.group("num").replace(",", "."))
    return size if size > 0.0 and size != 100.0 else None
