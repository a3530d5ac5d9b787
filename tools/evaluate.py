"""``eyeline eval``: replay recordings through a cloud and score the answers against their ground truth.

A question is scored against the exact ground truth of the frame it was answered over (recorded by
synthetic sources). Over a shelf, the answer must name the product with the most protein among those fully
in view, and every rank badge must sit on the product of that rank. Over the espresso machine, the answer's
step card must give the step the question named ("show me step 3 ..."; a question naming none leaves the step
unscored), and the arrow onto that step's target component (the demo kit's) must have its head within 5% of
the image diagonal of the component's true centre. Latency is reported per hop, from the hop timestamps of
the replayed frames.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eyeline.devices.base import DeviceError
from eyeline.devices.espresso import EspressoTruth
from eyeline.devices.recording import FrameTruth
from eyeline.devices.synthetic import FULLY_VISIBLE, ShelfTruth
from eyeline.edge.messages import Answer, HopTimes
from eyeline.edge.overlays import ArrowShape, BadgeShape, Overlay, StepCardShape
from eyeline.tools.demo_kit import STEPS
from eyeline.tools.replay import ReplayOptions, ReplayRun, SessionScript, read_script, replay_session

ARROW_TOLERANCE = 0.05        # share of the image diagonal
_STEP_NAMED = re.compile(r"\bstep (\d{1,3})\b", re.IGNORECASE)

HOPS: tuple[tuple[str, str, str], ...] = (
    ("capture → sent", "capture_ns", "sent_ns"),
    ("sent → received", "sent_ns", "received_ns"),
    ("received → reasoned", "received_ns", "reasoned_ns"),
    ("reasoned → overlay sent", "reasoned_ns", "overlay_sent_ns"),
    ("overlay sent → rendered", "overlay_sent_ns", "rendered_ns"),
    ("capture → rendered", "capture_ns", "rendered_ns"),
)


@dataclass(frozen=True, slots=True)
class QueryScore:
    recording: str
    query_id: str
    frame_seq: int
    expected: str           # "" when the recording holds no ground truth for the frame
    answer: str
    correct: bool | None    # None: nothing to score against
    badges_on_target: int = 0
    badges: int = 0
    kind: str = "shelf"     # "shelf" or "repair": which ground truth it was scored against
    step: int = 0           # repair: the step the answer gave (0: no step card)
    expected_step: int = 0  # repair: the step the question named (0: none, the step is not scored)
    arrow_error: float | None = None   # repair: arrow head to the target's true centre, share of the diagonal


@dataclass(slots=True)
class EvalReport:
    scores: list[QueryScore] = field(default_factory=list)
    hop_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def scored(self) -> list[QueryScore]:
        return [score for score in self.scores if score.correct is not None]

    @property
    def accuracy(self) -> float:
        scored = self.scored
        return sum(bool(score.correct) for score in scored) / len(scored) if scored else 0.0

    def of_kind(self, kind: str) -> list[QueryScore]:
        return [score for score in self.scored if score.kind == kind]

    def add_hops(self, latencies: Sequence[HopTimes], *, capture_on_wall_clock: bool = True) -> None:
        """Add each hop's milliseconds; replayed as fast as possible, frames are stamped on virtual time, so the
        hops that start at capture mean nothing and are left out."""
        hops_kept = [hop for hop in HOPS if capture_on_wall_clock or hop[1] != "capture_ns"]
        for hops in latencies:
            for name, start, end in hops_kept:
                begin, finish = getattr(hops, start), getattr(hops, end)
                if begin and finish:
                    self.hop_ms.setdefault(name, []).append((finish - begin) / 1e6)


async def evaluate(paths: Sequence[Path], cloud: str, token: str, *, fast: bool = False) -> EvalReport:
    report = EvalReport()
    for path in paths:
        script = await asyncio.to_thread(read_script, path)
        run = await replay_session(script, ReplayOptions(cloud, token, fast=fast))
        report.scores.extend(score_run(script, run))
        report.add_hops(run.latencies or run.arrivals, capture_on_wall_clock=not fast)
    return report


def score_run(script: SessionScript, run: ReplayRun) -> list[QueryScore]:
    scores = []
    for query in script.queries:
        answer = run.answers.get(query.query_id)
        overlay = run.overlays.get(answer.overlay_id) if answer is not None and answer.overlay_id else None
        truth = script.truth.get(answer.frame_seq if answer is not None else query.frame_seq)
        score = _score_repair if isinstance(truth, EspressoTruth) else _score
        scores.append(score(script, query.query_id, query.text, query.frame_seq, answer, overlay, truth))
    return scores


def _score(script: SessionScript, query_id: str, question: str, frame_seq: int, answer: Answer | None,
           overlay: Overlay | None, truth: FrameTruth | None) -> QueryScore:
    text = answer.text if answer is not None else ""
    shelf = truth if isinstance(truth, ShelfTruth) else None
    expected = _expected(shelf)
    correct = None if not expected else expected.lower() in text.lower()
    on_target, badges = _badges(overlay, shelf, script.frame_size)
    return QueryScore(script.path.name, query_id, frame_seq, expected, text, correct, on_target, badges)


def _expected(truth: ShelfTruth | None) -> str:
    if truth is None:
        return ""
    try:
        return truth.best_product().display_name
    except DeviceError:
        return ""


def _badges(overlay: Overlay | None, truth: ShelfTruth | None, size: tuple[int, int]) -> tuple[int, int]:
    """How many rank badges sit inside the box of the product of their rank, out of how many badges."""
    if overlay is None or truth is None:
        return 0, 0
    visible = sorted((p for p in truth.products if p.visible_fraction >= FULLY_VISIBLE),
                     key=lambda p: -p.product.protein_g)
    badges = [item.shape for item in overlay.items if isinstance(item.shape, BadgeShape)]
    on_target = 0
    for badge in badges:
        rank = int(badge.text) if badge.text.isdigit() else 0
        if not 1 <= rank <= len(visible):
            continue
        x0, y0, x1, y1 = visible[rank - 1].box
        x, y = badge.center[0] * size[0], badge.center[1] * size[1]
        on_target += x0 <= x <= x1 and y0 <= y <= y1
    return on_target, len(badges)


# ------------------------------------------------------------------ repair


def expected_step(question: str) -> int | None:
    """The step a question asks for by number ("show me step 3 ..."), or None."""
    found = _STEP_NAMED.search(question)
    return int(found.group(1)) if found else None


def _score_repair(script: SessionScript, query_id: str, question: str, frame_seq: int, answer: Answer | None,
                  overlay: Overlay | None, truth: FrameTruth | None) -> QueryScore:
    assert isinstance(truth, EspressoTruth)
    wanted, given = expected_step(question), _card_step(overlay)
    step = wanted or given
    target = STEPS[step - 1]["target"] if 1 <= step <= len(STEPS) else ""
    error = arrow_error(overlay, truth, target, script.frame_size) if target else None
    on_target = error is not None and error <= ARROW_TOLERANCE
    correct = on_target and (wanted is None or given == wanted)
    expected = f"step {wanted or '?'}, arrow on the {target or '?'}"
    return QueryScore(script.path.name, query_id, frame_seq, expected, answer.text if answer is not None else "",
                      correct, kind="repair", step=given, expected_step=wanted or 0, arrow_error=error)


def _card_step(overlay: Overlay | None) -> int:
    if overlay is None:
        return 0
    return next((item.shape.step for item in overlay.items if isinstance(item.shape, StepCardShape)), 0)


def arrow_error(overlay: Overlay | None, truth: EspressoTruth, target: str, size: tuple[int, int]) -> float | None:
    """Distance from the head of the arrow onto ``target`` to its true centre, as a share of the image diagonal;
    None when the overlay has no such arrow or the frame no such component."""
    arrow = None if overlay is None else next(
        (item.shape for item in overlay.items if item.id == f"arrow-{target}" and isinstance(item.shape, ArrowShape)),
        None)
    component = next((c for c in truth.components if c.id == target), None)
    if arrow is None or component is None:
        return None
    width, height = size
    dx, dy = arrow.head[0] * width - component.center[0], arrow.head[1] * height - component.center[1]
    return math.hypot(dx, dy) / math.hypot(width, height)


def format_report(report: EvalReport) -> str:
    lines = [f"{'recording':<28} {'query':<8} {'frame':>5}  {'result':<7} expected / answer"]
    for s in report.scores:
        result = "-" if s.correct is None else ("ok" if s.correct else "WRONG")
        lines.append(f"{s.recording:<28} {s.query_id:<8} {s.frame_seq:>5}  {result:<7} {s.expected or '?'} / "
                     f"{s.answer[:60]}  ({_detail(s)})")
    lines.extend(_accuracy_lines(report))
    lines.append(f"{'hop':<26} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    for name, _, _ in HOPS:
        values = sorted(report.hop_ms.get(name, []))
        if values:
            p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
            lines.append(f"{name:<26} {len(values):>4} {statistics.median(values):>10.1f} {p95:>8.1f}")
    return "\n".join(lines)


def _detail(score: QueryScore) -> str:
    if score.kind != "repair":
        return f"badges on target {score.badges_on_target}/{score.badges}"
    arrow = "no arrow" if score.arrow_error is None else f"arrow {score.arrow_error:.1%} of the diagonal"
    return f"step {score.step or 'none'}, {arrow}"


def _accuracy_lines(report: EvalReport) -> list[str]:
    """Shelf accuracy, then repair's: steps given right, arrows within tolerance, and both."""
    shelf, repair = report.of_kind("shelf"), report.of_kind("repair")
    lines = [f"accuracy: {sum(bool(s.correct) for s in shelf)}/{len(shelf)} = {_share(shelf)} (shelf)"]
    if repair:
        arrows = sum(s.arrow_error is not None and s.arrow_error <= ARROW_TOLERANCE for s in repair)
        steps = [s for s in repair if s.expected_step]
        right_steps = sum(s.step == s.expected_step for s in steps)
        lines.append(f"repair: {sum(bool(s.correct) for s in repair)}/{len(repair)} = {_share(repair)} correct; "
                     f"steps right {right_steps}/{len(steps)}, arrows within {ARROW_TOLERANCE:.0%} of the "
                     f"diagonal {arrows}/{len(repair)}")
    return lines


def _share(scores: list[QueryScore]) -> str:
    return f"{sum(bool(s.correct) for s in scores) / len(scores):.0%}" if scores else "-"
