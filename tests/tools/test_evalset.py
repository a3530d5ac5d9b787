"""The evaluation set: deterministic scenes with the difficulty knobs, scoring, and the per-mode table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.synthetic import LabelLayout, ShelfTruth
from eyeline.edge.errors import EdgeError
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.tools.evalset import (
    DEFAULT_REPAIR_CASES,
    DEFAULT_SHELF_CASES,
    SECTION_END,
    SECTION_START,
    CaseResult,
    EvalSetReport,
    first_named,
    format_table,
    kept_section,
    performance_section,
    render_case,
    repair_cases,
    run_case,
    run_evalset,
    sessions_released,
    shelf_cases,
    update_performance,
)
from tests.integration.helpers import hello


def test_the_full_set_is_large_enough_and_deterministic() -> None:
    shelves, repairs = shelf_cases(), repair_cases()
    assert len(shelves) == DEFAULT_SHELF_CASES >= 200 and len(repairs) == DEFAULT_REPAIR_CASES >= 50
    assert shelves == shelf_cases() and repairs == repair_cases()
    image_a, _ = render_case(shelves[17])
    image_b, _ = render_case(shelf_cases(18)[17])
    assert np.array_equal(image_a, image_b)


def test_every_difficulty_knob_occurs_and_a_hard_subset_exists() -> None:
    shelves = shelf_cases()
    effects = [case.effects for case in shelves]
    assert any(e.blur_sigma > 0 for e in effects) and any(e.glare > 0 for e in effects)
    assert any(e.perspective_deg != 0 for e in effects) and any(e.zoom < 1 for e in effects)
    layouts = {layout for case in shelves for layout in case.layouts}
    assert set(LabelLayout) <= layouts
    hard = sum(case.hard for case in shelves)
    assert 0.3 * len(shelves) < hard < 0.9 * len(shelves)
    assert {case.step for case in repair_cases()} == set(range(1, 8))


def test_a_shelf_case_renders_with_exact_truth_of_its_best_product() -> None:
    case = shelf_cases(5)[4]
    image, truth = render_case(case)
    assert isinstance(truth, ShelfTruth) and image.shape == (720, 1280, 3)
    assert truth.best_product() in [p.product for p in truth.products]


def test_the_first_product_named_is_what_counts() -> None:
    names = ["Peak Protein Bar", "Atlas Jerky Bites"]
    assert first_named("Atlas Jerky Bites has the most; then Peak Protein Bar", names) == "Atlas Jerky Bites"
    assert first_named("I could not read any amount", names) is None


def test_the_table_reports_each_mode_and_the_section_replaces_only_itself(tmp_path: Path) -> None:
    report = EvalSetReport(results=[
        CaseResult("shelf", "shelf-000", "instant", False, True, 5, 900.0, "a"),
        CaseResult("shelf", "shelf-001", "instant", True, False, 6, 1100.0, "b"),
        CaseResult("repair", "repair-000", "instant", True, True, 4, 700.0, "c", arrow_error=0.004),
        CaseResult("shelf", "shelf-000", "thinking", False, True, 8, 2000.0, "a"),
    ], shelf_cases=2, repair_cases=1)
    table = format_table(report)
    assert "| instant | 50% | 0% | 100% | 0.40% of diagonal | — | 5 | 900 | 3 |" in table
    assert "| thinking | 100% |" in table
    performance = tmp_path / "PERFORMANCE.md"
    performance.write_text("# Performance\n\n## Round trip\nkeep me\n")
    update_performance(performance, performance_section(report, "eyeline eval --shelf 2 --repair 1"))
    update_performance(performance, performance_section(report, "eyeline eval --shelf 2 --repair 1"))
    text = performance.read_text()
    assert "keep me" in text and text.count(SECTION_START) == 1 and text.count(SECTION_END) == 1
    assert "--shelf 2 --repair 1" in text and "- instant: shelf-001" in text and "subset" in text
    assert kept_section(performance).strip() == performance_section(report, "eyeline eval --shelf 2 --repair 1")
    assert kept_section(tmp_path / "absent.md") == ""


@pytest.mark.slow
async def test_a_small_run_goes_through_the_cloud_and_scores_each_kind() -> None:
    report = await run_evalset(modes=["instant"], shelf=1, repair=1, photos=None)
    assert [(r.kind, r.mode) for r in report.results] == [("shelf", "instant"), ("repair", "instant")]
    shelf, repair = report.results
    assert shelf.correct, shelf.answer
    assert repair.correct and repair.arrow_error is not None and repair.arrow_error < 0.05
    assert all(r.steps > 0 and r.ms > 0 for r in report.results)


async def test_a_failing_case_is_scored_wrong_and_waits_for_its_session_to_be_released(
        cloud: CloudServer, signer: TokenSigner) -> None:
    uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("eval")))

    async def fails() -> CaseResult:
        await uplink.aclose()   # the case's edge leaves, then the case fails
        raise EdgeError("no answer within 120 s")

    result = await run_case(cloud, "shelf", "shelf-007", "contemplating", fails())
    assert (result.kind, result.name, result.correct) == ("shelf", "shelf-007", False)
    assert result.answer == "failed: no answer within 120 s"
    assert not cloud.sessions.active()   # released before the next case could open


async def test_waiting_for_release_gives_up_on_a_session_still_held(cloud: CloudServer, signer: TokenSigner) -> None:
    uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("eval")))
    try:
        assert not await sessions_released(cloud, within_s=0.2)
    finally:
        await uplink.aclose()
    assert await sessions_released(cloud, within_s=10.0)
