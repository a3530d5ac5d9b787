"""``eyeline ask "what is this?"`` on a real package front: the product named through the whole cloud, its
catalog facts in ``answer.facts``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eyeline.tools.cli import main

pytestmark = pytest.mark.slow


def test_ask_what_is_this_names_a_real_front_with_catalog_facts(
        shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = json.loads((shared_data / "manifest.json").read_text())
    record = next(r for r in records if str(r.get("path", "")).endswith("Oatly-Natural-Oatghurt_009.jpg"))
    assert main(["ask", "--image", str(shared_data / record["file"]), "--question", "what is this?",
                 "--mode", "instant", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    text = out["answer"]["text"]
    assert text.startswith("This is Oatly Havregurt Naturell") and "From the catalog, not the label" in text
    protein = next(fact for fact in out["answer"]["facts"] if fact["nutrient"] == "protein")
    assert (protein["amount"], protein["basis"]) == (1.2, "per 100 g")
    assert any(step["agent"] == "identity" for step in out["trace"])
