"""The Contemplating benchmark's report: its section replaces itself in PERFORMANCE.md and leaves the rest."""

from __future__ import annotations

from eyeline.tools.bench_modes import HEADING, render_section, replace_section


def test_the_section_states_the_ratio_and_replaces_only_itself() -> None:
    section = render_section([1.0, 1.2, 1.1], [2.0, 2.2, 2.4], 4, "Peak Protein Bar ...", 2)
    assert "**0.50x**" in section and "4 sub-agents" in section
    document = f"# Performance\n\n## Round trip\n\nkeep me\n\n{HEADING}\n\nold figures\n\n## Speech\n\nme too\n"
    updated = replace_section(document, section)
    assert "old figures" not in updated and "keep me" in updated and "me too" in updated
    assert updated.count(HEADING) == 1
    assert replace_section("# Performance\n", section).endswith(section)
