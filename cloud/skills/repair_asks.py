"""Which of a kit's procedures a question asks for, and which espresso-machine maker is printed in view.

A procedure lists the words a question about it uses ("descale", "take top", "seal leak"); an ask matches
when each of its words starts a word of the question, after cutting common endings, so "descaling",
"leaks" and "backflushing" match "descale", "leak" and "backflush".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eyeline.cloud.knowledge.schema import Procedure, RepairKit
from eyeline.cloud.perception.ocr import TextLine

_ENDINGS = ("ing", "ed", "es", "s", "e")

# Makers whose badge on a machine means "an espresso machine", so that a machine without a kit gets an honest
# "no guide for this model" rather than a guess.
ESPRESSO_MAKERS = ("Rancilio", "Lelit", "Gaggia", "La Marzocco", "Rocket", "Profitec", "Bezzera", "Expobar",
                   "Quick Mill", "La Pavoni", "Nuova Simonelli", "Victoria Arduino", "Faema", "Ascaso", "ECM",
                   "Breville", "Sage", "De'Longhi", "Delonghi", "Saeco", "Jura", "Krups", "Bialetti", "Isomac",
                   "Vibiemme", "Izzo", "Elektra", "Olympia", "Wega", "Astoria", "Lucca", "Quickmill")


def _stem(word: str) -> str:
    for ending in _ENDINGS:
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)]
    return word


def _words(text: str) -> list[str]:
    return [_stem(word) for word in re.findall(r"[a-z0-9]+", text.lower())]


def _ask_score(ask: str, question_words: Sequence[str]) -> int:
    wanted = _words(ask)
    if wanted and all(any(word.startswith(w) for word in question_words) for w in wanted):
        return len(wanted)
    return 0


def procedure_asked(kit: RepairKit, question: str) -> Procedure | None:
    """The procedure whose ask matches the most words of the question; None when no ask matches."""
    words = _words(question)
    best: tuple[int, Procedure] | None = None
    for procedure in kit.procedures:
        score = max((_ask_score(ask, words) for ask in procedure.asks), default=0)
        if score and (best is None or score > best[0]):
            best = (score, procedure)
    return best[1] if best is not None else None


def asks_any(kits: Sequence[RepairKit], question: str) -> bool:
    return any(procedure_asked(kit, question) is not None for kit in kits)


def maker_seen(lines: Sequence[TextLine]) -> str:
    """The espresso-machine maker printed in view ("Lelit"), or ""."""
    for line in lines:
        text = f" {' '.join(re.findall(r'[a-z0-9]+', line.text.lower()))} "
        for maker in ESPRESSO_MAKERS:
            if f" {' '.join(re.findall(r'[a-z0-9]+', maker.lower()))} " in text:
                return maker
    return ""
