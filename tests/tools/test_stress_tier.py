"""The stress tier: seeded degradations at graded severities, the cases drawn from clean scenes, and the table
per mode and degradation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eyeline.devices.base import DeviceSpecError
from eyeline.devices.degrade import SEVERITIES, Degradation, degrade
from eyeline.devices.synthetic import FULLY_VISIBLE
from eyeline.tools.evalset import (
    SECTION_END,
    SECTION_START,
    STRESS_SECTION_START,
    CaseResult,
    EvalSetReport,
    update_performance,
)
from eyeline.tools.stress import clean_scenes, format_stress_table, render_stress_case, stress_cases, stress_section


def test_cases_cover_every_degradation_and_severity_over_clean_scenes() -> None:
    cases = stress_cases(2)
    assert len(cases) == 2 * len(Degradation) * len(SEVERITIES)
    assert len({case.name for case in cases}) == len(cases)
    for index in clean_scenes(2):
        _, truth = render_stress_case(stress_cases(2)[0].__class__(index, Degradation.SMALL, 1))
        assert all(product.visible_fraction >= FULLY_VISIBLE for product in truth.products)


@pytest.mark.parametrize("kind", list(Degradation))
def test_each_degradation_is_seeded_and_harsher_with_severity(kind: Degradation) -> None:
    case = stress_cases(1)[0]
    clean, _ = render_stress_case(case.__class__(case.index, kind, 1))
    image = np.asarray(clean)
    first = degrade(image, kind, 2, seed=7)
    assert np.array_equal(first, degrade(image, kind, 2, seed=7))          # the same seed, the same frame
    assert first.shape == image.shape and not np.array_equal(first, image)
    with pytest.raises(DeviceSpecError):
        degrade(image, kind, 4, seed=7)


def test_the_table_has_a_column_per_degradation_and_the_total() -> None:
    results = [CaseResult("stress", f"stress-{kind.value}1-00{i}", mode, True, ok, 3, 100.0, "")
               for mode, ok in (("instant", False), ("thinking", True)) for kind in Degradation for i in range(2)]
    results.append(CaseResult("stress", "stress-rotated2-009", "instant", True, True, 3, 100.0, ""))
    table = format_stress_table(EvalSetReport(results=results)).splitlines()
    assert table[0].startswith("| mode | small | blur | rotated | glare | occluded | all stress cases")
    assert table[2].startswith("| instant | 0% | 0% | 33% | 0% | 0% | 9% (1/11)")
    assert table[3].startswith("| thinking | 100% | 100% | 100% | 100% | 100% | 100% (10/10)")


def test_the_stress_section_replaces_only_itself(tmp_path: Path) -> None:
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"# Performance\n\n{SECTION_START}\nstandard table\n{SECTION_END}\n\nafter\n")
    report = EvalSetReport(results=[CaseResult("stress", "stress-blur1-001", "instant", True, True, 3, 9.0, "")])
    for _ in range(2):
        update_performance(doc, stress_section(report, "eyeline eval --tier stress", 1))
    text = doc.read_text()
    assert text.count(STRESS_SECTION_START) == 1 and "standard table" in text and "after" in text
    assert "| instant | — | 100% | — | — | — | 100% (1/1)" in text
