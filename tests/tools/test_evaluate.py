"""Scoring a replay against a recording's ground truth: right and wrong answers, badges on and off target."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from eyeline.devices.espresso import make_espresso_scene, render_espresso_frame
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.frames.sampler import Encoding
from eyeline.edge.messages import Answer, HopTimes
from eyeline.edge.overlays import ArrowShape, BadgeShape, Item, Overlay, StepCardShape
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
    answer = Answer("q1", text, 0, "t", "instant", True, overlay_id="answer-q1")
    return ReplayRun(answers={"q1": answer}, overlays={"answer-q1": overlay},
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


def repair_script(question: str) -> tuple[SessionScript, object]:
    _, truth = render_espresso_frame(make_espresso_scene(6), 0.5, WIDTH, HEIGHT)
    script = SessionScript(Path("r.mcap"), WEBCAM, (WIDTH, HEIGHT), (SentFrame(0, True, Encoding(0, 80)),),
                           (RecordedQuery("q1", question, "", 0),), {}, {}, {0: truth})
    return script, truth


def run_guiding(step: int, target: str, head: tuple[float, float]) -> ReplayRun:
    items = (Item("step-card", StepCardShape(step, 7, "do it", f"arrow-{target}")),
             Item(f"arrow-{target}", ArrowShape((0.5, 0.1), head, target)))
    overlay = Overlay("answer-q1", "q1", 0, "t", 0, items)
    answer = Answer("q1", f"Step {step} of 7: do it", 0, "t", "instant", True, overlay_id="answer-q1")
    return ReplayRun(answers={"q1": answer}, overlays={"answer-q1": overlay})


def normalized_centre(truth: object, component: str, nudge_px: float = 0.0) -> tuple[float, float]:
    x, y = truth.component(component).center  # type: ignore[attr-defined]
    return ((x + nudge_px) / WIDTH, y / HEIGHT)


def test_a_repair_answer_is_right_with_the_asked_step_and_its_arrow_on_the_true_component() -> None:
    script, truth = repair_script("show me step 3 of cleaning this machine")
    diagonal = math.hypot(WIDTH, HEIGHT)
    near = normalized_centre(truth, "steam_wand", nudge_px=0.04 * diagonal)
    (score,) = score_run(script, run_guiding(3, "steam_wand", near))
    assert score.kind == "repair" and score.correct and score.step == score.expected_step == 3
    assert score.arrow_error == pytest.approx(0.04, abs=1e-6)
    report = EvalReport(scores=[score])
    assert "repair: 1/1 = 100% correct; steps right 1/1, arrows within 5% of the diagonal 1/1" in format_report(report)


@pytest.mark.parametrize(("step", "target", "nudge", "why"), [
    (3, "steam_wand", 0.06, "arrow too far"),
    (2, "group_head", 0.0, "wrong step, its own target hit"),
    (3, "group_head", 0.0, "the asked step, the wrong component"),
])
def test_a_repair_answer_is_wrong_off_target_or_at_another_step(step: int, target: str, nudge: float,
                                                                 why: str) -> None:
    script, truth = repair_script("show me step 3 of cleaning this machine")
    head = normalized_centre(truth, target, nudge_px=nudge * math.hypot(WIDTH, HEIGHT))
    (score,) = score_run(script, run_guiding(step, target, head))
    assert score.correct is False, why
    assert "WRONG" in format_report(EvalReport(scores=[score]))


def test_a_repair_question_naming_no_step_scores_the_arrow_of_the_step_given() -> None:
    script, truth = repair_script("how do I clean this espresso machine?")
    (score,) = score_run(script, run_guiding(1, "portafilter", normalized_centre(truth, "portafilter")))
    assert score.correct and score.expected_step == 0 and score.arrow_error == pytest.approx(0.0, abs=1e-6)


def test_a_fast_replay_leaves_out_the_hops_that_start_at_its_virtual_capture_time() -> None:
    report = EvalReport()
    hops = HopTimes(capture_ns=10**18, sent_ns=2_000_000, received_ns=3_000_000, rendered_ns=9_000_000)
    report.add_hops([hops], capture_on_wall_clock=False)
    assert set(report.hop_ms) == {"sent → received"}
    assert report.hop_ms["sent → received"] == [1.0]
