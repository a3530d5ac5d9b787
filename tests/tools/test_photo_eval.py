"""Real-photo scoring: cases from the manifest's truth, facts matched on amount and basis."""

from __future__ import annotations

import json
from pathlib import Path

from eyeline.edge.messages import AnswerFact
from eyeline.tools.photo_eval import (
    ExpectedFact,
    PhotoCase,
    PhotoScore,
    format_photo_table,
    photo_cases,
    photo_correct,
)


def _fact(grams: float, basis: str, nutrient: str = "protein") -> AnswerFact:
    return AnswerFact("", nutrient, grams, "g", basis)


def test_cases_come_from_every_manifest_record_with_a_protein_truth(tmp_path: Path) -> None:
    (tmp_path / "nutrition_labels").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        (tmp_path / "nutrition_labels" / name).write_bytes(b"")
    (tmp_path / "manifest.json").write_text(json.dumps([
        {"file": "nutrition_labels/a.jpg", "truth": {"protein": [{"amount_g": 3.7, "basis": "100g"},
                                                                 {"amount_g": 4.6, "basis": "package"}]}},
        {"file": "nutrition_labels/b.jpg", "truth": {"protein": [{"amount_g": 1, "basis": "serving"}]},
         "language": "en", "kind": "shelf"},
        {"file": "nutrition_labels/c.jpg", "truth": None},
        {"file": "nutrition_labels/d.jpg", "shows": "Dutch/French nutrition table of a pot",
         "truth": {"protein": [{"amount_g": 3.7, "basis": "100g"}]}},
        {"file": "nutrition_labels/missing.jpg", "truth": {"protein": [{"amount_g": 1, "basis": "serving"}]}},
    ]))
    cases = photo_cases(tmp_path)
    assert [case.name for case in cases] == ["a", "b", "d"]
    assert cases[0].facts == (ExpectedFact(3.7, "per 100 g"), ExpectedFact(4.6, "per package"))
    assert [case.group for case in cases] == ["? / nutrition_table", "en / shelf", "nl+fr / nutrition_table"]


def test_a_photo_is_right_only_when_every_figure_is_stated_on_its_basis() -> None:
    case = PhotoCase("x.jpg", "q", facts=(ExpectedFact(5.5, "per 100 g"), ExpectedFact(1.2, "per serving")))
    assert photo_correct("", [_fact(5.5, "per 100 g"), _fact(1.25, "per serving")], case)   # within 0.1 g
    assert not photo_correct("", [_fact(5.5, "per 100 g")], case)                          # one basis missing
    assert not photo_correct("", [_fact(5.5, "per serving"), _fact(1.2, "per 100 g")], case)   # bases swapped
    assert not photo_correct("", [_fact(5.5, "per 100 g"), _fact(1.2, "per serving", "fat")], case)
    assert not photo_correct("", [_fact(5.5, "per 100 g"), _fact(1.2, "per serving"), _fact(9.0, "per 100 g")],
                             case)                                                           # a contradiction
    big = PhotoCase("y.jpg", "q", facts=(ExpectedFact(18.0, "per 100 g"),))
    assert photo_correct("", [_fact(18.3, "per 100 g")], big)                              # within 2%
    assert not photo_correct("", [_fact(18.5, "per 100 g")], big)


def test_text_cases_are_scored_by_their_fragments() -> None:
    case = PhotoCase("tag.jpg", "read this", ("BISCUIT", "3178530425161"))
    assert photo_correct("BISCUIT CUILLERE\n3178530425161", [], case)
    assert not photo_correct("BISCUIT", [], case)


def test_the_table_breaks_accuracy_down_by_language_and_kind() -> None:
    en = PhotoCase("a.jpg", "q", language="en", kind="nutrition_table")
    fr = PhotoCase("b.jpg", "q", language="fr", kind="nutrition_table")
    table = format_photo_table([PhotoScore("instant", en, True), PhotoScore("instant", fr, False),
                                PhotoScore("thinking", en, True), PhotoScore("thinking", fr, True)])
    assert "| instant | 1/2 (50%) | 1/1 (100%) | 0/1 (0%) |" in table
    assert "| thinking | 2/2 (100%) | 1/1 (100%) | 1/1 (100%) |" in table
