"""Yes/no comparisons of two products: "is this higher in protein than that?", "does A have more sugar than B?".

Who is who: a name said is matched to the product whose name shares its words (word stems, so "the oats" is
"Oat Flakes"); "this" (or "this one", "it") is the product nearest the middle of the view, where the wearer
looks; "that", "the other" is the nearest of the rest. The two figures are taken on one basis and the
comparison is worked out in code, the difference shown in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from eyeline.cloud.model import NormBox, StepKind, TraceStep

AGENT = "nutrition"
_THIS = frozenset({"this", "it", "here", "this here"})
_THAT = frozenset({"that", "other", "another", "there", "that there", "second"})


@dataclass(frozen=True, slots=True)
class Side:
    """One product of a comparison: its name, where it is, and its figure on the common basis."""

    name: str
    region: NormBox
    value: float
    unit: str
    basis: str


def pick_pair(said: tuple[str, str], sides: Sequence[Side]) -> tuple[Side, Side] | str:
    """The two products ``said`` names, in its order; or why they cannot be told apart (a sentence)."""
    if len(sides) < 2:
        return f"I can only read {len(sides)} product's figure, so there is nothing to compare it with."
    named = [_by_name(words, sides) for words in said]
    if len(sides) > 2 and not (named[0] or named[1]):
        return (f"I can see {len(sides)} products; say which two to compare, by name: "
                + ", ".join(s.name or "unnamed" for s in sides) + ".")
    by_place = sorted(sides, key=_from_middle)
    chosen: list[Side | None] = list(named)
    # "this" first, then "that": the nearest the middle not already named.
    for words in (_THIS, _THAT):
        for index, said_side in enumerate(said):
            if chosen[index] is None and _is_deictic(said_side, words):
                chosen[index] = next((s for s in by_place if s is not chosen[1 - index]), None)
    first, second = chosen
    for side, side_said in ((first, said[0]), (second, said[1])):
        if side is None:
            return f"I can't find {side_said!r} among the products I read: " + ", ".join(s.name or "unnamed"
                                                                                      for s in sides) + "."
    assert first is not None and second is not None
    if first is second:
        return f"Both {said[0]!r} and {said[1]!r} are {_label(first)} to me; say which two to compare, by name."
    return first, second


def compare(pair: tuple[Side, Side], more: bool, nutrient: str, steps: list[TraceStep]) -> str:
    """Yes or no, with both figures and the difference; the sum is a trace step."""
    a, b = pair
    difference = round(a.value - b.value, 2)
    holds = difference > 0 if more else difference < 0
    relation = ">" if difference > 0 else "<" if difference < 0 else "="
    sum_text = (f"{_label(a)} {a.value:g} {a.unit} - {_label(b)} {b.value:g} {b.unit} = {difference:+g} {a.unit} "
                f"{a.basis}: {a.value:g} {relation} {b.value:g}")
    steps.append(TraceStep(StepKind.COMPARE, f"compared {nutrient}: {sum_text}",
                           evidence=(a.region, b.region), agent=AGENT))
    if difference == 0:
        return f"No: {_label(a)} and {_label(b)} have the same {nutrient} ({a.value:g} {a.unit} {a.basis} each)."
    amount = "more" if difference > 0 else "less"
    figures = f"{_label(a)} {a.value:g} {a.unit}, {_label(b)} {b.value:g} {b.unit} {a.basis}"
    return (f"{'Yes' if holds else 'No'}: {_label(a)} has {amount} {nutrient} than {_label(b)} ({figures}; "
            f"{abs(difference):g} {a.unit} {amount}).")


def _label(side: Side) -> str:
    return side.name or f"the product {_where(side.region)}"


def _where(region: NormBox) -> str:
    centre = (region.x0 + region.x1) / 2
    return "on the left" if centre < 0.4 else "on the right" if centre > 0.6 else "in the middle"


def _from_middle(side: Side) -> float:
    r = side.region
    return abs((r.x0 + r.x1) / 2 - 0.5) + abs((r.y0 + r.y1) / 2 - 0.5)


def _is_deictic(said: str, words: frozenset[str]) -> bool:
    return said in words or any(said.startswith(word + " ") for word in words)


def _stems(text: str) -> set[str]:
    return {word.rstrip("s")[:5] for word in re.findall(r"[a-z0-9]{3,}", text.lower())}


def _by_name(said: str, sides: Sequence[Side]) -> Side | None:
    """The product whose name shares the most word stems with ``said``; None when none shares one."""
    wanted = _stems(said)
    scored = [(len(wanted & _stems(side.name)), index) for index, side in enumerate(sides) if side.name]
    best = max(scored, default=(0, -1))
    return sides[best[1]] if best[0] > 0 else None
