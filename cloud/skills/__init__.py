"""Skills: each turns perception of one frame into an answer, an overlay and a trace of its steps."""

from eyeline.cloud.skills.base import (
    Skill,
    SkillConfigError,
    SkillContext,
    SkillRouter,
    UnsupportedQuestionError,
)
from eyeline.cloud.skills.noop import NoopSkill
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill

__all__ = ["NoopSkill", "ProteinRankingSkill", "Skill", "SkillConfigError", "SkillContext", "SkillRouter",
           "UnsupportedQuestionError"]
