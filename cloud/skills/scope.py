"""The answer to a question no skill takes: what is in view, and what Eyeline can do, in the wearer's words.

Registered last, so every other skill has its chance first. It reads the frame (the wearer asked about
something in view) and says the few largest things it read, then the kinds of question the other skills answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eyeline.cloud.model import Mode, SkillResult, StepKind, TraceStep
from eyeline.cloud.skills.base import ExampleQuestions, Pass, Skill, SkillContext
from eyeline.protos.clock import elapsed_us

AGENT = "scope"
# The largest lines read are the names and headings: enough to say what is in view without reading it all.
_SHOWN_LINES = 4
_MIN_SCORE = 0.8


class ScopeSkill:
    name = "scope"

    def __init__(self, skills: Iterable[Skill]) -> None:
        self._examples = [example for skill in skills if isinstance(skill, ExampleQuestions)
                          for example in skill.examples[:2]]

    def matches(self, question: str) -> bool:
        return bool(question.strip())

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    async def answer(self, ctx: SkillContext) -> SkillResult:
        started = ctx.clock.now_ns()
        lines = [line for line in await ctx.ocr.read(ctx.image) if line.score >= _MIN_SCORE
                 and sum(char.isalpha() for char in line.text) >= 3]
        largest = sorted(lines, key=lambda line: line.height, reverse=True)[:_SHOWN_LINES]
        seen = sorted(largest, key=lambda line: (line.box.y0, line.box.x0))
        read = ", ".join(f'"{" ".join(line.text.split())}"' for line in seen)
        view = f"In view I can read {read}." if seen else "I can't read any text in view."
        offer = "I can answer questions like " + "; ".join(f'"{e}"' for e in self._examples) + "."
        text = f"I can't answer \"{ctx.question.strip()}\" from what I see. {view} {offer}"
        step = TraceStep(StepKind.PERCEIVE, f"out of scope; read {len(lines)} lines", confidence=1.0,
                         evidence=tuple(line.box for line in seen), cost_us=elapsed_us(ctx.clock, started),
                         agent=AGENT)
        return SkillResult(answer=text, steps=(step,), confidence=1.0)
