"""Benchmark: Contemplating's sub-agents in parallel worker processes vs the same agents one after another.

Both runs use warm worker processes (spawned and their OCR engines loaded before timing), one OCR thread per
engine, the same rendered shelf frame and the same earlier keyframes. Run it with
``python -m eyeline.tools.bench_modes``: it prints the section and rewrites it in ``docs/PERFORMANCE.md``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from eyeline.cloud.knowledge import demo_pack
from eyeline.cloud.model import Image, Mode
from eyeline.cloud.perception.ocr import OcrEngine, TextLine
from eyeline.cloud.skills.base import Keyframe, SkillContext
from eyeline.cloud.skills.shelf.agents import AgentPool, agent_jobs, contemplate, run_agent
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.tools.sections import replace_headed

HEADING = "## Contemplating: parallel sub-agents vs one after another"
QUESTION = "which of these has the most protein?"


class SessionLines:
    """What a session's reader holds for a frame its earlier passes read: the lines, at no cost."""

    def __init__(self, image: Image, lines: tuple[TextLine, ...]) -> None:
        self._image, self._lines = image, lines

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        if image_bgr is not self._image:
            raise AssertionError("sub-agents read every other image in their worker processes")
        return self._lines


async def shelf_context(seed: int = 3) -> SkillContext:
    scene = make_shelf_scene(seed)
    image = np.ascontiguousarray(render_shelf_frame(scene, 0.0, 640, 360)[0])
    recent = tuple(Keyframe(seq, np.ascontiguousarray(render_shelf_frame(scene, 0.25 * seq, 640, 360)[0]))
                   for seq in (2, 1))
    lines = await asyncio.to_thread(OcrEngine().read, image)   # the Instant and Thinking passes' reading
    return SkillContext(question=QUESTION, mode=Mode.CONTEMPLATING, image=image, frame_seq=3,
                        ocr=SessionLines(image, lines), recent=recent)


async def measure(rounds: int = 3, workers: int = 2) -> tuple[list[float], list[float], int, str]:
    """Wall seconds per round: parallel (``workers`` processes) and sequential (one process), agents, answer."""
    ctx = await shelf_context()
    catalog = demo_pack().products
    jobs = agent_jobs(ctx, catalog, await ctx.ocr.read(ctx.image))
    parallel_pool, serial_pool = AgentPool(workers), AgentPool(1)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.gather(parallel_pool.warm_up(), serial_pool.warm_up())
        parallel, sequential, answer = [], [], ""
        for _ in range(rounds):
            started = time.perf_counter()
            answer = (await contemplate(ctx, catalog, parallel_pool.executor)).answer
            parallel.append(time.perf_counter() - started)
            started = time.perf_counter()
            for job in jobs:
                await loop.run_in_executor(serial_pool.executor, run_agent, job)
            sequential.append(time.perf_counter() - started)
    finally:
        parallel_pool.close()
        serial_pool.close()
    return parallel, sequential, len(jobs), answer


def render_section(parallel: list[float], sequential: list[float], agents: int, answer: str, workers: int) -> str:
    par, seq = statistics.median(parallel), statistics.median(sequential)
    return "\n".join([
        HEADING, "",
        f"Command: `eyeline bench` (or `python -m eyeline.tools.bench_modes` for this section alone) on "
        f"{os.cpu_count()} cores; {agents} sub-agents "
        f"(frame, frame at 1.5x, two earlier views fused, the catalog by the names the earlier passes read) "
        f"on one rendered 640x360 shelf frame, "
        f"{len(parallel)} rounds, medians. Worker processes are warm (spawned, OCR loaded) before timing. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (parallel speed-up needs idle cores).", "",
        "| run | wall s (median) | rounds |", "|---|---|---|",
        f"| parallel, {workers} worker processes | {par:.2f} | {', '.join(f'{v:.2f}' for v in parallel)} |",
        f"| one after another, 1 process | {seq:.2f} | {', '.join(f'{v:.2f}' for v in sequential)} |", "",
        f"Ratio parallel / sequential: **{par / seq:.2f}x** (target: under 0.7x).", "",
        f"Orchestrated answer: {answer}", "",
    ])


def replace_section(document: str, section: str) -> str:
    """``document`` with this benchmark's section replaced by ``section``, or ``section`` added at the end."""
    return replace_headed(document, HEADING, section)


async def contemplating_section(workers: int = 2) -> str:
    parallel, sequential, agents, answer = await measure(workers=workers)
    return render_section(parallel, sequential, agents, answer, workers)


async def main(output: Path = Path("docs/PERFORMANCE.md"), workers: int = 2) -> int:
    section = await contemplating_section(workers)
    print(section)
    await asyncio.to_thread(_update, output, section)
    return 0


def _update(output: Path, section: str) -> None:
    document = output.read_text() if output.exists() else "# Performance\n"
    output.write_text(replace_section(document, section))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
