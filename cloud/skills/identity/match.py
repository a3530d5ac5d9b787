"""Which catalog product a package front shows: its barcode when one is read, else its words matched fuzzily.

Fronts are read badly and partly: a brand in a logo font, a compound word split over two lines ("HAVRE" /
"GURT"), a letter misread ("MELLANMUOK"). So each catalog name is matched word by word against the words read
(and each pair of consecutive words joined, or a compound's two parts read anywhere), a name word counting
with its length when some word read is close to it (rapidfuzz ratio, or a longer word read that holds it
whole: Swedish "SOMMARMJÖLK" holds "mjölk").
A product is named only when enough of one of its names is read, and clearly more than of any other product.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.perception.barcode import Barcode

_WORD_MATCH = 80.0          # rapidfuzz similarity (0-100) at which a word read counts as a name's word
_BRAND_MATCH = 85.0
_MIN_WORD_LEN = 3           # shorter words ("ko", "2%") say too little to identify anything
_MIN_LETTERS_HELD = 4       # a name word found inside a longer word read must be at least this long
_BRAND_WEIGHT = 6.0         # a brand read is worth about one whole name word
# Without the brand, a whole name of two or more words must be read, each of at least four letters: short
# words ("bar", "fat", "soy") and a name's single generic word ("orange") are on too many packages.
_MIN_WORDS_WITHOUT_BRAND = 2
_MIN_LETTERS_WITHOUT_BRAND = 4
_MIN_MASS_WITH_BRAND = 3.0
_COMPOUND_PART = 3           # a compound name word ("mellanmjolk") may be read as its parts, each this long
_MARGIN = 3.0               # the winner must lead the runner-up by this much, or the front is ambiguous


@dataclass(frozen=True, slots=True)
class Identification:
    """The product a front shows and how it was told: ``"barcode"`` or ``"text"``, with the words that decided."""

    product: CatalogProduct
    by: str
    confidence: float
    evidence: tuple[str, ...] = ()
    barcode: str = ""


@dataclass(frozen=True, slots=True)
class _Score:
    product: CatalogProduct
    mass: float
    brand: bool
    coverage: float
    words: tuple[str, ...]
    shortest: int = 0           # letters in the shortest name word matched

    @property
    def total(self) -> float:
        return self.mass + (_BRAND_WEIGHT if self.brand else 0.0)

    @property
    def enough(self) -> bool:
        if self.brand:
            return self.mass >= _MIN_MASS_WITH_BRAND
        return (self.coverage == 1.0 and len(self.words) >= _MIN_WORDS_WITHOUT_BRAND
                and self.shortest >= _MIN_LETTERS_WITHOUT_BRAND)


def identify(texts: Sequence[str], codes: Iterable[Barcode],
             products: Sequence[CatalogProduct]) -> Identification | None:
    """The product in view, or ``None`` when neither a barcode nor the words read name one product clearly."""
    by_code = {product.barcode.zfill(14): product for product in products if product.barcode}
    for code in codes:
        if code.gtin in by_code:
            return Identification(by_code[code.gtin], "barcode", 0.99, (code.digits,), code.digits)
    words = read_words(texts)
    if not words:
        return None
    scores = sorted((_score(product, words) for product in products), key=lambda s: s.total, reverse=True)
    best = scores[0] if scores else None
    if best is None or not best.enough:
        return None
    runner_up = scores[1].total if len(scores) > 1 else 0.0
    if best.total - runner_up < _MARGIN:
        return None
    confidence = min(0.95, 0.5 + 0.45 * min(1.0, best.coverage + (0.3 if best.brand else 0.0)))
    return Identification(best.product, "text", round(confidence, 2), best.words)


def read_words(texts: Sequence[str]) -> tuple[str, ...]:
    """The words read, folded (lower case, no accents), plus each consecutive pair joined."""
    words = [word for text in texts for word in fold(text).split() if word]
    joined = [a + b for a, b in itertools.pairwise(words)]
    return (*words, *joined)


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return str(default_process(plain))


def _score(product: CatalogProduct, words: Sequence[str]) -> _Score:
    brand_words = [w for w in fold(product.brand).split() if len(w) >= _MIN_WORD_LEN]
    brand = any(_best(word, words)[0] >= _BRAND_MATCH for word in brand_words)
    best = _Score(product, 0.0, brand, 0.0, ())
    for name in (product.name, *product.aliases):
        name_words = [w for w in fold(name).split() if len(w) >= _MIN_WORD_LEN and not w.isdigit()
                      and w not in brand_words]
        if not name_words:
            continue
        mass, matched, shortest = 0.0, [], 0
        for word in name_words:
            similarity, read = _best(word, words)
            if similarity >= _WORD_MATCH:
                mass += len(word) * similarity / 100.0
                matched.append(read)
                shortest = min(shortest, len(word)) if shortest else len(word)
        candidate = _Score(product, mass, brand, len(matched) / len(name_words), tuple(matched), shortest)
        if candidate.total > best.total or (candidate.total == best.total and candidate.coverage > best.coverage):
            best = candidate
    return best


def _best(word: str, words: Sequence[str]) -> tuple[float, str]:
    best, best_read = _compound(word, words)
    for read in words:
        if len(read) < _MIN_WORD_LEN:
            continue
        similarity = fuzz.ratio(word, read)
        if len(word) >= _MIN_LETTERS_HELD and len(read) > len(word) and word in read:
            similarity = 100.0
        if similarity > best:
            best, best_read = similarity, read
    return best, best_read


def _compound(word: str, words: Sequence[str]) -> tuple[float, str]:
    """A compound name word read as its two parts anywhere on the front ("MELLAN" ... "MJÖLK")."""
    present = set(words)
    for cut in range(_COMPOUND_PART, len(word) - _COMPOUND_PART + 1):
        if word[:cut] in present and word[cut:] in present:
            return 100.0, word
    return 0.0, ""
