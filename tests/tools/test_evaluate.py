"""Scoring a replay against a recording's ground truth: right and wrong answers, badges on and off target."""

from __future__ import annotations

from pathlib import Path

from eyeline.devices.profiles import WEBCAM
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer, HopTimes
from eyeline.edge.overlays import BadgeShape, Item, Overlay
from eyeline.edge.sampler import Encoding
from eyeline.tools.evaluate import EvalReport, format_report, score_run
from eyeline.tools.replay import RecordedQuery, ReplayRun, SentFrame, SessionScript

WIDTH, HEIGHT = 1280, 720


def script_and_truth() -> tuple[SessionScript, object]:
    _, truth = render_shelf_frame(make_shelf_scene(4), 0.0, WIDTH, HEIGHT)
    script = SessionScript(Path("s.mcap"), WEBCAM, (WIDTH, HEIGHT), (SentFrame(0, True, Encoding(0, 80)),),
                           (RecordedQuery("q1", "which has the most protein?", "", 0),), {}, {}, {0: truth})
    return script, truth


def run_answering(text: str, badge_at: tuple[float, float]) -> ReplayRun:
    overlay = Overlay("answer-q1", "q1", 0, "t", 0, (Item("r1", BadgeShape(badge_at, "1")),))
    return ReplayRun(answers={"q1": Answer("q1", text, 0, "t", "instant", True)}, overlays={"answer-q1": overlay},
                     arrivals=[HopTimes(capture_ns=1, sent_ns=2_000_001, received_ns=3_000_001)])


def test_the_right_product_with_its_badge_on_it_scores_correct() -> None:
    script, truth = script_and_truth()
    best = truth.best_product()  # type: ignore[attr-defined]
    box = next(p.box for p in truth.products if p.product == best)  # type: ignore[attr-defined]
    center = ((box[0] + box[2]) / 2 / WIDTH, (box[1] + box[3]) / 2 / HEIGHT)
    (score,) = score_run(script, run_answering(f"{best.display_name} has the most protein", center))
    assert score.correct and score.expected == best.display_name
    assert (score.badges_on_target, score.badges) == (1, 1)


def test_a_wrong_product_and_a_badge_off_target_are_counted_as_such() -> None:
    script, truth = script_and_truth()
    best = truth.best_product()  # type: ignore[attr-defined]
    other = next(p.product for p in truth.products if p.product != best)  # type: ignore[attr-defined]
    run = run_answering(f"{other.display_name} has the most protein", (0.001, 0.001))
    report = EvalReport()
    report.scores.extend(score_run(script, run))
    report.add_hops(run.arrivals)
    assert report.scores[0].correct is False and report.accuracy == 0.0
    assert report.scores[0].badges_on_target == 0
    assert report.hop_ms["capture → sent"] == [2.0] and report.hop_ms["sent → received"] == [1.0]
    assert "WRONG" in format_report(report) and "accuracy: 0/1" in format_report(report)
