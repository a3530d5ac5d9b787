"""Ground what is read on a package in a product catalog: fuzzy matching of the visible text.

Used when a package's panel is not in view (hidden, occluded, unreadable) but its name is, and to verify
an amount read from a panel against what the maker states. A match must be close; anything less is no
match, so the skill says "unknown" rather than borrowing a neighbour's figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from eyeline.cloud.knowledge.schema import CatalogProduct

# Below this similarity (0..1) two names are different products: "Peak Protein Bar" vs "Bolt Energy Bar"
# scores about 0.6, an OCR slip such as "Peak Prot3in Bar" about 0.95.
MIN_MATCH = 0.8


@dataclass(frozen=True, slots=True)
class CatalogMatch:
    product: CatalogProduct
    score: float


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces: what OCR slips leave comparable."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("0", "o")))


class CatalogMatcher:
    """Finds the catalog product a piece of read text names, if one is close enough."""

    def __init__(self, products: Sequence[CatalogProduct], min_score: float = MIN_MATCH) -> None:
        self._names = [(normalise(name), product) for product in products
                       for name in (product.display_name, product.name, *product.aliases)]
        self._min_score = min_score

    def __bool__(self) -> bool:
        return bool(self._names)

    def match(self, text: str) -> CatalogMatch | None:
        read = normalise(text)
        if len(read) < 3:
            return None
        best: CatalogMatch | None = None
        for name, product in self._names:
            score = SequenceMatcher(None, read, name, autojunk=False).ratio()
            if best is None or score > best.score:
                best = CatalogMatch(product, score)
        return best if best is not None and best.score >= self._min_score else None
