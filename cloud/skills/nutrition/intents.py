"""What a nutrition question asks, from a small grammar rather than a list of sentences.

    question  := [filler] (amount | extreme | comparison) [basis] [quantity]
    nutrient  := protein | calories/energy/kcal/kJ | fat | saturated fat | carbs | sugar | fibre | salt | sodium
                 (English words, and every name the label lexicon knows: "Eiweiß", "glucides", ...)
    extreme   := most | highest | richest | best for | buy for | more ... | least | lowest | fewest | less ...
    comparison:= yes/no: (is|does|has|are) A [have|got|contain] (higher|more|richer|lower|less|fewer|
                 saltier|sweeter|fattier ...) [in|of] N than B  -- A, B: "this (one)", "that (one)", "the other
                 (one)", "it", or words of a product's name; "compare ..." ranks (most)
    basis     := per serving | per portion | per 100 g/ml | per pack(age)/in the whole pack
    quantity  := in/for/per <n> g|ml|grams  |  <n> servings/portions

Anything not a nutrition question parses to None, so routing stays with the other skills.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from eyeline.cloud.skills.nutrition.lexicon import Basis, Nutrient, fold, nutrient_named


class Ask(enum.Enum):
    AMOUNT = "amount"
    MOST = "most"
    LEAST = "least"
    COMPARE = "compare"     # a yes/no question: is A higher (or lower) in N than B?


@dataclass(frozen=True, slots=True)
class NutritionQuestion:
    nutrient: Nutrient
    ask: Ask = Ask.AMOUNT
    basis: Basis | None = None         # the basis asked for; None: whatever the label states
    quantity_g: float | None = None    # "in 30 g": the amount eaten, in g or ml
    servings: float | None = None      # "in 2 servings"
    energy_unit: str = "kcal"          # "kJ" when asked in kilojoules
    # COMPARE: who is asked about and against whom, as said ("this", "that one", "the other", a name), and
    # whether A is asked to have more (True) or less (False).
    pair: tuple[str, str] = ("", "")
    more: bool = True


def _any(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


# Order matters: the more specific name first ("saturated fat" before "fat", "calories" before nothing).
_NUTRIENT_WORDS: tuple[tuple[Nutrient, re.Pattern[str]], ...] = tuple((n, re.compile(p)) for n, p in (
    (Nutrient.SATURATED_FAT, _any(r"saturated(?: fats?)?", r"saturates", r"sat fats?")),
    (Nutrient.SUGARS, _any(r"sugars?", r"sugary", r"sweet(?:er|est)?")),
    (Nutrient.FIBRE, _any(r"fib(?:re|er)s?", r"roughage")),
    (Nutrient.CARBOHYDRATE, _any(r"carb(?:ohydrate)?s?")),
    (Nutrient.PROTEIN, _any(r"proteins?", r"protein rich")),
    (Nutrient.SODIUM, _any(r"sodium")),
    (Nutrient.SALT, _any(r"salt", r"salty", r"saltier", r"saltiest")),
    (Nutrient.FAT, _any(r"fats?", r"fatty", r"fattier", r"fattiest")),
    (Nutrient.ENERGY, _any(r"calories?", r"cals?", r"kcals?", r"kilocalories?", r"energy", r"kj", r"kilojoules?")),
))
_KILOJOULES = re.compile(_any(r"kj", r"kilojoules?"))
_MOST = re.compile(_any(r"most", r"highest", r"richest", r"max(?:imum)?", r"best (?:source )?(?:for|of)",
                        r"buy for", r"pick for", r"choose for", r"greatest", r"biggest", r"largest", r"higher",
                        r"more", r"top", r"saltiest", r"fattiest", r"sweetest", r"rank(?:ed|ing)?"))
_LEAST = re.compile(_any(r"least", r"lowest", r"fewest", r"min(?:imum)?", r"lower", r"less", r"smallest",
                         r"leanest", r"lightest"))
_SEVERAL = re.compile(_any(r"which", r"these", r"those", r"them", r"than", r"compare[ds]?", r"comparison",
                           r"versus", r"vs", r"or the other", r"between", r"rank(?:ed|ing)?", r"sort"))
_PER_100 = re.compile(r"\b(?:per|in|for|every|each|a)\s*(?:100|hundred|one hundred)\s*"
                      r"(?:g|grams?|ml|millilit(?:re|er)s?)\b|\bper 100\b")
_PER_SERVING = re.compile(_any(r"per serving", r"a serving", r"each serving", r"one serving", r"per portion",
                               r"a portion", r"one portion", r"per piece", r"per bar", r"per slice",
                               r"per cookie", r"serving size", r"in a serving"))
_PER_PACKAGE = re.compile(_any(r"per pack(?:age|et)?", r"the whole (?:pack(?:age|et)?|thing|box|bag|bottle|pot|tub|"
                               r"jar|can|carton)", r"in total", r"altogether", r"the entire \w+", r"per container",
                               r"all of it", r"the whole of it"))
_QUANTITY = re.compile(r"\b(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>g|grams?|ml|millilit(?:re|er)s?)\b")
_SERVINGS = re.compile(r"\b(?P<num>\d+(?:[.,]\d+)?|one|two|three|four|five|half a|half)\s+"
                       r"(?:servings?|portions?|pieces?|bars?|slices?|cookies?|biscuits?)\b")
_NUMBER_WORDS = {"one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "half": 0.5, "half a": 0.5}
# A question about what is in view, not a statement or a command to another skill.
_ASKING = re.compile(_any(r"wie ?viel\w*", r"combien", r"hoeveel", r"cuant[oa]s?", r"quant[oiae]", r"koliko",
                          r"hur mycket", r"hvor mye", r"hvor meget",
                          r"how much", r"how many", r"what(?:'s| is| are)?", r"which", r"does", r"do", r"is",
                          r"are", r"has", r"have", r"got", r"contains?", r"tell me", r"show me", r"give me",
                          r"amount", r"compare", r"rank", r"should", r"can", r"any", r"in this", r"grams?",
                          r"i (?:want|need|am looking for|m looking for)", r"find", r"pick", r"choose", r"buy"))


_COMPARATIVE_MORE = r"higher|more|richer|bigger|greater|larger|saltier|sweeter|fattier|heavier"
_COMPARATIVE_LESS = r"lower|less|fewer|smaller|leaner|lighter"
# is A higher in N than B / does A have more N than B / is A lower in N compared to B
_YES_NO = re.compile(r"^(?:is|does|do|has|have|are)\s+(?P<a>.+?)\s+(?:(?:have|has|got|contain|contains)\s+)?"
                     r"(?:got\s+)?(?:a\s+)?(?:bit\s+|lot\s+|much\s+)?"
                     rf"(?P<dir>{_COMPARATIVE_MORE}|{_COMPARATIVE_LESS})\b(?P<middle>.*?)"
                     r"\b(?:than|compared (?:to|with)|vs|versus)\s+(?P<b>.+?)$")
_FILLER_WORDS = re.compile(_any(r"in", r"of", r"on", r"the", r"amount", r"content", r"per serving", r"per 100 g?",
                                r"per 100 grams", r"please", r"grams"))


def _yes_no(said: str, nutrient: Nutrient) -> tuple[tuple[str, str], bool] | None:
    """The pair a yes/no comparison names and whether A is asked to have more; None if it is no such question."""
    found = _YES_NO.search(re.sub(r"^(?:ok |hey )?(?:eyeline,? |so,? |and,? |but,? )*", "", said.strip(" ?.!")))
    if found is None:
        return None
    a, b = (_who(found.group(side), nutrient) for side in ("a", "b"))
    if not a or not b:
        return None
    return (a, b), re.fullmatch(_COMPARATIVE_MORE, found.group("dir")) is not None


def _who(said: str, nutrient: Nutrient) -> str:
    """A side of a comparison with the nutrient and filler words taken out: "this one", "the other", a name."""
    for other, pattern in _NUTRIENT_WORDS:
        if other is nutrient:
            said = pattern.sub(" ", said)
    said = _FILLER_WORDS.sub(" ", _PER_100.sub(" ", _PER_SERVING.sub(" ", said)))
    return " ".join(w for w in said.split() if w not in {"one", "product", "package", "pack", "1"}) or \
        ("this" if "one" in said.split() else "")


def parse_question(text: str) -> NutritionQuestion | None:
    """The nutrition question ``text`` asks, or None when it asks none."""
    said = " ".join(re.sub(r"[^\w\s.,%]", " ", fold(text)).split())
    nutrient = _nutrient(said)
    if nutrient is None or not _ASKING.search(said):
        return None
    compared = _yes_no(said, nutrient)
    ask = Ask.COMPARE if compared else _ask(said)
    quantity = _QUANTITY.search(_PER_100.sub(" ", said))
    servings = _SERVINGS.search(said)
    basis = Basis.PER_100 if _PER_100.search(said) else Basis.SERVING if _PER_SERVING.search(said) else \
        Basis.PACKAGE if _PER_PACKAGE.search(said) else None
    return NutritionQuestion(
        nutrient, ask, basis, float(quantity.group("num").replace(",", ".")) if quantity else None,
        _servings(servings.group(1)) if servings else None, "kJ" if _KILOJOULES.search(said) else "kcal",
        *((compared[0], compared[1]) if compared else ()))


def _nutrient(said: str) -> Nutrient | None:
    for nutrient, pattern in _NUTRIENT_WORDS:
        if pattern.search(said):
            return nutrient
    return nutrient_named(said)   # a label's own word: "eiweiss", "glucides", "proteiner"


def _ask(said: str) -> Ask:
    several = bool(_SEVERAL.search(said))
    least, most = _LEAST.search(said), _MOST.search(said)
    if least and (not most or least.start() < most.start()) and (several or "least" in said or "lowest" in said):
        return Ask.LEAST
    if most and (several or re.search(_any(r"most", r"highest", r"richest", r"buy for", r"best for"), said)):
        return Ask.MOST
    return Ask.AMOUNT


def _servings(raw: str) -> float:
    return _NUMBER_WORDS.get(raw) or float(raw.replace(",", "."))
