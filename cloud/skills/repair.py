"""Guide a repair step by step: recognise the machine, find it in the frame, point at the part to work on.

The chain of steps: perceive (OCR the frame), ground (which kit's text cues are printed on the machine),
verify (register the kit's reference image onto the frame: ORB + RANSAC homography), then answer with a
step card and an arrow whose head sits on the target component, re-projected from the kit's reference
through the homography. The session remembers where in the kit the wearer is; "next", "back" and "repeat"
move through it, and a step whose done-cue (text such as "TANK OK" on the machine's display) is in view
counts as done.

A kit for a machine met in real photos (the Rancilio Silvia) has no reference image: its parts are placed
from the badge printed on it (``repair_layout``), and it holds several procedures, chosen by what the question
asks (``repair_asks``). A machine whose maker is printed but that has no kit gets "no guide for this model".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

import cv2
import numpy as np

from eyeline.cloud.errors import CloudError
from eyeline.cloud.knowledge.schema import Component, Procedure, RepairKit
from eyeline.cloud.model import (
    ArrowItem,
    Image,
    Mode,
    NormBox,
    NoticeItem,
    OutlineItem,
    OverlayItem,
    Point,
    SkillResult,
    StepCardItem,
    StepKind,
    TraceStep,
)
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.perception.registration import Gray, Registration, register
from eyeline.cloud.skills.base import Pass, SkillContext
from eyeline.cloud.skills.repair_asks import asks_any, maker_seen, procedure_asked
from eyeline.cloud.skills.repair_layout import Anchor, detectable_parts_found, find_anchor, place
from eyeline.protos.clock import Clock, elapsed_us

AGENT = "repair"
_ARROW_RGB = 0xFF8000
_OUTLINE_RGB = 0xFFD000
_COMMAND_WORDS = 4        # the longest utterance taken as a bare command ("ok go back please")
_CUE_SIMILARITY = 0.8     # OCR misreads a letter or two of a printed cue; a whole other word is not a cue


class KitImageError(CloudError):
    """A repair kit's reference image cannot be read."""


@dataclass(frozen=True, slots=True)
class RepairProgress:
    """Where a session is in a kit: ``step`` is 0-based; ``len(kit.steps)`` means every step is done."""

    kit_id: str
    step: int
    procedure: str = ""         # a procedure id of the kit; "" is its first (or only) one


@dataclass(frozen=True, slots=True)
class KitReference:
    kit: RepairKit
    images: tuple[Gray, ...]


@dataclass(frozen=True, slots=True)
class Sighting:
    """A kit recognised in a frame: the cues read, and where its reference lies (None: not registered)."""

    reference: KitReference
    cues: tuple[str, ...]
    registration: Registration | None
    image_index: int = 0
    anchor: Anchor | None = None    # the printed cue a layout kit's parts are placed from


# ------------------------------------------------------------------ commands

_NEXT = re.compile(r"\b(next|continue|done|finished|go on|move on)\b", re.IGNORECASE)
_BACK = re.compile(r"\b(back|previous|prior|undo)\b", re.IGNORECASE)
_REPEAT = re.compile(r"\b(repeat|again|say that|what was)\b", re.IGNORECASE)
_RESTART = re.compile(r"\b(start over|restart|from the (?:start|beginning))\b", re.IGNORECASE)
_REPAIR_WORDS = re.compile(
    r"\b(repair|fix|clean|cleaning|descal\w*|maintain|maintenance|service|step|steps|walk me through|guide me|"
    r"espresso|coffee machine|machine)\b", re.IGNORECASE)


_GOTO = re.compile(r"\bstep (\d{1,3})\b", re.IGNORECASE)


def step_asked(question: str) -> int | None:
    """The step a question names ("show me step 4"), 1-based, or None."""
    found = _GOTO.search(question)
    return int(found.group(1)) if found else None


def command_of(question: str) -> str:
    """"next", "back", "repeat", "restart" or "" (a fresh question: start the kit, or show the current step)."""
    for name, pattern in (("restart", _RESTART), ("back", _BACK), ("repeat", _REPEAT), ("next", _NEXT)):
        if pattern.search(question):
            return name
    return ""


def moved(progress: RepairProgress, command: str, steps: int) -> RepairProgress:
    """The progress after ``command``; "back" stops at the first step, "next" one past the last (all done)."""
    delta = {"next": 1, "back": -1}.get(command, 0)
    step = 0 if command == "restart" else min(steps, max(0, progress.step + delta))
    return replace(progress, step=step)


# ------------------------------------------------------------------ recognising the machine


def _normalized(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def cues_seen(kit: RepairKit, lines: Sequence[TextLine]) -> tuple[str, ...]:
    """The kit's text cues that are printed in view (allowing for a misread letter)."""
    texts = [_normalized(line.text) for line in lines]
    return tuple(cue for cue in kit.text_cues if any(_similar(_normalized(cue), text) for text in texts))


def _similar(cue: str, text: str) -> bool:
    if cue in text:
        return True
    return len(text) >= 0.6 * len(cue) and SequenceMatcher(None, cue, text).ratio() >= _CUE_SIMILARITY


def done_cue_seen(cue: str, lines: Sequence[TextLine]) -> bool:
    return bool(cue) and any(_similar(_normalized(cue), _normalized(line.text)) for line in lines)


def load_reference(kit: RepairKit) -> KitReference:
    images = []
    for path in kit.reference_images:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise KitImageError(f"{kit.source}: reference image {path} is not a readable image")
        images.append(np.asarray(image, dtype=np.uint8))
    return KitReference(kit, tuple(images))


def locate(reference: KitReference, frame_gray: Gray) -> tuple[Registration | None, int]:
    """The best registration of any of the kit's reference images onto the frame (CPU work: run in a worker)."""
    best: tuple[Registration | None, int] = (None, 0)
    for index, image in enumerate(reference.images):
        found = register(image, frame_gray)
        if found is not None and (best[0] is None or found.inliers > best[0].inliers):
            best = (found, index)
    return best


def component_outline(sighting: Sighting, component: Component, frame_size: tuple[int, int]) -> tuple[Point, ...]:
    """The component's region (normalized in the reference) as a quad normalized in the frame."""
    if sighting.registration is None:
        raise CloudError(f"{sighting.reference.kit.machine} is not registered in this frame")
    ref_h, ref_w = sighting.reference.images[sighting.image_index].shape[:2]
    r = component.region
    corners = [(r.x0 * ref_w, r.y0 * ref_h), (r.x1 * ref_w, r.y0 * ref_h), (r.x1 * ref_w, r.y1 * ref_h),
               (r.x0 * ref_w, r.y1 * ref_h), ((r.x0 + r.x1) / 2 * ref_w, (r.y0 + r.y1) / 2 * ref_h)]
    width, height = frame_size
    return tuple((float(x) / width, float(y) / height) for x, y in sighting.registration.project(corners))


def arrow_onto(head: Point) -> tuple[Point, Point]:
    """An arrow whose head is ``head``, its tail off towards open space (above, or below near the top)."""
    x, y = head
    dx = 0.12 if x < 0.5 else -0.12
    dy = -0.18 if y > 0.3 else 0.18
    tail = (min(0.98, max(0.02, x + dx)), min(0.98, max(0.02, y + dy)))
    return tail, head


# ------------------------------------------------------------------ the skill


class RepairSkill:
    """Step-by-step repair guidance from the knowledge pack's repair kits."""

    name = "repair"
    examples = ("how do I clean this espresso machine?", "next", "back", "repeat")

    def __init__(self, kits: Sequence[RepairKit] = ()) -> None:
        self._references = tuple(load_reference(kit) for kit in kits)
        self._words = re.compile(r"\b(" + "|".join(re.escape(c.name) for k in kits for c in k.components) + r")\b",
                                 re.IGNORECASE) if kits else None

    def deeper_passes(self, mode: Mode) -> Sequence[Pass]:
        return ()

    def matches(self, question: str) -> bool:
        if not self._references:
            return False
        named = self._words is not None and bool(self._words.search(question))
        # "next", "back", "again" are commands only as short utterances; in a longer question they are ordinary
        # words ("what is on the back of this pack?") and another skill's business.
        command = bool(command_of(question)) and len(question.split()) <= _COMMAND_WORDS
        asked = asks_any([ref.kit for ref in self._references], question)
        return bool(command or _REPAIR_WORDS.search(question) or named or asked)

    async def answer(self, ctx: SkillContext) -> SkillResult:
        steps: list[TraceStep] = []
        started = ctx.clock.now_ns()
        lines = await ctx.ocr.read(ctx.image)
        steps.append(TraceStep(StepKind.PERCEIVE, f"OCR read {len(lines)} text lines",
                               evidence=tuple(line.box for line in lines), cost_us=elapsed_us(ctx.clock, started),
                               agent=AGENT))
        progress = ctx.state.get(self.name)
        remembered = progress if isinstance(progress, RepairProgress) else None
        sighting = await self._recognise(ctx.image, lines, remembered, steps, ctx.clock)
        maker = maker_seen(lines)
        if sighting is None and not maker:
            sighting = self._from_context(ctx.question, remembered, steps)
        if sighting is None:
            return _not_recognised(remembered, steps, maker, [ref.kit for ref in self._references])
        kit = sighting.reference.kit
        if len(kit.procedures) > 1 and procedure_asked(kit, ctx.question) is None and (
                remembered is None or remembered.kit_id != kit.id):
            return _which_procedure(kit, steps)
        progress = self._advance(ctx, sighting, remembered, lines, steps)
        return await self._guide(ctx, sighting, progress,
                                 first=remembered is None or remembered.kit_id != progress.kit_id, steps=steps)

    async def _recognise(self, image: Image, lines: Sequence[TextLine], remembered: RepairProgress | None,
                         steps: list[TraceStep], clock: Clock) -> Sighting | None:
        """The kit in view: by its text cues, then by registration; the remembered kit is tried first."""
        started = clock.now_ns()
        frame_gray = await asyncio.to_thread(cv2.cvtColor, image, cv2.COLOR_BGR2GRAY)
        ordered = sorted(self._references, key=lambda ref: (remembered is None or ref.kit.id != remembered.kit_id,
                                                            not cues_seen(ref.kit, lines)))
        for reference in ordered:
            cues = cues_seen(reference.kit, lines)
            registration, index = await asyncio.to_thread(locate, reference, np.asarray(frame_gray, np.uint8))
            if cues or registration is not None:
                height, width = image.shape[:2]
                sighting = Sighting(reference, cues, registration, index, find_anchor(reference.kit, lines,
                                                                                      (width, height)))
                _record_sighting(sighting, steps, elapsed_us(clock, started))
                if sighting.anchor is not None and registration is None:
                    await _check_layout(sighting, image, steps, clock)
                return sighting
        steps.append(TraceStep(StepKind.GROUND, "no known machine: no kit's text cues read, no reference registered",
                               confidence=0.0, cost_us=elapsed_us(clock, started), agent=AGENT))
        return None

    def _from_context(self, question: str, remembered: RepairProgress | None,
                      steps: list[TraceStep]) -> Sighting | None:
        """A machine placed by its badge (a real one) that shows no badge in this view: the one the wearer names
        ("my Silvia"), or the one this session is already working on, as a close look at a part hides the badge.
        Its steps can be followed; its parts cannot be pointed at, and the trace says it was not seen."""
        words = f" {_normalized(question)} "
        for reference in self._references:
            kit = reference.kit
            if kit.reference_images:
                continue        # a kit with a reference image is recognised by registering it, or not at all
            if any(f" {_normalized(cue)} " in words for cue in kit.text_cues):
                text = f"{kit.machine}: named in the question, not read in this view (parts cannot be pointed at)"
            elif remembered is not None and remembered.kit_id == kit.id:
                text = (f"no {kit.machine} cue in this view: continuing with the {kit.machine} recognised earlier "
                        "in this session, not verified in this frame (parts cannot be pointed at)")
            else:
                continue
            steps.append(TraceStep(StepKind.GROUND, text, confidence=0.2, agent=AGENT))
            return Sighting(reference, (), None)
        return None

    def _advance(self, ctx: SkillContext, sighting: Sighting, remembered: RepairProgress | None,
                 lines: Sequence[TextLine], steps: list[TraceStep]) -> RepairProgress:
        kit = sighting.reference.kit
        command, asked = command_of(ctx.question), step_asked(ctx.question)
        current = remembered if remembered is not None and remembered.kit_id == kit.id else None
        named = procedure_asked(kit, ctx.question)
        total = len(kit.procedure(named.id if named else current.procedure if current else "").steps)
        if named is not None and (current is None or current.procedure != named.id):
            # A fresh procedure starts at its first step, whatever else the question says ("back flush").
            progress = RepairProgress(kit.id, 0, named.id)
        elif asked is not None and 1 <= asked <= total:
            progress = RepairProgress(kit.id, asked - 1, current.procedure if current else "")
        elif current is None:
            progress = RepairProgress(kit.id, 0)
        else:
            progress = moved(current, command, total)
            if command in ("", "next") and progress.step < total:
                cue = kit.procedure(progress.procedure).steps[progress.step].done_cue
                if command == "" and done_cue_seen(cue, lines):
                    steps.append(TraceStep(StepKind.VERIFY, f"done-cue {cue!r} in view: step {progress.step + 1} "
                                           "is done", confidence=1.0, agent=AGENT))
                    progress = moved(progress, "next", total)
        ctx.state[self.name] = progress
        return progress

    async def _guide(self, ctx: SkillContext, sighting: Sighting, progress: RepairProgress, *, first: bool,
                     steps: list[TraceStep]) -> SkillResult:
        started = ctx.clock.now_ns()
        kit = sighting.reference.kit
        procedure = kit.procedure(progress.procedure)
        title = _title(kit, procedure)
        if progress.step >= len(procedure.steps):
            text = f"All {len(procedure.steps)} steps of {title} are done."
            steps.append(TraceStep(StepKind.ANSWER, text, agent=AGENT, cost_us=elapsed_us(ctx.clock, started)))
            return SkillResult(answer=text, items=(NoticeItem(id="repair-notice", text=text),), steps=tuple(steps))
        step = procedure.steps[progress.step]
        component = kit.component(step.target)
        items, evidence = await self._pointing(ctx, sighting, component, steps)
        warning = " ".join((*kit.safety, step.warning) if first else (step.warning,)).strip()
        card = StepCardItem(id="step-card", step=progress.step + 1, total=len(procedure.steps),
                            instruction=step.instruction, target_item_id=f"arrow-{component.id}" if evidence else "",
                            warning=warning)
        counter = f"step {progress.step + 1} of {len(procedure.steps)}: {step.instruction}"
        text = f"{title}, {counter}" if kit.procedures else counter[0].upper() + counter[1:]
        text += f" (the {component.name})" if evidence else f" (the {component.name}; I can't see it right now)"
        text += f" Warning: {warning}" if warning else ""
        confidence = (sighting.registration.confidence if sighting.registration is not None
                      else len(sighting.cues) / len(kit.text_cues) if sighting.anchor is not None else 0.0)
        steps.append(TraceStep(StepKind.ANSWER, text, evidence=evidence, confidence=confidence,
                               cost_us=elapsed_us(ctx.clock, started), agent=AGENT))
        return SkillResult(answer=text, items=(card, *items), steps=tuple(steps))

    @staticmethod
    async def _pointing(ctx: SkillContext, sighting: Sighting, component: Component,
                        steps: list[TraceStep]) -> tuple[tuple[OverlayItem, ...], tuple[NormBox, ...]]:
        if sighting.registration is None:
            return await _pointing_by_layout(ctx, sighting, component, steps)
        height, width = ctx.image.shape[:2]
        *corners, centre = component_outline(sighting, component, (width, height))
        tail, head = arrow_onto(centre)
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        region = NormBox(min(xs), min(ys), max(xs), max(ys))
        items: tuple[OverlayItem, ...] = (
            ArrowItem(id=f"arrow-{component.id}", tail=tail, head=head, text=component.name, rgb=_ARROW_RGB),
            OutlineItem(id=f"outline-{component.id}", points=tuple(corners), rgb=_OUTLINE_RGB))
        return items, (region,)


def _record_sighting(sighting: Sighting, steps: list[TraceStep], cost_us: int) -> None:
    kit = sighting.reference.kit
    cues = ", ".join(repr(cue) for cue in sighting.cues) or "none read"
    steps.append(TraceStep(StepKind.GROUND, f"{kit.machine}: text cues {cues}",
                           confidence=len(sighting.cues) / len(kit.text_cues), agent=AGENT))
    found = sighting.registration
    if not kit.reference_images:
        return      # a kit placed by its layout has no reference to register; its parts say how they were found
    text = (f"registered the {kit.machine} reference onto the frame: {found.inliers} inliers" if found is not None
            else f"could not register the {kit.machine} reference onto the frame")
    steps.append(TraceStep(StepKind.VERIFY, text, confidence=found.confidence if found is not None else 0.0,
                           cost_us=cost_us, agent=AGENT))


async def _pointing_by_layout(ctx: SkillContext, sighting: Sighting, component: Component,
                             steps: list[TraceStep]) -> tuple[tuple[OverlayItem, ...], tuple[NormBox, ...]]:
    """Point at a part placed from the printed badge; the trace says whether it was detected or inferred."""
    if sighting.anchor is None or component.layout is None:
        return (), ()
    started = ctx.clock.now_ns()
    placed = await asyncio.to_thread(place, component, sighting.anchor, ctx.image)
    if placed is None:
        steps.append(TraceStep(StepKind.VERIFY, f"the {component.name} lies outside this view of the "
                               f"{sighting.reference.kit.machine}", confidence=0.0,
                               cost_us=elapsed_us(ctx.clock, started), agent=AGENT))
        return (), ()
    steps.append(TraceStep(StepKind.VERIFY, f"the {component.name}: {placed.how} (from the "
                           f"{sighting.anchor.cue!r} badge)", evidence=(placed.box,), confidence=placed.confidence,
                           cost_us=elapsed_us(ctx.clock, started), agent=AGENT))
    b = placed.box
    corners = ((b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1))
    tail, head = arrow_onto(placed.centre)
    items: tuple[OverlayItem, ...] = (
        ArrowItem(id=f"arrow-{component.id}", tail=tail, head=head, text=component.name, rgb=_ARROW_RGB),
        OutlineItem(id=f"outline-{component.id}", points=corners, rgb=_OUTLINE_RGB))
    return items, (placed.box,)


async def _check_layout(sighting: Sighting, image: Image, steps: list[TraceStep], clock: Clock) -> None:
    """Say whether the parts a detector can find are where the kit's layout puts them: evidence that the badge
    is on this model, not only on a machine of the same maker."""
    if sighting.anchor is None:
        return
    started = clock.now_ns()
    kit = sighting.reference.kit
    found, missing = await asyncio.to_thread(detectable_parts_found, kit, sighting.anchor, image)
    if not found and not missing:
        text, confidence = f"no part of the {kit.machine} that can be detected is in view: the model rests on its " \
            "text alone", 0.0
    elif found:
        text, confidence = (f"{', '.join(found)} found where the {kit.machine}'s layout puts "
                            f"{'them' if len(found) > 1 else 'it'}"), len(found) / (len(found) + len(missing))
    else:
        text, confidence = (f"{', '.join(missing)} not found where the {kit.machine}'s layout puts "
                            f"{'them' if len(missing) > 1 else 'it'}: the model rests on its text alone"), 0.0
    steps.append(TraceStep(StepKind.VERIFY, text, confidence=confidence, cost_us=elapsed_us(clock, started),
                           agent=AGENT))


def _title(kit: RepairKit, procedure: Procedure) -> str:
    return f"{procedure.name} ({kit.machine})" if kit.procedures else kit.machine


def _which_procedure(kit: RepairKit, steps: list[TraceStep]) -> SkillResult:
    names = ", ".join(procedure.name.lower() for procedure in kit.procedures)
    text = f"This is a {kit.machine}. I have guides for: {names}. Which one?"
    steps.append(TraceStep(StepKind.ANSWER, text, agent=AGENT))
    return SkillResult(answer=text, items=(NoticeItem(id="repair-notice", text=text),), steps=tuple(steps))


def _not_recognised(remembered: RepairProgress | None, steps: list[TraceStep], maker: str,
                    kits: Sequence[RepairKit]) -> SkillResult:
    guides = ", ".join(kit.machine for kit in kits)
    if maker:
        # A maker's badge says what kind of machine this is; without its kit, no steps are guessed.
        text = (f"I recognise a {maker} espresso machine, but I have no guide for this model (I have guides for: "
                f"{guides}).")
    elif remembered is not None:
        text = "I can't see the machine right now; point your glasses at it and ask again."
    else:
        text = f"I don't see a machine I have a repair guide for (I have guides for: {guides})."
    steps.append(TraceStep(StepKind.ANSWER, text, confidence=0.0, agent=AGENT))
    return SkillResult(answer=text, items=(NoticeItem(id="repair-notice", text=text),), steps=tuple(steps))

