"""The golden corpus: small recorded sessions with known answers, the conformance suite for transports.

Each session is a few frames of the synthetic shelf with their exact ground truth, the frames marked as
sent, and one question pinned to one of them; ``expected.json`` names the answer the ground truth implies.
Everything is rendered, timed on a virtual clock and written by the project's own recorder, so the corpus
regenerates exactly:

    python -m eyeline.tools.corpus tests/golden
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from eyeline.devices.clock import VirtualClock
from eyeline.devices.synthetic import FULLY_VISIBLE, ShelfTruth, SyntheticShelfSource
from eyeline.edge.record import RecorderOptions, SessionRecorder
from eyeline.edge.sampler import Encoding, KeyframeChoice
from eyeline.edge.wire import QueryOut

QUESTION = "which of these has the most protein?"
EXPECTED_FILE = "expected.json"
GOLDEN_ENCODING = Encoding(max_width=0, quality=85)   # how a replay sends each golden frame


@dataclass(frozen=True, slots=True)
class GoldenSpec:
    name: str
    seed: int
    width: int = 960
    height: int = 540
    frames: int = 2
    fps: float = 2.0
    asked_about: int = 1            # the frame the question is pinned to


@dataclass(frozen=True, slots=True)
class GoldenExpectation:
    file: str
    skill: str
    question: str
    frame_seq: int
    answer_names: str               # the product the answer must name
    ranking: tuple[str, ...]        # the fully visible products, most protein first


SESSIONS: tuple[GoldenSpec, ...] = (GoldenSpec("shelf-seed1", seed=1), GoldenSpec("shelf-seed4", seed=4))
"""The shelf sessions. The corpus has no repair sessions: the cloud has no repair skill to answer them."""


async def record_golden(spec: GoldenSpec, folder: Path) -> GoldenExpectation:
    clock = VirtualClock(0)
    source = SyntheticShelfSource(width=spec.width, height=spec.height, fps=spec.fps, frames=spec.frames,
                                  clock=clock, seed=spec.seed)
    recorder = SessionRecorder(folder / f"{spec.name}.mcap", RecorderOptions(image_format="jpeg", jpeg_quality=92),
                               clock=clock, info={"profile": "webcam", "device": f"synthetic:shelf?seed={spec.seed}",
                                                  "question": QUESTION})
    recorder.open()
    truth: ShelfTruth | None = None
    try:
        async for frame in source:
            await recorder.record_frame(frame)
            recorder.record_sent(KeyframeChoice(frame, "golden", GOLDEN_ENCODING), 0)
            if frame.seq == spec.asked_about:
                truth = frame.truth
                await recorder.record_query(QueryOut("q1", QUESTION, frame_seq=frame.seq, asked_ns=frame.capture_ns))
    finally:
        await recorder.aclose()
    assert truth is not None, f"{spec.name} never reached frame {spec.asked_about}"
    return _expectation(spec, truth)


def _expectation(spec: GoldenSpec, truth: ShelfTruth) -> GoldenExpectation:
    visible = sorted((p.product for p in truth.products if p.visible_fraction >= FULLY_VISIBLE),
                     key=lambda product: -product.protein_g)
    return GoldenExpectation(f"{spec.name}.mcap", "protein-ranking", QUESTION, spec.asked_about,
                             truth.best_product().display_name, tuple(p.display_name for p in visible))


async def write_corpus(folder: Path) -> list[GoldenExpectation]:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    expectations = [await record_golden(spec, folder) for spec in SESSIONS]
    text = json.dumps([asdict(e) for e in expectations], indent=2) + "\n"
    await asyncio.to_thread((folder / EXPECTED_FILE).write_text, text)
    return expectations


def load_expectations(folder: Path) -> list[GoldenExpectation]:
    rows = json.loads((folder / EXPECTED_FILE).read_text())
    return [GoldenExpectation(**{**row, "ranking": tuple(row["ranking"])}) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    for expectation in asyncio.run(write_corpus(args.folder)):
        print(f"{expectation.file}: {expectation.question!r} -> {expectation.answer_names}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
