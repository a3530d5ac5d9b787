"""The OCR-runtime benchmark's report: ratios against today's path and the text comparison, and its section."""

from __future__ import annotations

import numpy as np

from eyeline.cloud.perception.ocr_runtime import TODAY, OcrRuntime
from eyeline.tools.bench_ocr import HEADING, Result, render, replace_section


def _result(runtime: OcrRuntime, ms: list[float], texts: dict[str, list[str]]) -> Result:
    return Result(runtime, ms=ms, texts=texts)


def test_the_report_gives_each_runtime_its_ratio_to_today_and_names_text_that_changed() -> None:
    named = {"shelf": np.zeros((2, 2, 3), np.uint8), "photo": np.zeros((2, 2, 3), np.uint8)}
    today = _result(TODAY, [100.0, 200.0, 300.0], {"shelf": ["Oats 2.49"], "photo": ["Protein 12 g"]})
    faster = _result(OcrRuntime("fast"), [50.0, 100.0, 150.0], {"shelf": ["Oats 2.49"], "photo": ["Protein 12 g"]})
    wrong = _result(OcrRuntime("wrong"), [20.0, 40.0, 60.0], {"shelf": ["Oats 2.49"], "photo": ["Protein 1 g"]})

    section = render([today, faster, wrong], named, rounds=3, load=(1.5, 1.0, 0.5))

    assert section.startswith(HEADING)
    assert "| fast | 100 |" in section and "| 0.50 | identical |" in section
    assert "| wrong | 40 |" in section and "| 0.20 | differs on 1/2 frames (2 lines) |" in section
    assert "1.50 / 1.00 / 0.50" in section


def test_a_new_run_replaces_the_last_ocr_section_and_keeps_the_others() -> None:
    document = f"# Performance\n\n## Other\nkept\n\n{HEADING}\n\nold table\n\n## Later\nalso kept\n"

    updated = replace_section(document, f"{HEADING}\n\nnew table\n")

    assert "new table" in updated and "old table" not in updated
    assert "## Other\nkept" in updated and "## Later\nalso kept" in updated
