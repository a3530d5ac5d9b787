"""The OCR-runtime section of ``eyeline bench``: the same real frames through each way of running PP-OCR.

Run: ``eyeline bench --only-ocr`` (or ``python -m eyeline.tools.bench_ocr``). Every configuration reads the same
frames: rendered 1280x720 shelves and real nutrition-label photos from ``../shared/data``. Configurations take
turns frame by frame, so a shared machine's load falls on all of them alike; each is compared with today's path
measured in the same run, both on time and on the text it reads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from eyeline.cloud.model import Image
from eyeline.cloud.perception.ocr import DEFAULT_RUNTIME, OcrEngine
from eyeline.cloud.perception.ocr_runtime import ARENA, ARENA_ONE_THREAD, DETECT_1280, TODAY, OcrRuntime
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.tools.sections import replace_headed

HEADING = "## OCR runtimes: the same frames through each CPU runtime of PP-OCR"
NOTES = """\
What the rows mean: recognition already runs batched (rapidocr sorts a frame's crops by aspect ratio and runs
them six to a call, each crop resized to the model's 48 px height, the resolution the text needs); one call for
all crops pads every crop to the widest, which changes what CTC decoding reads, so it is not adopted. The rapidocr
wheel ships only the float32 det, cls and rec models (no quantised model), so no quantised row: models are never
downloaded at run time. OpenVINO rows appear when the `openvino` wheel is installed (it reads the ONNX files as they
are); it is not a dependency, as its text differs from today's. The default is adopted only where its text is
identical to today's on every frame and its p50 is lower in the same run; `OcrRuntime`/`TODAY` in
`cloud/perception/ocr_runtime.py` keep every row selectable (`OcrPool(runtime=...)`)."""
PHOTOS = ("nutrition_labels/off_3596710368259_2.jpg", "nutrition_labels/natthasath_ocr_eng_01.jpg",
          "nutrition_labels/mrtig_12100867.jpg")


def candidates() -> list[OcrRuntime]:
    """Today's path first, then each change on its own, then OpenVINO where its wheel is installed."""
    runs = [
        TODAY,
        OcrRuntime("onnxruntime, own sessions, same options as today"),
        ARENA,
        OcrRuntime("onnxruntime, all crops in one recognition call (batch 64)", rec_batch=64),
        OcrRuntime("onnxruntime, extended graph optimisation", graph_level="extended"),
        OcrRuntime("onnxruntime, parallel execution mode", parallel_execution=True),
        OcrRuntime("onnxruntime, 1 intra-op thread", threads=1),
        ARENA_ONE_THREAD,
        DETECT_1280,
    ]
    try:
        import openvino  # noqa: F401
    except ImportError:
        return runs
    return [*runs, OcrRuntime("OpenVINO (CPU, latency hint)", backend="openvino")]


@dataclass(slots=True)
class Result:
    runtime: OcrRuntime
    ms: list[float] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)


def frames(data_dir: Path, shelves: int = 3) -> dict[str, Image]:
    named: dict[str, Image] = {}
    for seed in range(shelves):
        named[f"shelf seed {seed} (1280x720)"] = render_shelf_frame(make_shelf_scene(seed), 0.0, 1280, 720)[0]
    for relative in PHOTOS:
        image = cv2.imread(str(data_dir / relative))
        if image is not None:
            named[f"{Path(relative).name} ({image.shape[1]}x{image.shape[0]})"] = np.asarray(image, np.uint8)
    return named


def measure(runtimes: list[OcrRuntime], named: dict[str, Image], rounds: int) -> list[Result]:
    threads = os.cpu_count() or 1  # one worker, as the cloud runs by default
    engines = [OcrEngine(threads=threads, runtime=runtime) for runtime in runtimes]
    results = [Result(runtime) for runtime in runtimes]
    warm = named[next(iter(named))]
    for engine in engines:
        engine.read(warm)
    for index in range(rounds):
        for name, image in named.items():
            order = list(zip(engines, results, strict=True))
            for engine, result in order if index % 2 == 0 else reversed(order):
                start = time.perf_counter()
                lines = engine.read(image)
                result.ms.append((time.perf_counter() - start) * 1000)
                result.texts[name] = [line.text for line in lines]
    return results


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def _text_diff(result: Result, baseline: Result) -> str:
    changed = [name for name in baseline.texts if result.texts[name] != baseline.texts[name]]
    if not changed:
        return "identical"
    lines = sum(len(set(baseline.texts[n]) ^ set(result.texts[n])) for n in changed)
    return f"differs on {len(changed)}/{len(baseline.texts)} frames ({lines} lines)"


def render(results: list[Result], named: dict[str, Image], rounds: int,
           load: tuple[float, float, float]) -> str:
    baseline = results[0]
    p50_base = statistics.median(baseline.ms)
    cores = os.cpu_count()
    rows = "\n".join(
        f"| {r.runtime.name}{' **(default)**' if r.runtime == DEFAULT_RUNTIME else ''} | "
        f"{statistics.median(r.ms):.0f} | {_p95(r.ms):.0f} | {statistics.median(r.ms) / p50_base:.2f} | "
        f"{_text_diff(r, baseline)} |" for r in results)
    return f"""{HEADING}

Command: `eyeline bench --only-ocr --ocr-rounds {rounds}`. {len(named)} frames ({'; '.join(named)}), each read
{rounds} times by every configuration, configurations taking turns frame by frame (order reversed every other
round) in one process, one engine each with {cores} intra-op threads unless the row says otherwise, all
warmed by one read first. Times are per frame (detection, orientation, recognition). Text is compared line by line
with today's path on every frame. The machine is shared, so compare the ratios, measured in the same run.
Load average at the end of the run: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min), {cores} cores.

| configuration | p50 ms/frame | p95 ms/frame | p50 / today | text vs today |
|---|---|---|---|---|
{rows}

{NOTES}
"""


def replace_section(document: str, section: str) -> str:
    """``document`` with this benchmark's section replaced by ``section``, or ``section`` added at the end."""
    return replace_headed(document, HEADING, section)


def write_ocr_section(output: Path, rounds: int, data_dir: Path) -> int:
    named = frames(data_dir)
    results = measure(candidates(), named, rounds)
    section = render(results, named, rounds, os.getloadavg())
    text = output.read_text() if output.exists() else "# Performance\n"
    output.write_text(replace_section(text, section))
    print(section)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("docs/PERFORMANCE.md"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    return write_ocr_section(args.output, args.rounds, args.data)


if __name__ == "__main__":
    raise SystemExit(main())
