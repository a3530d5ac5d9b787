"""What a skill is, what it is given, and how a question finds its skill."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Image, Mode, SkillResult
from eyeline.cloud.perception.ocr import AsyncTextReader
from eyeline.protos.clock import Clock, MonotonicClock


class UnsupportedQuestionError(CloudError):
    """No skill of this cloud can answer the question asked."""


class SkillConfigError(CloudError):
    """Skills were registered in a way the router cannot serve (e.g. two with one name)."""


@dataclass(frozen=True, slots=True, eq=False)
class SkillContext:
    """Everything a skill may use to answer one question over one frame."""

    question: str
    mode: Mode
    image: Image = field(repr=False)
    frame_seq: int
    ocr: AsyncTextReader = field(repr=False)
    # The session's memory for skills that hold a conversation across questions (a repair's current step);
    # keyed by skill name, it lives and dies with the session. A fresh dict when there is no session.
    state: dict[str, object] = field(default_factory=dict, repr=False)
    # Keyframes received before this one, newest first, for passes that fuse views (Thinking, Contemplating).
    recent: tuple[Keyframe, ...] = field(default=(), repr=False)
    # What trace steps measure their cost on: the cloud's clock, a virtual one in tests.
    clock: Clock = field(default_factory=MonotonicClock, repr=False)


@dataclass(frozen=True, slots=True, eq=False)
class Keyframe:
    """A decoded keyframe of the session: its sequence number and BGR pixels."""

    seq: int
    image: Image = field(repr=False)


PassRunner = Callable[[SkillContext], Awaitable[SkillResult]]
# A pass that shows its progress: its answers in turn, each trace holding only the steps new since the one
# before; the last is the pass's answer.
PassStream = Callable[[SkillContext], AsyncIterator[SkillResult]]


@dataclass(frozen=True, slots=True)
class Pass:
    """One way of answering, more thorough (and dearer) than the one before it."""

    name: str
    run: PassRunner
    # Spent even after a confident answer: a pass that must have the last word (a configured model's).
    always: bool = False
    stream: PassStream | None = None       # when set, the planner takes the pass's answers from it, not ``run``


class Skill(Protocol):
    name: str

    def matches(self, question: str) -> bool: ...

    async def answer(self, ctx: SkillContext) -> SkillResult: ...

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        """What ``mode`` may spend beyond the Instant pass every mode starts with, cheapest first; a skill that
        answers in one pass whatever the mode returns none."""
        ...


@runtime_checkable
class ExampleQuestions(Protocol):
    """Optional: a skill that names questions it answers, so a refusal can suggest them."""

    examples: tuple[str, ...]


class SkillRouter:
    """Picks the first registered skill whose ``matches`` accepts the question."""

    def __init__(self, skills: Iterable[Skill]) -> None:
        self._skills = tuple(skills)
        names = [skill.name for skill in self._skills]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SkillConfigError(f"skills must have distinct names; registered twice: {', '.join(duplicates)}")

    def names(self) -> list[str]:
        return [skill.name for skill in self._skills]

    def route(self, question: str) -> Skill:
        if not question.strip():
            raise UnsupportedQuestionError(f"the question is empty; {self._what_can_be_asked()}")
        for skill in self._skills:
            if skill.matches(question):
                return skill
        raise UnsupportedQuestionError(f"no skill can answer {question!r}; {self._what_can_be_asked()}")

    def _what_can_be_asked(self) -> str:
        if not self._skills:
            return "this cloud has no skills that answer questions"
        # Only skills that answer questions are offered; a guardrail refuses, it is not something to ask.
        offered = [skill for skill in self._skills if isinstance(skill, ExampleQuestions) and skill.examples]
        return "you can ask: " + "; ".join(_describe(skill) for skill in offered or self._skills)


def _describe(skill: Skill) -> str:
    if isinstance(skill, ExampleQuestions) and skill.examples:
        return f"{skill.name} (e.g. {', '.join(repr(example) for example in skill.examples)})"
    return skill.name
