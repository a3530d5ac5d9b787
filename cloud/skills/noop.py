"""A skill that does nothing, at once: the baseline for round-trip benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

from eyeline.cloud.model import Mode, SkillResult
from eyeline.cloud.skills.base import Pass, SkillContext


class NoopSkill:
    """Answers every frame with an empty overlay. Matches no question; a server selects it by name."""

    name = "noop"

    def matches(self, question: str) -> bool:
        return False

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    async def answer(self, ctx: SkillContext) -> SkillResult:
        return SkillResult(answer="")
