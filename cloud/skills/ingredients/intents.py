"""What an ingredients question asks, from a small grammar rather than a list of sentences.

    question  := asking (diet | substance | listing)
    asking    := is | are | does | do | has | have | any | contains | can i | safe | free | what | which | ...
    diet      := vegan | plant-based | vegetarian | veggie
    substance := every allergen and animal-derived word the label lexicon knows ("nuts", "Milch", "gluten"),
                 and the wearer's words for them: dairy, lactose, wheat, eggs, shellfish, pork, gelatin, ...
    listing   := ingredients | allergens | what is in it | what is it made of/from

Anything that is not such a question parses to None, so routing stays with the other skills.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from eyeline.cloud.skills.ingredients.lexicon import SUBSTANCES, Substance, fold, mentions_in


class Ask(enum.Enum):
    VEGAN = "vegan"
    VEGETARIAN = "vegetarian"
    SUBSTANCE = "substance"     # "does it contain nuts?"
    LIST = "list"               # "what are the ingredients?"


@dataclass(frozen=True, slots=True)
class IngredientQuestion:
    ask: Ask
    substances: tuple[Substance, ...] = ()   # for SUBSTANCE: what is asked about ("nuts": peanuts and tree nuts)


def _any(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


_BY_NAME = {substance.name: substance for substance in SUBSTANCES}
# The wearer's words for a substance, beyond the label's own; "nuts" asks about peanuts too.
_ASKED_AS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_any(r"nuts?", r"nutty", r"nut free"), ("tree nuts", "peanuts")),
    (_any(r"dairy", r"lactose", r"milky?"), ("milk",)),
    (_any(r"wheat", r"gluten", r"coeliac", r"celiac"), ("gluten",)),
    (_any(r"eggs?"), ("egg",)),
    (_any(r"shellfish", r"seafood"), ("crustaceans", "molluscs")),
    (_any(r"pork", r"pig", r"beef", r"meat", r"gelatine?", r"animal rennet"), ("meat",)),
    (_any(r"sulph?ites?", r"sulfites?"), ("sulphites",)),
)
_VEGAN = _any(r"vegan", r"plant based", r"plant-based", r"vegane?", r"veganistisch", r"vegano", r"veganski")
_VEGETARIAN = _any(r"vegetarian", r"veggie", r"vegetarien(?:ne)?", r"vegetarisch", r"vegetariano",
                   r"vegetarijansk\w*")
_LISTING = _any(r"ingredients?", r"allergens?", r"allergy", r"allergies", r"what(?: s| is)? in (?:it|this|here)",
                r"made (?:of|from|with)", r"zutaten", r"ingredienti", r"ingredientes", r"sastojci")
_ASKING = _any(r"is", r"are", r"does", r"do", r"has", r"have", r"any", r"contains?", r"can", r"could", r"eat",
               r"safe", r"free", r"what", r"which", r"tell me", r"list", r"read", r"show me", r"there",
               r"with", r"without", r"ok", r"okay", r"suitable", r"allergic", r"ist", r"est", r"es", r"is het",
               r"enthalt", r"contient", r"bevat", r"contiene", r"sadrzi", r"ima li")


_FREE = re.compile(r"[\s-]*\b(?:free|frei|vrij|libre|sans|senza|sin|bez|without|ohne)\b")


def parse_question(text: str) -> IngredientQuestion | None:
    """The ingredients question ``text`` asks, or None when it asks none."""
    said = " ".join(re.sub(r"[^\w\s-]", " ", fold(text)).split())
    if not _ASKING.search(said):
        return None
    if _VEGAN.search(said):
        return IngredientQuestion(Ask.VEGAN)
    if _VEGETARIAN.search(said):
        return IngredientQuestion(Ask.VEGETARIAN)
    substances = _substances(said)
    if substances:
        return IngredientQuestion(Ask.SUBSTANCE, substances)
    if _LISTING.search(said):
        return IngredientQuestion(Ask.LIST)
    return None


def _substances(said: str) -> tuple[Substance, ...]:
    named: list[str] = []
    for pattern, names in _ASKED_AS:
        if pattern.search(said):
            named += names
    # "free" asks here ("is it gluten free?"); on a label it denies, so it is left out before the label's rules
    # (which also keep "peanut butter" from asking about milk) read the question.
    named += [mention.substance.name for mention in mentions_in(_FREE.sub(" ", said))]
    return tuple(_BY_NAME[name] for name in dict.fromkeys(named))
