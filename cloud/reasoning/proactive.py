"""Proactive turns: offer an overlay nobody asked for when a shelf or a known machine comes into view.

Only a session whose edge listed the ``"proactive"`` capability in its Hello is ever offered anything. For
such a session each keyframe may be looked at, never more than one at a time and never while a question the
wearer asked is in flight. The look is cheap first: the session's tracked text reader (lines carried from the
last keyframe, only new regions read again) says whether several protein amounts are in view, which makes a
shelf, and so do packages side by side (product segmentation) bearing names even when no panel is in view;
otherwise the repair skill's Instant pass (its text cues, then the registration of a kit's reference
image, in worker threads) says whether a known machine is. The matching skill's Instant answer is then the
offer, unless it found nothing to show.

One offer per scene: a scene is what identifies it (the names read on a shelf, the kit of a machine), and a
view that mostly shows what the last offer was about is the same scene. A cooldown spaces offers out even
across scenes. Nothing here knows whether a session is live, replayed or evaluated.
"""

from __future__ import annotations

import enum
import logging
import re
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from eyeline.cloud.model import Mode, NoticeItem, SkillResult
from eyeline.cloud.perception.ocr import AsyncTextReader, TextLine
from eyeline.cloud.perception.segmentation import ProductSegmenter, shelf_in_view
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.sessions import Session
from eyeline.cloud.skills.base import SkillContext, SkillRouter, UnsupportedQuestionError
from eyeline.cloud.skills.repair import RepairProgress
from eyeline.cloud.skills.shelf.labels import is_panel_text, parse_protein_grams
from eyeline.protos.clock import Clock, MonotonicClock

log = logging.getLogger(__name__)

CAPABILITY = "proactive"
# The questions an offer answers, as the wearer would ask them: the router picks the skill, as for a query.
SHELF_QUESTION = "which of these has the most protein?"
MACHINE_QUESTION = "how do I repair this machine?"
SHELF_OFFER = "Protein ranking for this shelf - ask to go deeper"
MACHINE_OFFER = "Step-by-step guide for this machine - say \"next\" to go on"
_NAME_CHARS = 3                  # shorter fragments of text say nothing about which shelf this is


class SceneKind(enum.Enum):
    SHELF = "shelf"
    MACHINE = "machine"


@dataclass(frozen=True, slots=True)
class ProactiveConfig:
    min_labels: int = 2               # protein amounts in view that make a shelf
    cooldown_s: float = 20.0          # no offer sooner than this after the last one, whatever the scene
    same_scene_overlap: float = 0.5   # share of the smaller scene's names also in the other: the same scene


@dataclass(frozen=True, slots=True)
class Scene:
    """What a view shows, for telling one scene from another: its kind and what identifies it."""

    kind: SceneKind
    key: frozenset[str]

    def same_as(self, other: Scene | None, overlap: float) -> bool:
        if other is None or other.kind is not self.kind:
            return False
        if not self.key or not other.key:
            return self.key == other.key
        return len(self.key & other.key) / min(len(self.key), len(other.key)) >= overlap


@dataclass(frozen=True, slots=True)
class Offer:
    """An answer to offer unasked: the skill's Instant result and the line that introduces it."""

    scene: Scene
    text: str
    result: SkillResult
    frame: DecodedFrame
    # What the offer starts in the session's skill memory (a repair guide at its first step), kept if it is made.
    starts: dict[str, object] = field(default_factory=dict, compare=False)


@dataclass(slots=True)
class _State:
    """One session's proactive bookkeeping."""

    asking: int = 0            # questions in flight
    questions: int = 0         # questions ever asked: one arriving during a look voids its offer
    looking: bool = False
    pending: DecodedFrame | None = None   # the latest keyframe that came in during a look, looked at next
    last_scene: Scene | None = None
    last_offer_ns: int | None = None


@dataclass(slots=True)
class _Look:
    session: Session
    frame: DecodedFrame
    reader: AsyncTextReader
    questions_before: int


class ProactiveOfferer:
    """Decides, per keyframe of a session that opted in, whether to offer an answer, and computes it."""

    def __init__(self, router: SkillRouter, config: ProactiveConfig | None = None, *,
                 clock: Clock | None = None) -> None:
        self._router = router
        self.config = config or ProactiveConfig()
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._states: weakref.WeakKeyDictionary[Session, _State] = weakref.WeakKeyDictionary()
        self._segmenter = ProductSegmenter()

    def _state(self, session: Session) -> _State:
        return self._states.setdefault(session, _State())

    @contextmanager
    def asking(self, session: Session) -> Iterator[None]:
        """Hold offers back while a question the wearer asked is in flight (and void a look under way)."""
        state = self._state(session)
        state.asking += 1
        state.questions += 1
        try:
            yield
        finally:
            state.asking -= 1

    def wanted(self, session: Session, frame: DecodedFrame) -> bool:
        """Whether to start looking at ``frame`` for an offer (then ``offers`` must follow): the session opted in,
        nothing it asked is in flight, the cooldown is over, and no look is under way (a keyframe that comes in
        during one is looked at after it, unless a later one comes too)."""
        if CAPABILITY not in session.capabilities or not frame.keyframe:
            return False
        state = self._state(session)
        if state.asking or not self._cooled_down(state):
            return False
        if state.looking:
            state.pending = frame
            return False
        state.looking = True
        return True

    def look_dropped(self, session: Session) -> None:
        """The look ``wanted`` started will not happen after all (the session could not run it)."""
        state = self._state(session)
        state.looking, state.pending = False, None

    async def offers(self, session: Session, frame: DecodedFrame, reader: AsyncTextReader) -> AsyncIterator[Offer]:
        """The offers for ``frame`` and for the keyframes that come in while it is looked at, latest first."""
        state = self._state(session)
        try:
            look: DecodedFrame | None = frame
            while look is not None:
                offer = await self.consider(session, look, reader)
                if offer is not None:
                    yield offer
                look, state.pending = state.pending, None
                if look is not None and (state.asking or not self._cooled_down(state)):
                    look = None
        finally:
            state.looking, state.pending = False, None

    def _cooled_down(self, state: _State) -> bool:
        if state.last_offer_ns is None:
            return True
        return self._clock.now_ns() - state.last_offer_ns >= self.config.cooldown_s * 1e9

    async def consider(self, session: Session, frame: DecodedFrame, reader: AsyncTextReader) -> Offer | None:
        """The offer to make for ``frame``, or None; once it returns None, nothing was changed."""
        state = self._state(session)
        look = _Look(session, frame, reader, state.questions)
        offer = await self._look(look, state)
        if offer is None or state.questions != look.questions_before:
            return None   # nothing to offer, or the wearer asked meanwhile: the answer is theirs
        state.last_scene, state.last_offer_ns = offer.scene, self._clock.now_ns()
        session.skill_state.update(offer.starts)
        return offer

    async def _look(self, look: _Look, state: _State) -> Offer | None:
        lines = await look.reader.read(look.frame.image)
        shelf = shelf_scene(lines, self.config.min_labels) or await self._packages_scene(look, lines)
        if shelf is not None:
            if shelf.same_as(state.last_scene, self.config.same_scene_overlap):
                return None
            result = await self._instant(SHELF_QUESTION, look, {})
            if shows_something(result):
                return Offer(shelf, SHELF_OFFER, result, look.frame)
        return await self._machine(look, state)

    async def _packages_scene(self, look: _Look, lines: Sequence[TextLine]) -> Scene | None:
        """A shelf whose panels are out of view (only the catalog can rank it): packages side by side, named."""
        names = _names(lines)
        if not names:
            return None
        regions = await self._segmenter.segment(look.frame.image)
        return Scene(SceneKind.SHELF, names) if shelf_in_view(regions, min_products=self.config.min_labels) else None

    async def _machine(self, look: _Look, state: _State) -> Offer | None:
        scratch: dict[str, object] = {}
        result = await self._instant(MACHINE_QUESTION, look, scratch)
        progress = next((p for p in scratch.values() if isinstance(p, RepairProgress)), None)
        if progress is None or not shows_something(result):
            return None
        scene = Scene(SceneKind.MACHINE, frozenset({progress.kit_id}))
        guided = any(isinstance(p, RepairProgress) and p.kit_id == progress.kit_id
                     for p in look.session.skill_state.values())
        if guided or scene.same_as(state.last_scene, self.config.same_scene_overlap):
            return None
        # The offer starts the guide: a "next" from the wearer goes on from the step it showed.
        return Offer(scene, MACHINE_OFFER, result, look.frame, starts=scratch)

    async def _instant(self, question: str, look: _Look, state: dict[str, object]) -> SkillResult:
        try:
            skill = self._router.route(question)
        except UnsupportedQuestionError:
            return SkillResult(answer="")   # this cloud has no skill for it: nothing to offer
        context = SkillContext(question=question, mode=Mode.INSTANT, image=look.frame.image,
                               frame_seq=look.frame.seq, ocr=look.reader, state=state, clock=self._clock)
        return await skill.answer(context)


def shelf_scene(lines: Sequence[TextLine], min_labels: int) -> Scene | None:
    """A shelf when at least ``min_labels`` lines state a protein amount; identified by the other text read."""
    amounts = sum(parse_protein_grams(line.text) is not None for line in lines)
    if amounts < min_labels:
        return None
    return Scene(SceneKind.SHELF, _names(lines))


def _names(lines: Sequence[TextLine]) -> frozenset[str]:
    """The text read that is not a nutrition panel's: what tells one shelf from another."""
    names = {_normalized(line.text) for line in lines if not is_panel_text(line.text)}
    return frozenset(name for name in names if len(name) >= _NAME_CHARS)


def shows_something(result: SkillResult) -> bool:
    """Whether an answer has more to show than a notice (a ranking's badges, a step card and its arrow)."""
    return any(not isinstance(item, NoticeItem) for item in result.items)


def _normalized(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
