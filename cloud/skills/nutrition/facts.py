"""What a nutrition table states: facts (a nutrient's figure on a basis, with its confidence) per table."""

from __future__ import annotations

from dataclasses import dataclass, field

from eyeline.cloud.model import NormBox
from eyeline.cloud.skills.nutrition.lexicon import Basis, Nutrient

# Confidence kept when a column's checks fail, and when a figure was read as a likely OCR slip's original.
FAILED_CHECK_FACTOR = 0.5
REPAIRED_FACTOR = 0.8


@dataclass(frozen=True, slots=True)
class Fact:
    """One figure a label states: what, how much, on which basis, and how sure the reading is."""

    nutrient: Nutrient
    value: float
    unit: str                       # "g", "mg", "kcal", "kJ"
    basis: Basis
    serving_g: float | None = None  # the serving's size, where the label states it
    confidence: float = 1.0
    below: bool = False             # printed as an upper bound ("<0.5 g")
    evidence: tuple[NormBox, ...] = ()
    checks: tuple[str, ...] = ()    # the plausibility checks its column failed
    digits: str = ""                # the number as printed, for a reading of a likely OCR slip

    @property
    def grams(self) -> float | None:
        scale = {"g": 1.0, "mg": 0.001, "ug": 1e-6}.get(self.unit)
        return None if scale is None else self.value * scale


@dataclass(frozen=True, slots=True)
class NutritionTable:
    """One product's table: the facts read, its place in the frame, the serving size and what was checked."""

    facts: tuple[Fact, ...]
    region: NormBox
    serving_g: float | None = None
    notes: tuple[str, ...] = field(default=())
    package_g: float | None = None     # the net quantity printed on the package, in g or ml

    def fact(self, nutrient: Nutrient, basis: Basis | None = None, unit: str | None = None) -> Fact | None:
        """The most confident figure for ``nutrient`` (on ``basis``, in ``unit``, where given)."""
        found = [f for f in self.facts if f.nutrient is nutrient and (basis is None or f.basis is basis)
                 and (unit is None or f.unit == unit)]
        return max(found, key=lambda f: f.confidence, default=None)
