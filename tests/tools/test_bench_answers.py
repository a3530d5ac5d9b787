"""The answers section of ``eyeline bench``: its table from samples, and its place in PERFORMANCE.md."""

from __future__ import annotations

from eyeline.tools.bench_answers import HEADING, Samples, render_answers, replace_section


def samples(name: str, first: list[float], final: list[float]) -> Samples:
    return Samples(name, first, final, {"ocr": [400_000, 600_000], "queue": [1000, 3000]}, [True, True])


def test_the_section_reports_both_paths_and_their_ratios() -> None:
    ours = samples("ours", [40.0, 60.0], [900.0, 1100.0])
    theirs = samples("baseline", [1000.0, 1000.0], [1000.0, 1000.0])
    text = render_answers(ours, theirs, (3.5, 2.0, 1.0), 2)
    assert text.startswith(HEADING)
    assert "| ours | 50 |" in text and "| 1000 |" in text and "2/2 |" in text
    assert "| 2 / 0 / 500 / 0 / 0 |" in text                     # stage medians in ms, in order
    assert "(p50): 0.05" in text and "(p50): 1.00" in text and "3.50 / 2.00 / 1.00" in text


def test_the_section_splits_the_ocr_stage_and_shows_both_trips() -> None:
    ours = samples("ours", [40.0, 60.0], [900.0, 1100.0])
    ours.parts_us = {"registration": [50_000, 70_000], "detection": [200_000, 300_000], "recognition": [90_000],
                     "uplink": [1500, 2500], "return": [800, 1200]}
    text = render_answers(ours, samples("baseline", [1000.0], [1000.0]), (1.0, 1.0, 1.0), 2)
    assert "| registration | detection | orientation | recognition | segmentation | uplink | return |" in text
    assert "| ours | 60.0 | 250.0 | 0.0 | 90.0 | 0.0 | 2.0 | 1.0 |" in text


def test_the_section_replaces_its_earlier_self_and_nothing_else() -> None:
    document = f"# Performance\n\n## Round trip\n\nkept\n\n{HEADING}\n\nold numbers\n\n## Modes\n\nalso kept\n"
    updated = replace_section(document, f"{HEADING}\n\nnew numbers\n")
    assert "old numbers" not in updated and "new numbers" in updated
    assert updated.index("kept") < updated.index("new numbers") < updated.index("## Modes")
    assert updated.count(HEADING) == 1 and "also kept" in updated
    added = replace_section("# Performance\n\n## Round trip\n\nkept\n", f"{HEADING}\n\nfirst\n")
    assert added.endswith(f"{HEADING}\n\nfirst\n") and "kept" in added
