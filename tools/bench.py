"""The benchmark harness: ``eyeline bench`` prints a table and writes ``docs/PERFORMANCE.md``.

Each section measures Eyeline against a baseline run in the same process: the round trip over gRPC
(``bench_roundtrip``) and WebRTC (``bench_webrtc``), speech (``bench_speech``), the edge's anchoring, sampling
and perception (``bench_edge``), Contemplating's parallel sub-agents (``bench_modes``); the per-mode accuracy
table, which ``eyeline eval --performance`` writes, is kept as it is.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from eyeline.tools.bench_roundtrip import render_report, run_roundtrip


def _has_webrtc() -> bool:
    import importlib.util

    return importlib.util.find_spec("aiortc") is not None and importlib.util.find_spec("aiohttp") is not None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def run_benchmarks(output: Path, *, frames: int, fps: float, speech: bool = False, edge: bool = False,
                         modes: bool = False, answer_rounds: int = 0) -> int:
    eyeline, baseline, payload_kib = await run_roundtrip(frames, fps)
    command = f"eyeline bench --frames {frames} --fps {fps:g}"
    report = render_report(eyeline, baseline, frames, fps, payload_kib, command)
    if _has_webrtc():
        from eyeline.tools.bench_webrtc import webrtc_section

        report += "\n" + await webrtc_section(frames, fps)
    if speech:
        from eyeline.tools.bench_speech import speech_section

        report += "\n" + await speech_section(command)
    if edge:
        from eyeline.tools.bench_edge import render_edge_report, run_edge_benchmarks

        report += render_edge_report(await run_edge_benchmarks(), command)
    if modes:
        from eyeline.tools.bench_modes import contemplating_section

        report += "\n" + await contemplating_section()
    if answer_rounds > 0:
        from eyeline.tools.bench_answers import answers_section

        report += "\n" + await answers_section(answer_rounds)
    from eyeline.tools.evalset import kept_section

    # The per-mode accuracy table takes many minutes of OCR; `eyeline eval --performance` writes it, and a
    # benchmark run keeps it rather than dropping it.
    report += await asyncio.to_thread(kept_section, output)
    from eyeline.tools.bench_capacity import kept_section as kept_capacity

    report += await asyncio.to_thread(kept_capacity, output)   # `eyeline bench capacity` takes minutes too
    await asyncio.to_thread(_write, output, report)
    print(report)
    return 0
