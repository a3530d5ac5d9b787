"""``eyeline eval``: replay recordings through a cloud and score the answers against their ground truth.

A question is scored against the exact ground truth of the frame it was answered over (recorded by
synthetic sources): the answer must name the product with the most protein among those fully in view, and
every rank badge must sit on the product of that rank. Latency is reported per hop, from the hop
timestamps of the replayed frames.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eyeline.devices.base import DeviceError
from eyeline.devices.synthetic import FULLY_VISIBLE, ShelfTruth
from eyeline.edge.messages import Answer, HopTimes
from eyeline.edge.overlays import BadgeShape, Overlay
from eyeline.tools.replay import ReplayOptions, ReplayRun, SessionScript, read_script, replay_session

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
    badges_on_target: int
    badges: int


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

    def add_hops(self, latencies: Sequence[HopTimes]) -> None:
        for hops in latencies:
            for name, start, end in HOPS:
                begin, finish = getattr(hops, start), getattr(hops, end)
                if begin and finish:
                    self.hop_ms.setdefault(name, []).append((finish - begin) / 1e6)


async def evaluate(paths: Sequence[Path], cloud: str, token: str, *, fast: bool = False) -> EvalReport:
    report = EvalReport()
    for path in paths:
        script = await asyncio.to_thread(read_script, path)
        run = await replay_session(script, ReplayOptions(cloud, token, fast=fast))
        report.scores.extend(score_run(script, run))
        report.add_hops(run.latencies or run.arrivals)
    return report


def score_run(script: SessionScript, run: ReplayRun) -> list[QueryScore]:
    scores = []
    for query in script.queries:
        answer = run.answers.get(query.query_id)
        overlay = run.overlays.get(f"answer-{query.query_id}")
        truth = script.truth.get(answer.frame_seq if answer is not None else query.frame_seq)
        scores.append(_score(script, query.query_id, query.frame_seq, answer, overlay, truth))
    return scores


def _score(script: SessionScript, query_id: str, frame_seq: int, answer: Answer | None, overlay: Overlay | None,
           truth: ShelfTruth | None) -> QueryScore:
    text = answer.text if answer is not None else ""
    expected = _expected(truth)
    correct = None if not expected else expected.lower() in text.lower()
    on_target, badges = _badges(overlay, truth, script.frame_size)
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


def format_report(report: EvalReport) -> str:
    lines = [f"{'recording':<28} {'query':<8} {'frame':>5}  {'result':<7} expected / answer"]
    for s in report.scores:
        result = "-" if s.correct is None else ("ok" if s.correct else "WRONG")
        lines.append(f"{s.recording:<28} {s.query_id:<8} {s.frame_seq:>5}  {result:<7} {s.expected or '?'} / "
                     f"{s.answer[:60]}  (badges on target {s.badges_on_target}/{s.badges})")
    scored = report.scored
    lines.append(f"accuracy: {sum(bool(s.correct) for s in scored)}/{len(scored)} = {report.accuracy:.0%}")
    lines.append(f"{'hop':<26} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    for name, _, _ in HOPS:
        values = sorted(report.hop_ms.get(name, []))
        if values:
            p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
            lines.append(f"{name:<26} {len(values):>4} {statistics.median(values):>10.1f} {p95:>8.1f}")
    return "\n".join(lines)
