"""The golden corpus: small recorded sessions with known answers, the conformance suite for transports.

Each session is a few rendered frames with their exact ground truth, the frames marked as sent, and one
question pinned to one of them; ``expected.json`` holds the answer the ground truth implies. Shelf sessions
ask which product has the most protein (the answer names it, the ranking lists those fully in view); repair
sessions show the synthetic espresso machine and ask for one step of the shipped demo kit (the answer is that
step, its arrow on the step's target component, whose true place every frame's truth records).
Everything is rendered, timed on a virtual clock and written by the project's own recorder, so the corpus
regenerates exactly:

    python -m eyeline.tools.corpus tests/golden
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

from eyeline.devices.base import CapturedFrame
from eyeline.devices.espresso import EspressoTruth, make_espresso_scene, render_espresso_frame
from eyeline.devices.synthetic import FULLY_VISIBLE, ShelfTruth, SyntheticShelfSource
from eyeline.edge.frames.sampler import Encoding, KeyframeChoice
from eyeline.edge.recording.recorder import RecorderOptions, SessionRecorder
from eyeline.edge.transport.wire import QueryOut
from eyeline.protos.clock import VirtualClock
from eyeline.tools.demo_kit import STEPS

QUESTION = "which of these has the most protein?"
EXPECTED_FILE = "expected.json"
GOLDEN_ENCODING = Encoding(max_width=0, quality=85)   # how a replay sends each golden frame
SHELF_SKILL, REPAIR_SKILL = "protein-ranking", "repair"


@dataclass(frozen=True, slots=True)
class GoldenSpec:
    name: str
    seed: int
    width: int = 960
    height: int = 540
    frames: int = 2
    fps: float = 2.0
    asked_about: int = 1            # the frame the question is pinned to
    scene: str = "shelf"            # "shelf" or "espresso"
    step: int = 0                   # espresso: the 1-based step of the demo kit asked for
    jpeg_quality: int = 92

    @property
    def question(self) -> str:
        return QUESTION if self.scene == "shelf" else f"show me step {self.step} of cleaning this machine"


@dataclass(frozen=True, slots=True)
class GoldenExpectation:
    file: str
    skill: str
    question: str
    frame_seq: int
    answer_names: str = ""          # shelf: the product the answer must name
    ranking: tuple[str, ...] = ()   # shelf: the fully visible products, most protein first
    step: int = 0                   # repair: the step the answer must give (1-based)
    target: str = ""                # repair: the component its arrow must point at


SESSIONS: tuple[GoldenSpec, ...] = (
    GoldenSpec("shelf-seed1", seed=1),
    GoldenSpec("shelf-seed4", seed=4),
    GoldenSpec("repair-seed6", seed=6, scene="espresso", step=3, jpeg_quality=85),
)
"""The shelf sessions, and a repair session asking for step 3 (the steam wand: a narrow target)."""


async def record_golden(spec: GoldenSpec, folder: Path) -> GoldenExpectation:
    clock = VirtualClock(0)
    recorder = SessionRecorder(folder / f"{spec.name}.mcap",
                               RecorderOptions(image_format="jpeg", jpeg_quality=spec.jpeg_quality), clock=clock,
                               info={"profile": "webcam", "device": _device(spec), "question": spec.question})
    recorder.open()
    truth: object = None
    try:
        async for frame in _frames(spec, clock):
            await recorder.record_frame(frame)
            recorder.record_sent(KeyframeChoice(frame, "golden", GOLDEN_ENCODING), 0)
            if frame.seq == spec.asked_about:
                truth = frame.truth
                await recorder.record_query(QueryOut("q1", spec.question, frame_seq=frame.seq,
                                                     asked_ns=frame.capture_ns))
    finally:
        await recorder.aclose()
    assert truth is not None, f"{spec.name} never reached frame {spec.asked_about}"
    return _expectation(spec, truth)


def _device(spec: GoldenSpec) -> str:
    return f"synthetic:shelf?seed={spec.seed}" if spec.scene == "shelf" else f"synthetic espresso machine {spec.seed}"


async def _frames(spec: GoldenSpec, clock: VirtualClock) -> AsyncIterator[CapturedFrame]:
    if spec.scene == "shelf":
        async for frame in SyntheticShelfSource(width=spec.width, height=spec.height, fps=spec.fps,
                                                frames=spec.frames, clock=clock, seed=spec.seed):
            yield frame
        return
    scene, previous = make_espresso_scene(spec.seed), None
    for seq in range(spec.frames):
        image, previous = await asyncio.to_thread(render_espresso_frame, scene, seq / spec.fps, spec.width,
                                                  spec.height, 1.0, previous)
        capture_ns = round(seq * 1e9 / spec.fps)
        await clock.sleep_until(capture_ns)
        yield CapturedFrame(seq=seq, capture_ns=capture_ns, image=image, truth=previous)


def _expectation(spec: GoldenSpec, truth: object) -> GoldenExpectation:
    file = f"{spec.name}.mcap"
    if isinstance(truth, EspressoTruth):
        return GoldenExpectation(file, REPAIR_SKILL, spec.question, spec.asked_about, step=spec.step,
                                 target=STEPS[spec.step - 1]["target"])
    assert isinstance(truth, ShelfTruth), f"{spec.name}: frame {spec.asked_about} has no ground truth"
    visible = sorted((p.product for p in truth.products if p.visible_fraction >= FULLY_VISIBLE),
                     key=lambda product: -product.protein_g)
    return GoldenExpectation(file, SHELF_SKILL, spec.question, spec.asked_about, truth.best_product().display_name,
                             tuple(p.display_name for p in visible))


async def write_corpus(folder: Path) -> list[GoldenExpectation]:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    expectations = [await record_golden(spec, folder) for spec in SESSIONS]
    text = json.dumps([asdict(e) for e in expectations], indent=2) + "\n"
    await asyncio.to_thread((folder / EXPECTED_FILE).write_text, text)
    return expectations


def load_expectations(folder: Path) -> list[GoldenExpectation]:
    rows = json.loads((folder / EXPECTED_FILE).read_text())
    return [GoldenExpectation(**{**row, "ranking": tuple(row.get("ranking", ()))}) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    for expectation in asyncio.run(write_corpus(args.folder)):
        answer = expectation.answer_names or f"step {expectation.step}, arrow on the {expectation.target}"
        print(f"{expectation.file}: {expectation.question!r} -> {answer}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
