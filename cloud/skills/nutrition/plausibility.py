"""Does a reading of a nutrition table make sense as food? Checks that pick between readings and lower
confidence when they fail.

A reading is one column: nutrient -> (value, unit) on one basis. The checks, each from how labels are made:
units fit their rows (energy in kJ/kcal, the rest in g/mg), nothing weighs more than 100 g per 100 g and the
macronutrients together fit in 100 g, saturated fat is part of fat and sugars part of carbohydrate, energy
agrees with the macronutrients (9 kcal/g fat, 4 carbohydrate and protein, 2 fibre) and kJ with kcal, and a
serving's figures are its share of the per-100 g ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from eyeline.cloud.skills.nutrition.lexicon import Amount, Basis, Nutrient

KJ_PER_KCAL = 4.184
_ATWATER = {Nutrient.FAT: 9.0, Nutrient.CARBOHYDRATE: 4.0, Nutrient.PROTEIN: 4.0, Nutrient.FIBRE: 2.0}
# Labels round each figure, and fibre or polyols may or may not be counted: energy is checked loosely.
_ENERGY_TOLERANCE = 0.25
_ENERGY_SLACK_KCAL = 15.0
_MACROS = (Nutrient.FAT, Nutrient.CARBOHYDRATE, Nutrient.PROTEIN, Nutrient.FIBRE, Nutrient.SALT)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checks found: points for and against, and the failures in words (for the trace)."""

    passed: int = 0
    failed: tuple[str, ...] = field(default=())

    @property
    def score(self) -> float:
        return self.passed - 2.0 * len(self.failed)

    def __add__(self, other: Verdict) -> Verdict:
        return Verdict(self.passed + other.passed, self.failed + other.failed)


Column = Mapping[Nutrient, Amount]


def grams(amount: Amount) -> float:
    """Grams for a mass, the bare number for one printed without a unit (OCR often drops the "g")."""
    mass = amount.grams
    return amount.value if mass is None else mass


def kcal(amount: Amount) -> float | None:
    if amount.unit == "kJ":
        return amount.value / KJ_PER_KCAL
    if amount.unit in ("kcal", ""):
        return amount.value
    return None


def check_column(column: Column, basis: Basis, energy: tuple[Amount, ...] = ()) -> Verdict:
    """All checks one column can make on its own. ``energy`` are every energy figure of the column (kJ and kcal
    both, when the row states both)."""
    verdict = _units(column, energy)
    if basis is Basis.PER_100:
        verdict += _fits_in_100g(column)
    verdict += _parts(column) + _energy(column, energy)
    return verdict


def _units(column: Column, energy: tuple[Amount, ...]) -> Verdict:
    """Only failures count: a unit that fits proves little, one that does not proves a misplaced figure."""
    failed = [f"{nutrient.value} printed in {amount.unit}" for nutrient, amount in column.items()
              if nutrient is not Nutrient.ENERGY and amount.unit in ("kJ", "kcal", "%")]
    failed += [f"energy printed in {amount.unit}" for amount in energy if amount.unit in ("g", "mg", "%")]
    return Verdict(0, tuple(failed))


def _fits_in_100g(column: Column) -> Verdict:
    failed = [f"{n.value} {grams(a):g} g in 100 g" for n, a in column.items()
              if n is not Nutrient.ENERGY and n is not Nutrient.SODIUM and grams(a) > 100.0]
    total = sum(grams(column[n]) for n in _MACROS if n in column)
    if total > 105.0:
        failed.append(f"macronutrients add up to {total:g} g in 100 g")
    return Verdict(0, tuple(failed))


def _parts(column: Column) -> Verdict:
    passed, failed = 0, []
    for part, whole in ((Nutrient.SATURATED_FAT, Nutrient.FAT), (Nutrient.SUGARS, Nutrient.CARBOHYDRATE)):
        if part in column and whole in column:
            if grams(column[part]) <= grams(column[whole]) + 0.05:
                passed += 1
            else:
                failed.append(f"{part.value} {grams(column[part]):g} g above {whole.value} "
                              f"{grams(column[whole]):g} g")
    return Verdict(passed, tuple(failed))


def energy_from_macros(column: Column) -> float | None:
    """kcal worked out from fat, carbohydrate and protein (and fibre), when all three are read."""
    if not all(n in column for n in (Nutrient.FAT, Nutrient.CARBOHYDRATE, Nutrient.PROTEIN)):
        return None
    return sum(factor * grams(column[n]) for n, factor in _ATWATER.items() if n in column)


def _energy(column: Column, energy: tuple[Amount, ...]) -> Verdict:
    stated = [value for value in map(kcal, energy) if value is not None]
    passed, failed = 0, []
    if len(stated) >= 2 and {a.unit for a in energy} >= {"kJ", "kcal"}:
        low, high = min(stated), max(stated)
        if high - low <= 0.05 * high + 2.0:
            passed += 1
        else:
            failed.append("kJ and kcal disagree")
    worked = energy_from_macros(column)
    least = sum(factor * grams(column[n]) for n, factor in _ATWATER.items() if n in column)
    if stated and worked is None and least > stated[-1] * (1 + _ENERGY_TOLERANCE) + _ENERGY_SLACK_KCAL:
        failed.append(f"energy {stated[-1]:.0f} kcal but the figures read make at least {least:.0f} kcal")
    if stated and worked is not None:
        target = stated[-1]
        if abs(worked - target) <= _ENERGY_TOLERANCE * target + _ENERGY_SLACK_KCAL:
            passed += 2
        else:
            failed.append(f"energy {target:.0f} kcal but the macronutrients make {worked:.0f} kcal")
    return Verdict(passed, tuple(failed))


def serving_ratio(per_100: Column, per_serving: Column, serving_g: float | None) -> float | None:
    """What a serving's figures should be, as a share of the per-100 g ones: the serving size over 100 where
    most rows agree with it, else the share most rows agree on (a serving size misread is common)."""
    ratios = _ratios(per_100, per_serving)
    if not ratios:
        return serving_g / 100.0 if serving_g else None
    if serving_g and 2 * sum(_agrees(r, serving_g / 100.0) for r in ratios.values()) >= len(ratios):
        return serving_g / 100.0
    ordered = sorted(ratios.values())
    median = ordered[len(ordered) // 2]
    return median if 2 * sum(_agrees(r, median) for r in ordered) > len(ordered) else None


def check_serving(per_100: Column, per_serving: Column, serving_g: float | None) -> Verdict:
    """Whether a serving's figures are its share of the per-100 g ones."""
    ratios = _ratios(per_100, per_serving)
    expected = serving_ratio(per_100, per_serving, serving_g)
    if not ratios or expected is None:
        return Verdict()
    bad = [n.value for n, ratio in ratios.items() if not _agrees(ratio, expected)]
    failed = (f"{', '.join(bad)} per serving not a {expected * 100:g} g share of per 100 g",) if bad else ()
    return Verdict(len(ratios) - len(bad), failed)


def ratio_agrees(per_100: Amount, per_serving: Amount, expected: float) -> bool:
    return grams(per_100) > 0 and _agrees(grams(per_serving) / grams(per_100), expected)


def _ratios(per_100: Column, per_serving: Column) -> dict[Nutrient, float]:
    return {n: grams(per_serving[n]) / grams(per_100[n]) for n in per_100
            if n in per_serving and n is not Nutrient.ENERGY and grams(per_100[n]) >= 1.0}


def _agrees(ratio: float, expected: float) -> bool:
    return abs(ratio - expected) <= 0.15 * expected + 0.02
