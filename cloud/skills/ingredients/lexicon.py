"""The words of ingredient lists and allergen statements, in the languages packages in Europe are printed in.

Everything is matched on folded text (lower case, no accents: ``fold``), so "Ingrédients", "Zutaten" and
"SASTOJCI" are one kind of heading, and "Vollmilchpulver" is found by its "milch".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eyeline.cloud.skills.nutrition.lexicon import fold

__all__ = ["ALLERGEN_STATEMENT", "CONTAINS", "INGREDIENTS_HEADING", "MAY_CONTAIN", "SECTION_END", "SUBSTANCES",
           "Substance", "fold", "mentions_in"]


@dataclass(frozen=True, slots=True)
class Substance:
    """Something a wearer asks about: an allergen, an animal-derived ingredient, or both."""

    name: str                 # as the answer says it: "milk", "tree nuts"
    pattern: re.Pattern[str]  # over folded text
    allergen: bool            # one of the allergens labels must declare (EU 1169/2011 annex II and the like)
    animal: bool              # not vegan
    meat: bool = False        # not vegetarian either (meat, fish, gelatine, ...)


_CONFUSABLE_FROM = 4


def _words(*forms: str) -> re.Pattern[str]:
    """Whole words; a form ending in ``*`` also matches longer words ("hazelnut*": "hazelnuts"), and one
    starting with ``*`` matches at the end of a compound ("*milch": "Vollmilch")."""
    def one(form: str) -> str:
        head = r"\w*" if form.startswith("*") else ""
        tail = r"\w*" if form.endswith("*") else ""
        word = form.strip("*")
        # OCR reads i, l and 1 for one another; in a short word that would make too many other words.
        confusable = len(word) >= _CONFUSABLE_FROM
        return head + "".join(r"[il1]" if confusable and char in "il" else r"\s+" if char == " " else re.escape(char)
                              for char in word) + tail
    return re.compile(r"\b(?:" + "|".join(one(form) for form in forms) + r")\b")


SUBSTANCES: tuple[Substance, ...] = (
    Substance("milk", _words(
        "milk*", "*milk", "dairy", "whey*", "lactose", "casein*", "caseinate*", "butter*", "cream", "cheese*",
        "yogurt*", "yoghurt*", "ghee", "lait", "laits", "laitier*", "lactoserum", "beurre*", "creme", "fromage*",
        "*milch*", "molke*", "*molken*", "sahne", "kase*", "melk*", "*melk", "wei", "weipoeder", "boter*",
        "slagroom", "kaas*",
        "latte*", "siero di latte", "burro", "panna", "formaggio*", "leche*", "lactosuero", "mantequilla",
        "nata", "queso*", "mlijek*", "sirutk*", "maslac*", "vrhnje", "sir", "mjolk*", "smor"),
        allergen=True, animal=True),
    Substance("egg", _words(
        "egg*", "albumen", "oeuf*", "d oeufs", "ei", "eier*", "*eipulver", "vollei*", "huhnerei*", "eigelb",
        "eiweiss*", "uov*", "huevo*", "jaj*", "agg"), allergen=True, animal=True),
    Substance("fish", _words(
        "fish*", "anchov*", "tuna", "salmon", "cod", "poisson*", "thon", "saumon", "anchois", "fisch*", "lachs*",
        "sardelle*", "vis", "ansjovis", "zalm", "pesce", "tonno", "acciug*", "salmone",
        "merluzz*", "anchoa*", "pescado", "atun", "riba", "ribe", "fisk*", "*fisk"),
        allergen=True, animal=True, meat=True),
    Substance("crustaceans", _words(
        "crustacean*", "shrimp*", "prawn*", "crab*", "lobster*", "crustace*", "crevette*", "krebstier*",
        "garnele*", "schaaldier*", "garnal*", "crostace*", "gamber*", "crustaceo*", "gamba*", "rakov*",
        "skamp*"), allergen=True, animal=True, meat=True),
    Substance("molluscs", _words(
        "mollus*", "mussel*", "oyster*", "squid", "weichtier*", "weekdier*", "molluschi", "moluscos",
        "mekusc*"), allergen=True, animal=True, meat=True),
    Substance("peanuts", _words(
        "peanut*", "groundnut*", "arachide*", "d arachides", "erdnuss*", "pinda*", "arachidi", "cacahuete*",
        "mani", "kikiriki*"), allergen=True, animal=False),
    Substance("tree nuts", _words(
        "nut", "nuts", "tree nut*", "almond*", "hazelnut*", "walnut*", "cashew*", "pecan*", "pistachio*",
        "macadamia*", "brazil nut*", "fruits a coque*", "noisette*", "amande*", "noix", "pistache*",
        "schalenfrucht*", "*nusse", "haselnuss*", "mandel*", "walnuss*", "cashew*", "noten", "*noot",
        "hazelnot*", "amandel*", "schaalvrucht*", "frutta a guscio", "frutta secca a guscio", "nocciol*",
        "mandorl*", "noci", "frutos de cascara", "frutos secos", "avellana*", "almendra*", "nuez", "nueces",
        "orasast*", "ljesnjak*", "badem*", "orah*", "pistacij*", "notter", "hasselnot*"),
        allergen=True, animal=False),
    Substance("gluten", _words(
        "gluten*", "wheat*", "barley", "rye", "spelt", "oats", "ble", "farine de ble", "orge", "seigle",
        "epeautre", "avoine", "weizen*", "gerste*", "roggen*", "dinkel*", "hafer*", "tarwe*", "gerst*",
        "rogge*", "spelt*", "haver*", "frumento", "grano", "orzo", "segale", "farro", "avena", "trigo",
        "cebada", "centeno", "espelta", "psenic*", "jecam*", "raz", "zob*", "vete"),
        allergen=True, animal=False),
    Substance("soy", _words(
        "soy*", "soja*", "soia", "soya*"), allergen=True, animal=False),
    Substance("sesame", _words(
        "sesame*", "sesam*", "tahini"), allergen=True, animal=False),
    Substance("mustard", _words(
        "mustard*", "moutarde*", "senf*", "mosterd*", "senape", "mostaza", "senf", "gorusic*", "senap*"),
        allergen=True, animal=False),
    Substance("celery", _words(
        "celery", "celeriac", "celeri*", "sellerie*", "selderij*", "sedano", "apio", "celer*", "selleri*"),
        allergen=True, animal=False),
    Substance("sulphites", _words(
        "sulphite*", "sulfite*", "sulphur dioxide", "sulfur dioxide", "anhydride sulfureux", "schwefeldioxid*",
        "sulfit*", "zwaveldioxide", "solfit*", "anidride solforosa", "sulfito*", "e220", "e 220"),
        allergen=True, animal=False),
    Substance("lupin", _words(
        "lupin*", "lupine*", "lupino*", "lupine"), allergen=True, animal=False),
    Substance("meat", _words(
        "meat*", "beef", "pork", "chicken", "turkey", "ham", "bacon", "lard", "tallow", "gelatin*", "viande*",
        "boeuf", "porc", "poulet", "saindoux", "*fleisch*", "rinder*", "schwein*", "huhn", "huhner", "hahnchen*",
        "speck", "*vlees*", "rund", "varken*", "kip", "kipfilet*", "carne*", "manzo", "maiale", "pollo", "strutto",
        "cerdo", "meso", "svinj*", "govedin*", "piletin*", "kott", "gelatine*", "gelatina",
        "zelatin*", "rennet", "presure", "stremsel", "caglio", "cuajo", "sirisce"),
        allergen=False, animal=True, meat=True),
    Substance("carmine", _words(
        "carmine*", "cochineal*", "e120", "e 120", "karmin*", "carmin*", "cocciniglia", "cochenille*"),
        allergen=False, animal=True, meat=True),
    Substance("honey", _words(
        "honey", "miel", "honig*", "honing", "miele", "honung", "beeswax", "cire d abeille",
        "bienenwachs", "shellac", "schellack", "e904", "e901", "royal jelly"), allergen=False, animal=True),
)

# A plant drink or fat named like a dairy one ("coconut milk", "cocoa butter", "Kokosmilch") is not milk; a
# coconut is no tree nut on a label.
_PLANT_BEFORE = re.compile(r"(?:coco(?:nut)?|kokos|almond|amande|mandel|amandel|soy|soya|soja|oat|avoine|hafer|"
                           r"haver|rice|riz|reis|rijst|cocoa|cacao|kakao|peanut|shea|karite|nut|de coco|"
                           r"of tartar|d arachide|arachide|pinda)\s*$")
_PLANT_COMPOUND = re.compile(r"^(?:kokos|mandel|soja|hafer|reis|kakao|erdnuss|cacao|kokosnuss|pinda|haver)")
_PLANT_AFTER = re.compile(r"^\s*(?:de|d|di|of|van|von)?\s*(?:coco|cocco|coconut|kokos|soja|soia|soy|soya|amande|"
                          r"almendra|mandorla|avena|avoine|riso|arroz|riz|cacao|cocoa|karite|shea|cacahuetes?|"
                          r"arachides?|mani)\b")
_NOT_A_NUT = re.compile(r"\b(?:coconut|noix de coco|kokosnuss|kokosnoot|nutmeg|noix de muscade|muskatnuss)\b")
# "milk-free", "sans lait", "ohne Milch": a word that denies the one after (or before) it.
_DENIED_BEFORE = re.compile(r"\b(?:no|without|sans|ohne|zonder|senza|sin|bez|free from|free of)\s+$")
_DENIED_AFTER = re.compile(r"^\s*-?\s*(?:free|frei|vrij|libre)\b")

INGREDIENTS_HEADING = re.compile(
    r"\b(?:ingredients?|ingredienten|ingredienti|ingredientes|ingrediente|zutaten|sastojci|sastojki|"
    r"ingredienser|ainesosat|skladniki|slozeni|bestanddelen)\b")
# Checked before CONTAINS: "may contain" must not read as "contains".
MAY_CONTAIN = re.compile(
    r"\b(?:may (?:also )?contain|may be present|can contain|made in a (?:factory|facility) that|produced in a "
    r"(?:factory|facility) that|(?:small )?traces? of|peut contenir|traces? (?:eventuelles? )?(?:de|d)|"
    r"kann(?=(?: \w+){1,5} enthalten)|spuren von|kan sporen|sporen van|puo contenere|tracce di|puede contener|"
    r"trazas de|pode conter|moze sadrzavati|moze sadrzati|tragove|kan innehalla|spar av)\b")
CONTAINS = re.compile(
    r"\b(?:contains|allergens?|allergy advice|allergy information|contient|enthalt|bevat|contiene|contem|"
    r"sadrzi|innehaller|allergenes?|allergene|allergenen|alergenos|alergeni)\b\s*:?")
ALLERGEN_STATEMENT = re.compile(f"(?:{MAY_CONTAIN.pattern})|(?:{CONTAINS.pattern})")
# Where an ingredient list ends: the next section of the label.
SECTION_END = re.compile(
    r"^\W*(?:nutrition|valeurs? nutritionnelles?|nahrwert|voedingswaarde|valori nutrizionali|informacion "
    r"nutricional|prehrambena|energy|energie|storage|store |keep |conserver|a conserver|a consommer|best before|"
    r"use by|mindestens haltbar|ten minste houdbaar|da consumarsi|consumir preferentemente|net|poids net|"
    r"nettogewicht|peso netto|distribu|manufactured|produced by|hergestellt|made in|lot|quality|usage|"
    r"directions|preparation|zubereitung|bereiding)")


@dataclass(frozen=True, slots=True)
class Mention:
    """A substance named in a piece of label text: the word as printed and where it starts (folded text)."""

    substance: Substance
    word: str
    start: int


def mentions_in(folded: str) -> list[Mention]:
    """Every substance ``folded`` names, in reading order, leaving out the look-alikes and the denied."""
    found: list[Mention] = []
    for substance in SUBSTANCES:
        for match in substance.pattern.finditer(folded):
            if not _counts(substance, folded, match):
                continue
            found.append(Mention(substance, match.group(0), match.start()))
    return sorted(found, key=lambda mention: mention.start)


def _counts(substance: Substance, folded: str, match: re.Match[str]) -> bool:
    before, after, word = folded[:match.start()], folded[match.end():], match.group(0)
    if _DENIED_BEFORE.search(before) or _DENIED_AFTER.search(after):
        return False
    if substance.name == "milk" and (_PLANT_BEFORE.search(before) or _PLANT_AFTER.match(after)
                                     or _PLANT_COMPOUND.match(word)):
        return False
    if substance.name == "tree nuts":
        around = folded[max(0, match.start() - 10):match.end() + 10]
        if _NOT_A_NUT.search(around) or _PLANT_COMPOUND.match(word):
            return False
    return True
