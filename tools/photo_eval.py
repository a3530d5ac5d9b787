"""The real photos of the evaluation set, scored by the truth their manifest records.

Every photo in ``../shared/data`` whose ``manifest.json`` record holds a protein truth is asked "how much protein is
in this?"; the answer is right when its ``facts`` state every recorded amount on its basis (per 100 g, per serving,
per package), each within 0.1 g or 2%. Photos are grouped by language and kind (the manifest's, or the folder's)
so a weak language or layout shows. A few photos with a text truth instead are scored by the fragments an answer
must hold. The photos are the judge: no rule in the reader names one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eyeline.edge.messages import AnswerFact

NUTRITION_QUESTION = "how much protein is in this?"
_BASES = {"100g": "per 100 g", "serving": "per serving", "package": "per package"}
TOLERANCE_G = 0.1
TOLERANCE_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class ExpectedFact:
    """A figure the answer must state: protein, ``grams``, on ``basis`` ("per 100 g", "per serving", ...)."""

    grams: float
    basis: str


@dataclass(frozen=True, slots=True)
class PhotoCase:
    """A real photo: what is asked, and what a right answer states (facts) or holds (text fragments)."""

    file: str
    question: str
    expected: tuple[str, ...] = ()
    facts: tuple[ExpectedFact, ...] = ()
    language: str = ""
    kind: str = ""

    @property
    def name(self) -> str:
        return Path(self.file).stem

    @property
    def group(self) -> str:
        return f"{self.language or '?'} / {self.kind or '?'}"


# Photos whose truth is text rather than a nutrition figure (the MANIFEST's "ground truth" column).
TEXT_CASES: tuple[PhotoCase, ...] = (
    PhotoCase("shelf_products/openprices_pricetag_0100_ithb89lJBe.jpg", "read this", ("BISCUIT", "3178530425161"),
              language="fr", kind="price_tag"),
)


def photo_cases(folder: Path) -> list[PhotoCase]:
    """Every photo in ``folder`` with a protein truth in its manifest, then the text cases present there."""
    manifest = folder / "manifest.json"
    records: list[dict[str, Any]] = json.loads(manifest.read_text()) if manifest.is_file() else []
    cases = [case for record in records if (case := _case(record)) is not None and (folder / case.file).is_file()]
    return [*cases, *(case for case in TEXT_CASES if (folder / case.file).is_file())]


def _case(record: dict[str, Any]) -> PhotoCase | None:
    truth = record.get("truth") or {}
    protein = truth.get("protein") if isinstance(truth, dict) else None
    if not protein:
        return None
    facts = tuple(ExpectedFact(float(entry["amount_g"]), _BASES[entry["basis"]]) for entry in protein
                  if entry.get("basis") in _BASES)
    kind = record.get("kind") or ("nutrition_table" if record["file"].startswith("nutrition_labels/") else "")
    return PhotoCase(record["file"], NUTRITION_QUESTION, facts=facts, language=record.get("language") or _named(record),
                     kind=kind)


# Where a record gives no language, the one its description names ("Dutch/French nutrition table", "US
# \"Nutrition Facts\" panel") or the label words it quotes ("proteines").
_LANGUAGE_WORDS = (("nl", re.compile(r"\bdutch\b|eiwitten", re.IGNORECASE)),
                   ("fr", re.compile(r"\bfrench\b|prot[eé]ines", re.IGNORECASE)),
                   ("de", re.compile(r"\bgerman\b|eiwei", re.IGNORECASE)),
                   ("en", re.compile(r"\bUS\b|\bUK\b|(?i:\benglish\b|nutrition (?:facts|information))")))


def _named(record: dict[str, Any]) -> str:
    text = f"{record.get('shows', '')} {record.get('ground_truth', '')}"
    return "+".join(language for language, pattern in _LANGUAGE_WORDS if pattern.search(text))


def states(facts: Sequence[AnswerFact], expected: ExpectedFact) -> bool:
    """Whether ``facts`` state the expected protein figure on its basis, within 0.1 g or 2%."""
    tolerance = max(TOLERANCE_G, TOLERANCE_SHARE * expected.grams)
    return any(fact.nutrient == "protein" and fact.basis == expected.basis and fact.unit == "g"
               and abs(fact.amount - expected.grams) <= tolerance + 1e-9 for fact in facts)


def photo_correct(text: str, facts: Sequence[AnswerFact], case: PhotoCase) -> bool:
    """Right: every recorded figure stated, and no other protein figure stated on a recorded basis."""
    if case.facts:
        bases = {expected.basis for expected in case.facts}
        stated = [f for f in facts if f.nutrient == "protein" and f.basis in bases and not f.computed]
        return all(states(facts, expected) for expected in case.facts) and all(
            any(states([fact], expected) for expected in case.facts) for fact in stated)
    flat = " ".join(text.split()).lower()
    return all(fragment.lower() in flat for fragment in case.expected)


@dataclass(frozen=True, slots=True)
class PhotoScore:
    mode: str
    case: PhotoCase
    correct: bool


def format_photo_table(scores: Sequence[PhotoScore]) -> str:
    """Real-photo accuracy per mode, overall and by language / kind, in Markdown."""
    groups = sorted({score.case.group for score in scores})
    modes = list(dict.fromkeys(score.mode for score in scores))
    lines = ["| mode | real photos right | " + " | ".join(groups) + " |",
             "|---|---|" + "---|" * len(groups)]
    for mode in modes:
        mine = [score for score in scores if score.mode == mode]
        cells = [_share([s.correct for s in mine if s.case.group == group]) for group in groups]
        lines.append(f"| {mode} | {_share([s.correct for s in mine])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _share(flags: Sequence[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({sum(flags) / len(flags):.0%})" if flags else "—"
