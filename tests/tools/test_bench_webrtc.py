"""The WebRTC section of the benchmark report; its figures are not asserted (they belong in docs/PERFORMANCE.md)."""

from __future__ import annotations

from eyeline.tools.bench_roundtrip import Latencies
from eyeline.tools.bench_webrtc import render_section


def test_the_section_compares_webrtc_with_grpc_of_the_same_run() -> None:
    webrtc = Latencies("webrtc", tuple(float(v) for v in range(1, 101)))
    grpc = Latencies("grpc", tuple(0.25 * v for v in range(1, 101)))
    section = render_section(webrtc, grpc, 100, 30.0)
    assert "| webrtc | 100 | 50.50 | 95.95 | 4.00x | 4.00x |" in section
    assert "| grpc | 100 | 12.62 | 23.99 | 1.00x | 1.00x |" in section
