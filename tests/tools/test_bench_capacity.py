"""The capacity harness: real edges over real gRPC against a real cloud; its figures are not asserted."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudConfig
from eyeline.tools.bench_capacity import (
    END,
    HEADING,
    STAGES,
    START,
    BackendResult,
    CapacityBenchError,
    Load,
    Progress,
    StepResult,
    backends_of,
    cloud_config,
    kept_section,
    render_section,
    replace_section,
    write_capacity_section,
)


def step(sessions: int, latencies: list[float], *, sent: int = 10, kept: int = 10, failed: int = 0) -> StepResult:
    return StepResult(sessions, latencies_ms=latencies, asked=len(latencies) + failed,
                      errors={"overloaded": failed} if failed else {}, keyframes_sent=sent, keyframes_kept=kept,
                      stages_us={"ocr": [500_000, 700_000]})


def test_capacity_is_the_largest_step_that_passed_before_the_first_that_failed() -> None:
    result = BackendResult("inprocess", [step(1, [400.0, 500.0]), step(2, [900.0, 1200.0]),
                                         step(4, [1500.0, 2600.0, 2700.0])])
    assert result.capacity(2000.0) == 2
    assert not step(1, [100.0], kept=9).passed(2000.0)          # a keyframe the cloud never kept
    assert not step(1, [100.0], failed=1).passed(2000.0)        # a question answered with an error
    unanswered = step(1, [100.0])
    unanswered.asked += 1
    assert unanswered.unanswered == 1 and not unanswered.passed(2000.0)
    assert math.isinf(StepResult(1).percentile(95)) and BackendResult("ray", [step(1, [], failed=1)]).capacity(2e3) == 0


def test_the_section_has_one_row_per_step_and_replaces_its_earlier_self() -> None:
    load = Load(seconds=3.0)
    text = render_section([BackendResult("inprocess", [step(1, [400.0, 600.0]), step(2, [3000.0, 3100.0])])], load,
                          "eyeline bench capacity --seconds 3")
    assert text.startswith(HEADING) and "Capacity: **1 sessions**" in text
    assert "| 1 | 2 / 2 | 500 |" in text and "| 10 / 10 | 0 / 0 / 600 / 0 / 0 |" in text
    assert "| 1 | 1 / 2 (errors: 1 overloaded) |" in render_section(
        [BackendResult("inprocess", [step(1, [400.0], failed=1)])], load, "")
    assert "| 0 / 0 / 600 / 0 / 0 | - |" in text                             # no ocr parts reported
    parted = step(1, [400.0])
    parted.ocr_parts_us = {"detection": [300_000, 100_000], "recognition": [200_000]}
    assert parted.ocr_parts_text() == "detection 200 / recognition 100"      # per answer: 2 answers read
    assert "goes mostly to ocr: 600 of 600 ms" in text and "saturate the reader at about 6.7 edges" in text
    assert "| **no** |" in text and "`eyeline bench capacity --seconds 3`" in text
    added = replace_section("# Performance\n\n## Round trip\n\nkept\n", "## Capacity\n\nold\n")
    assert added.endswith(f"{START}\n## Capacity\n\nold\n{END}\n") and "kept" in added
    updated = replace_section(added + "\n## Modes\n\nalso kept\n", text)
    assert "old" not in updated and updated.count(HEADING) == 1 and updated.count(START) == 1
    assert updated.index("kept") < updated.index(HEADING) < updated.index("## Modes") and "also kept" in updated


def test_a_full_bench_run_keeps_the_capacity_section(tmp_path: Path) -> None:
    path = tmp_path / "PERFORMANCE.md"
    path.write_text(replace_section("# Performance\n\n## Round trip\n\nold figures\n", "## Capacity\n\nN=4\n"))
    assert kept_section(path) == f"\n{START}\n## Capacity\n\nN=4\n{END}\n"
    assert kept_section(tmp_path / "absent.md") == ""


def test_the_ray_backend_needs_a_cloud_that_has_it() -> None:
    assert backends_of("both") == ("inprocess", "ray") and backends_of("ray") == ("ray",)
    with pytest.raises(CapacityBenchError):
        backends_of("gpu")
    if "ray" in {f.name for f in dataclasses.fields(CloudConfig)}:
        assert dataclasses.asdict(cloud_config("ray"))["ray"] == "auto"
    else:
        with pytest.raises(CapacityBenchError, match="no Ray Serve backend"):
            cloud_config("ray")


def test_the_progress_bar_fills_as_steps_finish() -> None:
    stream = io.StringIO()
    bar = Progress(10.0, stream)
    bar.show("1 edges", 2.5)
    bar.step_done(5.0)
    bar.show("2 edges", 5.0)
    bar.close()
    assert " 25% 1 edges" in stream.getvalue() and "100% 2 edges" in stream.getvalue()


@pytest.mark.slow
async def test_a_short_ramp_over_real_grpc_measures_real_answers_and_keyframes(tmp_path: Path) -> None:
    output = tmp_path / "PERFORMANCE.md"
    output.write_text("# Performance\n\n## Round trip\n\nkept\n")
    load = Load(seconds=3.0, question_every_s=1.5, drain_s=20.0, target_p95_ms=math.inf)
    assert await write_capacity_section(output, ("inprocess",), (1, 2), load, "eyeline bench capacity") == 0
    text = output.read_text()
    assert "kept" in text and HEADING in text and "### Backend: inprocess" in text
    # The rows are the measured steps: parse them back and check the figures are real.
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert [int(row[0]) for row in rows] == [1, 2]
    for row in rows:
        answered, asked = (int(v) for v in row[1].split("(")[0].split("/"))
        assert asked >= int(row[0]) and answered > 0
        assert 0 < float(row[2]) <= float(row[3]) <= float(row[4])                 # p50 <= p95 <= p99, in ms
        kept, sent = (int(v) for v in row[5].split("/"))
        assert 0 < kept <= sent and sent >= 2 * int(row[0])
        stages = [float(v) for v in row[6].split("/")]
        assert len(stages) == len(STAGES) and stages[STAGES.index("ocr")] > 0      # questions were read
