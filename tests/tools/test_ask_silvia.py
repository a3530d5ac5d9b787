"""``eyeline ask --image <real Rancilio Silvia photo> --question "how do I descale this?" --json``: the Silvia's
descaling procedure, its first step card and an arrow on the water tank, through the whole cloud and edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eyeline.tools.cli import main

pytestmark = pytest.mark.slow

FRONT = "espresso/clevercoffee_IMG_20210408_145907-720x720.jpg"
TOP_OF_MACHINE = (205, 80, 620, 135)     # pixels, annotated by eye: the lid over the water tank


def test_ask_descale_on_a_real_silvia_answers_with_its_procedure_and_points_at_the_tank(
        shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--image", str(shared_data / FRONT), "--question", "how do I descale this?",
                 "--mode", "instant", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"]["final"]
    assert out["answer"]["text"].startswith("Descaling (Rancilio Silvia), step 1 of 6: Empty the water tank")
    items = {item["id"]: item for item in out["overlay"]["items"]}
    card = items["step-card"]
    assert card["kind"] == "step_card" and (card["step"], card["total"]) == (1, 6)
    arrow = items[card["target_item_id"]]
    assert arrow["id"] == "arrow-water_tank"
    x, y = arrow["head"][0] * 720, arrow["head"][1] * 720        # normalized in the frame: the photo is 720 x 720
    assert TOP_OF_MACHINE[0] <= x <= TOP_OF_MACHINE[2] and TOP_OF_MACHINE[1] <= y <= TOP_OF_MACHINE[3]
    repair = [step for step in out["trace"] if step["agent"] == "repair"]
    assert any(step["kind"] == "ground" and "RANCILIO" in step["text"] for step in repair)
    assert any("inferred from the badge layout" in step["text"] for step in repair)

