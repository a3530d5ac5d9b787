"""What the deeper modes spend on a shelf question, beyond the Instant pass every mode starts with.

Thinking: re-read doubtful packages from 2x crops, then fuse the last keyframes into the current view, or read
a restored view of it (turned upright, enlarged, sharpened: ``restored``) where that reads more surely.
Contemplating: the restored view, then the sub-agents in worker processes and their orchestrator (Thinking's
passes where the cloud has no worker processes). The shelf skill is given these passes and declares them as its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import Mode, SkillResult
from eyeline.cloud.perception.fusion import FusedTextReader
from eyeline.cloud.perception.ocr import AsyncTextReader
from eyeline.cloud.perception.tracking import TrackedTextReader
from eyeline.cloud.skills.base import Pass, Skill, SkillContext
from eyeline.cloud.skills.shelf.agents import AgentPool, contemplate
from eyeline.cloud.skills.shelf.restored import answer_restored

# Earlier keyframes fused into the current view by Thinking's last pass.
FUSED_VIEWS = 2


class ShelfPasses:
    """The deeper passes for the shelf skill; ``pool`` reads the earlier views, ``agents`` runs sub-agents."""

    def __init__(self, catalog: Sequence[CatalogProduct], pool: AsyncTextReader,
                 agents: AgentPool | None = None) -> None:
        self._catalog = tuple(catalog)
        self._pool = pool
        self._agents = agents

    def __call__(self, skill: Skill, mode: Mode) -> Sequence[Pass]:
        if mode is Mode.INSTANT:
            return ()
        if mode is Mode.CONTEMPLATING and self._agents is not None:
            # A tilted, small or washed-out frame is restored first; the sub-agents run only if that is unsure.
            return (Pass("restored view", lambda ctx: answer_restored(skill, ctx)),
                    Pass("contemplating", self._contemplate))
        return (Pass("close re-read", lambda ctx: skill.answer(replace(ctx, mode=Mode.THINKING))),
                Pass("fused and restored views", lambda ctx: self._fused_or_restored(skill, ctx)))

    async def _fused_or_restored(self, skill: Skill, ctx: SkillContext) -> SkillResult:
        """The fused views' answer, or the restored view's where that one reads at least as surely."""
        return await answer_restored(skill, ctx, lambda: self._fused(skill, ctx))

    async def _fused(self, skill: Skill, ctx: SkillContext) -> SkillResult:
        others = [frame.image for frame in ctx.recent[:FUSED_VIEWS]]
        # Earlier views go through their own tracked reader, so reading them never evicts the current frame.
        reader = FusedTextReader(ctx.ocr, ctx.image, others, others_reader=TrackedTextReader(self._pool))
        return await skill.answer(replace(ctx, mode=Mode.THINKING, ocr=reader))

    async def _contemplate(self, ctx: SkillContext) -> SkillResult:
        assert self._agents is not None
        return await contemplate(ctx, self._catalog, self._agents.executor)
