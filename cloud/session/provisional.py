"""A provisional answer from what the session already read, sent the moment a question arrives.

The session's tracked reader holds the last keyframe it read and its lines. When a question is asked over a
newer keyframe, the skill's Instant answer over that cached view costs no OCR at all, so it goes out at once
(``final=False``, on the cached keyframe) and the answer over the asked keyframe replaces it in place. A
question over the very keyframe already read gets no provisional answer: its own answer is as quick.
Skills whose first pass depends on the mode (model-backed ones) get none either: a provisional answer never
spends model tokens.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from eyeline.cloud.model import Image, Mode, SkillResult
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.perception.tracking import TrackedTextReader
from eyeline.cloud.reasoning.planner import FirstPass
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.sessions import Session
from eyeline.cloud.skills.base import Skill, SkillContext
from eyeline.protos.clock import Clock

# Keyframes before the asked one among which the cached view is looked for (older ones are not worth showing).
LOOKBACK = 8


class CachedLines:
    """A reader that returns the lines already read for ``image``, at no cost; any other image reads nothing."""

    def __init__(self, image: Image, lines: tuple[TextLine, ...]) -> None:
        self._image, self._lines = image, lines

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return self._lines if image_bgr is self._image else ()


@dataclass(frozen=True, slots=True)
class CachedView:
    """The keyframe the session read last, and what it read there."""

    frame: DecodedFrame
    lines: tuple[TextLine, ...]


def cached_view(session: Session, asked: DecodedFrame) -> CachedView | None:
    """The session's last read keyframe when it is an earlier one than ``asked`` and still held; else None."""
    reader = session.reader
    if not isinstance(reader, TrackedTextReader):
        return None
    latest = reader.latest()
    if latest is None or latest[0] is asked.image:
        return None
    image, lines = latest
    held = next((f for f in session.recent_frames(asked.seq, LOOKBACK) if f.image is image), None)
    return None if held is None or not lines else CachedView(held, lines)


async def provisional_answer(skill: Skill, question: str, view: CachedView, session: Session,
                             clock: Clock) -> SkillResult | None:
    """The skill's Instant answer over the cached view, marked provisional; None for a skill that gets none."""
    if isinstance(skill, FirstPass):
        return None
    # A copy of the session's memory: a provisional answer must not move a conversation on (a repair's step).
    context = SkillContext(question=question, mode=Mode.INSTANT, image=view.frame.image, frame_seq=view.frame.seq,
                           ocr=CachedLines(view.frame.image, view.lines), state=copy.deepcopy(session.skill_state),
                           clock=clock)
    result = await skill.answer(context)
    return replace(result, final=False)
