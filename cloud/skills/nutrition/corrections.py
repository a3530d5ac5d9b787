"""Figures that fail the plausibility checks, read again as what OCR most likely saw before its usual slips
(a lost decimal point, a "g" read as "9"); a reading is kept only where it makes the checks pass, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from eyeline.cloud.skills.nutrition.facts import FAILED_CHECK_FACTOR, REPAIRED_FACTOR, Fact
from eyeline.cloud.skills.nutrition.lexicon import Amount, Basis, Nutrient, misreadings
from eyeline.cloud.skills.nutrition.plausibility import check_column, check_serving, ratio_agrees, serving_ratio

# A reading replaces the printed figure only when it fixes at least one failed check (each costs 2 points).
_BETTER_BY = 1.5


def repair_column(values: Mapping[Nutrient, Amount], energy: tuple[Amount, ...],
                  basis: Basis) -> tuple[dict[Nutrient, Amount], list[str]]:
    """The column with each implausible figure replaced by the misreading that makes the checks pass best."""
    repaired = dict(values)
    notes: list[str] = []
    if not check_column(repaired, basis, energy).failed:
        return repaired, notes
    for nutrient, amount in values.items():
        current = check_column(repaired, basis, energy).score
        best: tuple[float, Amount] | None = None
        for candidate in misreadings(amount):
            score = check_column({**repaired, nutrient: candidate}, basis, energy).score
            if score >= current + _BETTER_BY and (best is None or score > best[0]):
                best = (score, candidate)
        if best is not None:
            repaired[nutrient] = best[1]
            notes.append(f"{nutrient.value} {amount.digits!r} read as {best[1].value:g} g (an OCR slip)")
    return repaired, notes


def cross_check(facts: list[Fact], serving: float | None, notes: list[str]) -> list[Fact]:
    """Per-serving figures checked against per-100 g ones: a pair out of line is read again as a likely OCR slip
    (of either figure); what still disagrees loses confidence."""
    per_100 = {f.nutrient: f for f in facts if f.basis is Basis.PER_100 and f.grams is not None}
    per_serving = {f.nutrient: f for f in facts if f.basis is Basis.SERVING and f.grams is not None}
    expected = serving_ratio(_amounts(per_100), _amounts(per_serving), serving)
    if expected is None:
        return facts
    fixed: dict[int, Fact] = {}
    for nutrient, hundred in per_100.items():
        portion = per_serving.get(nutrient)
        if portion is None or nutrient is Nutrient.ENERGY or ratio_agrees(_as_amount(hundred), _as_amount(portion),
                                                                         expected):
            continue
        pair = _repaired_pair(hundred, portion, expected)
        if pair is not None:
            fixed[id(hundred)], fixed[id(portion)] = pair
            notes.append(f"{nutrient.value}: read {hundred.digits or hundred.value} / {portion.digits or portion.value}"
                         f" as {pair[0].value:g} / {pair[1].value:g} g, in line with the serving's share")
    facts = [fixed.get(id(fact), fact) for fact in facts]
    per_100 = {f.nutrient: f for f in facts if f.basis is Basis.PER_100 and f.grams is not None}
    per_serving = {f.nutrient: f for f in facts if f.basis is Basis.SERVING and f.grams is not None}
    verdict = check_serving(_amounts(per_100), _amounts(per_serving), serving)
    if not verdict.failed:
        return facts
    notes.extend(verdict.failed)
    return [replace(f, confidence=round(f.confidence * FAILED_CHECK_FACTOR, 3), checks=(*f.checks, *verdict.failed))
            if f.basis is Basis.SERVING else f for f in facts]


def _repaired_pair(hundred: Fact, portion: Fact, expected: float) -> tuple[Fact, Fact] | None:
    for candidate in misreadings(_as_amount(hundred)):
        if ratio_agrees(candidate, _as_amount(portion), expected):
            return _with(hundred, candidate), portion
    for candidate in misreadings(_as_amount(portion)):
        if ratio_agrees(_as_amount(hundred), candidate, expected):
            return hundred, _with(portion, candidate)
    return None


def _with(fact: Fact, amount: Amount) -> Fact:
    return replace(fact, value=amount.value, unit="g", confidence=round(fact.confidence * REPAIRED_FACTOR, 3))


def _as_amount(fact: Fact) -> Amount:
    return Amount(fact.value, fact.unit, 0, 0, fact.below, fact.digits)


def _amounts(facts: Mapping[Nutrient, Fact]) -> dict[Nutrient, Amount]:
    return {n: Amount(f.grams or 0.0, "g", 0, 0) for n, f in facts.items()}
