"""The edge benchmarks' measurements hold what they claim (figures themselves go to docs/PERFORMANCE.md)."""

from __future__ import annotations

from eyeline.tools.bench_edge import (
    AnchorRow,
    Clip,
    CostRow,
    EdgeResults,
    UplinkRow,
    _play,
    anchoring,
    render_edge_report,
    shelf_policies,
)


def test_anchored_badges_stay_on_their_products_under_half_a_second_of_cloud_delay() -> None:
    (row,) = anchoring([Clip(seed=0, seconds=3.0, motion_scale=1.5)], (500,))
    assert row.samples > 50
    assert row.unanchored_p50 > 10.0, "the head moved enough for the test to mean something"
    assert row.anchored_p50 <= row.unanchored_p50 / 5
    assert row.anchored_p95 < 5.0


def test_the_scene_sampler_sends_far_fewer_bytes_and_answers_each_question() -> None:
    played = _play(Clip(seed=1, seconds=3.0), shelf_policies(1500), (1.0, 2.0))
    every, scene = played["every frame, JPEG q80"], played["scene sampler"]
    assert every.frames_sent == 90
    assert scene.bytes_sent * 10 <= every.bytes_sent
    assert len(scene.answered) == len(every.answered) == 2


def test_the_report_has_every_section_and_the_command() -> None:
    results = EdgeResults(
        [AnchorRow(500, 10, 1.0, 2.0, 50.0, 90.0)],
        [UplinkRow("every frame, JPEG q80", 8.0, 240, 1e8, 4, 4, 900.0),
         UplinkRow("scene sampler", 8.0, 9, 5e6, 4, 4, 900.0)],
        [UplinkRow("timer, 1 fps, JPEG q80", 8.0, 8, 3e6, 4, 1, 100.0)],
        [CostRow("per displayed 720p frame: sampler + tracking + rendering", 10, 5.0, 6.0)],
        ["a"], ["b"], ["c"], (1.5,))
    report = render_edge_report(results, "eyeline bench")
    assert "| 500 | 10 | 1.00 | 2.00 | 50.0 | 90.0 | 0.020 |" in report
    assert "| scene sampler | 9 | 5.00 | 20.0x | 4/4 (100%) | 900 |" in report
    assert "| timer, 1 fps, JPEG q80 | 8 | 3.00 | nanx | 1/4 (25%) | 100 |" in report
    assert "Command: `eyeline bench`" in report
