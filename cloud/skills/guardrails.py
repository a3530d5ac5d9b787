"""Guardrails: questions no skill may answer, refused before any skill sees them.

Health and nutrition answers inform (the shelf skill says they are not medical advice); a question that
asks for a diagnosis or a dose is refused with a pointer to a professional, and a request to make
something dangerous is refused outright. The check reads only the question: it is the same for a live
session, a replay and an evaluation.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from eyeline.cloud.model import Mode, NoticeItem, SkillResult, StepKind, TraceStep
from eyeline.cloud.skills.base import Pass, SkillContext
from eyeline.protos.clock import elapsed_us

AGENT = "guardrail"


class RefusalKind(enum.Enum):
    DIAGNOSIS = "diagnosis"
    DOSE = "dose"
    HARMFUL_SYNTHESIS = "harmful_synthesis"


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: RefusalKind
    answer: str


_DIAGNOSIS = re.compile(
    r"\bdiagnos\w*|\bdo i have\b|\bam i (?:sick|ill|diabetic|allergic|pregnant|deficient)\b|"
    r"what(?:'s| is) wrong with me|\bis (?:this|it) (?:cancer|infected|an? (?:infection|allergy|tumou?r))\b|"
    r"\bwhat (?:disease|condition|illness)\b", re.IGNORECASE)
_DOSE = re.compile(
    r"\b(?:dose|doses|dosage|dosing|overdose)\b|"
    r"\bhow (?:many|much)\b[\w\s]{0,40}\b(?:should|can|could|must|do) (?:i|we|he|she|they|my \w+) "
    r"(?:take|give|inject|swallow)\b|"
    r"\bhow many (?:mg|milligrams?|pills?|tablets?|capsules?|units)\b", re.IGNORECASE)
_MAKE = r"\b(?:make|making|synthesi[sz]e|synthesi[sz]ing|cook|brew|produce|build|manufacture|extract|recipe for)\b"
_HARMFUL_THING = (r"\b(?:meth(?:amphetamine)?|fentanyl|heroin|explosives?|bombs?|pipe bombs?|nerve agents?|sarin|"
                  r"vx|ricin|napalm|thermite|mustard gas|chlorine gas|poisons?|toxins?|anthrax|nitroglycerin|tatp)\b")
_HARMFUL = re.compile(rf"{_MAKE}.{{0,60}}{_HARMFUL_THING}|{_HARMFUL_THING}.{{0,30}}\b(?:synthesis|recipe)\b",
                      re.IGNORECASE)

_ANSWERS = {
    RefusalKind.DIAGNOSIS: ("I can't diagnose health conditions. Please ask a doctor or another qualified health "
                            "professional; I can read labels and nutrition facts for you."),
    RefusalKind.DOSE: ("I can't recommend doses or how much of anything to take. Please ask a pharmacist or "
                       "doctor, and follow the instructions on the package leaflet."),
    RefusalKind.HARMFUL_SYNTHESIS: "I can't help with making something that could seriously hurt people.",
}


def check_question(question: str) -> Refusal | None:
    """The refusal a question earns, or None when skills may answer it. Harm is checked first."""
    for kind, pattern in ((RefusalKind.HARMFUL_SYNTHESIS, _HARMFUL), (RefusalKind.DOSE, _DOSE),
                          (RefusalKind.DIAGNOSIS, _DIAGNOSIS)):
        if pattern.search(question):
            return Refusal(kind, _ANSWERS[kind])
    return None


class GuardrailSkill:
    """Registered first in the router, so a refused question never reaches a skill that might answer it."""

    name = "guardrail"

    def matches(self, question: str) -> bool:
        return check_question(question) is not None

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    async def answer(self, ctx: SkillContext) -> SkillResult:
        started = ctx.clock.now_ns()
        refusal = check_question(ctx.question)
        if refusal is None:  # the router only routes refused questions here; answer plainly if misused
            return SkillResult(answer="Nothing to refuse in this question.")
        step = TraceStep(StepKind.REFUSE, f"refused ({refusal.kind.value}): {refusal.answer}", confidence=1.0,
                         cost_us=elapsed_us(ctx.clock, started), agent=AGENT)
        notice = NoticeItem(id="notice", text=refusal.answer)
        return SkillResult(answer=refusal.answer, items=(notice,), steps=(step,))
