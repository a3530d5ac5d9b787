"""``eyeline ask``: a one-shot answer through an embedded cloud and the edge runtime, as documented JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import pytest

from eyeline.devices.espresso import make_espresso_scene, render_espresso_frame
from eyeline.devices.synthetic import FrameEffects
from eyeline.tools.cli import main

pytestmark = pytest.mark.slow

DOCUMENTED_KEYS = {"schema", "question", "mode", "source", "answer", "interim_answers", "frame", "overlay", "trace",
                   "elapsed_ms", "timing"}


def test_ask_json_answers_a_repair_question_with_an_arrow_on_the_true_component(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, truth = render_espresso_frame(make_espresso_scene(seed=9), 1.1, effects=FrameEffects(perspective_deg=15))
    photo = tmp_path / "machine.png"
    cv2.imwrite(str(photo), image)
    assert main(["ask", "--image", str(photo), "--question", "how do I clean this espresso machine?",
                 "--mode", "instant", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == DOCUMENTED_KEYS and out["schema"] == 1
    assert out["answer"]["final"] and out["answer"]["text"].startswith("Step 1 of 7")
    assert out["frame"] == {"width": 1280, "height": 720} and out["mode"] == "instant"
    items = {item["id"]: item for item in out["overlay"]["items"]}
    card = items["step-card"]
    assert card["kind"] == "step_card" and card["step"] == 1
    arrow = items[card["target_item_id"]]
    centre = truth.component("portafilter").center
    error = math.hypot(arrow["head"][0] * 1280 - centre[0], arrow["head"][1] * 720 - centre[1])
    assert error / math.hypot(1280, 720) < 0.05
    kinds = [step["kind"] for step in out["trace"]]
    assert kinds[0] == "perceive" and "answer" in kinds
    assert any(step["agent"] == "repair" and step["kind"] == "ground" for step in out["trace"])
    assert out["elapsed_ms"] > 0
    # The command waits for a warm cloud: its one question pays no OCR model load, and says where its time went.
    timing = out["timing"]
    stages = ["queue", "provisional", "ocr", "reasoning", "overlay"]
    assert timing["warm"] and [s["stage"] for s in timing["stages"]] == stages
    assert sum(s["us"] for s in timing["stages"]) <= timing["total_us"] <= out["elapsed_ms"] * 1000
    # The OCR stage's parts never sum past it, and both trips are measured (one host, one monotonic clock).
    ocr_us = next(s["us"] for s in timing["stages"] if s["stage"] == "ocr")
    assert sum(p["us"] for p in timing["ocr_parts"]) <= ocr_us
    assert timing["hops"]["uplink_us"] is not None and timing["hops"]["return_us"] is not None
    assert timing["hops"]["uplink_us"] + timing["total_us"] + timing["hops"]["return_us"] <= out["elapsed_ms"] * 1000


def test_ask_json_states_the_facts_of_a_real_label(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_data / "nutrition_labels" / "off_3770007136121_1.jpg"   # tofu: values printed a row off
    assert main(["ask", "--image", str(photo), "--question", "how much protein does this have?", "--mode", "instant",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    facts = out["answer"]["facts"]
    assert facts and facts[0]["nutrient"] == "protein" and facts[0]["basis"] == "per 100 g"
    assert facts[0]["amount"] == 11.0 and facts[0]["unit"] == "g" and not facts[0]["computed"]
    assert "11 g" in out["answer"]["text"] and "0.05" not in out["answer"]["text"]


def test_ask_json_states_a_worked_out_amount_with_its_sum_in_the_trace(
        shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_data / "nutrition_labels" / "off_3596710368259_2.jpg"   # French bouillon: 7,7 g per 100 g
    assert main(["ask", "--image", str(photo), "--question", "how much protein in 30 g?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fact = out["answer"]["facts"][0]
    assert (fact["amount"], fact["basis"], fact["computed"]) == (2.31, "in 30 g", True)
    assert any("7.7 g per 100 g x 30 g / 100 g = 2.31 g" in step["text"] for step in out["trace"])


def test_ask_a_question_no_skill_takes_is_answered_with_what_is_in_view(
        shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_data / "nutrition_labels" / "off_3770007136121_1.jpg"
    assert main(["ask", "--image", str(photo), "--question", "will it rain today?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    text = out["answer"]["text"]
    assert "TOFU" in text and "how much protein is in this?" in text and "guardrail" not in text


def test_ask_is_this_vegan_reads_the_ingredient_list(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_data / "nutrition_labels" / "off_3770007136121_1.jpg"   # tofu: water, soya, nigari
    assert main(["ask", "--image", str(photo), "--question", "is this vegan?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "names none of the ingredients I know are not vegan" in out["answer"]["text"]
    assert "misread" in out["answer"]["text"]
    assert any("soja" in step["text"] and step["evidence"] for step in out["trace"])


def test_ask_without_a_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--image", str(tmp_path / "missing.png"), "--question", "read this"]) == 2
    assert "missing.png" in capsys.readouterr().err
