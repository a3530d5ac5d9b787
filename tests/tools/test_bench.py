"""The benchmark harness keeps working; its figures are not asserted (they belong in docs/PERFORMANCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.tools.bench import run_benchmarks
from eyeline.tools.bench_roundtrip import Latencies, render_report


def test_percentiles_and_ratios_in_the_report() -> None:
    eyeline = Latencies("eyeline", tuple(float(v) for v in range(1, 101)))
    baseline = Latencies("baseline", tuple(0.5 * v for v in range(1, 101)))
    assert eyeline.p50 == 50.5
    assert eyeline.p95 == pytest.approx(95.95)
    report = render_report(eyeline, baseline, 100, 30.0, 80.0, "eyeline bench --frames 100")
    assert "| eyeline | 100 | 50.50 | 95.95 | 2.00x | 2.00x |" in report
    assert "Command: `eyeline bench --frames 100`" in report


@pytest.mark.slow
async def test_a_short_run_measures_every_frame_and_writes_the_report(tmp_path: Path) -> None:
    output = tmp_path / "PERFORMANCE.md"
    assert await run_benchmarks(output, frames=12, fps=30.0) == 0
    text = output.read_text()
    assert "| eyeline frame -> overlay (no-op skill) | 12 |" in text
    assert "| baseline: bare gRPC echo of the same JPEG | 12 |" in text
