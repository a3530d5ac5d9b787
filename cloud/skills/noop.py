"""A skill that does nothing, at once: the baseline for round-trip benchmarks."""

from __future__ import annotations

from eyeline.cloud.model import SkillResult
from eyeline.cloud.skills.base import SkillContext


class NoopSkill:
    """Answers every frame with an empty overlay. Matches no question; a server selects it by name."""

    name = "noop"

    def matches(self, question: str) -> bool:
        return False

    async def answer(self, ctx: SkillContext) -> SkillResult:
        return SkillResult(answer="")
