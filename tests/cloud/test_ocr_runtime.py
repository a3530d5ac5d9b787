"""OCR runtimes: the default reads real frames exactly as today's path does, and recognition runs in batches."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from eyeline.cloud.model import Image
from eyeline.cloud.perception.ocr import DEFAULT_RUNTIME, OcrEngine, TextLine
from eyeline.cloud.perception.ocr_runtime import TODAY, OcrRuntime
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def today() -> OcrEngine:
    # Today's sessions, detecting at the default's size: the runtimes must read alike; what holding detection to a
    # size does on a large photo is tested on its own (tests/cloud/test_ocr_reuse.py).
    return OcrEngine(threads=2, runtime=TODAY.named(TODAY.name, det_max_side=DEFAULT_RUNTIME.det_max_side))


@pytest.fixture(scope="module")
def default() -> OcrEngine:
    return OcrEngine(threads=2)


def _same_reading(ours: tuple[TextLine, ...], theirs: tuple[TextLine, ...]) -> None:
    assert [line.text for line in ours] == [line.text for line in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert abs(a.score - b.score) < 0.01
        assert max(abs(a.box.x0 - b.box.x0), abs(a.box.y0 - b.box.y0), abs(a.box.x1 - b.box.x1),
                   abs(a.box.y1 - b.box.y1)) < 0.005


@pytest.mark.parametrize("seed", [0, 1])
def test_the_default_runtime_reads_a_rendered_shelf_as_todays_path_does(today: OcrEngine, default: OcrEngine,
                                                                        seed: int) -> None:
    image, _ = render_shelf_frame(make_shelf_scene(seed), 0.0, 1280, 720)

    theirs = today.read(image)

    assert len(theirs) >= 5  # a shelf with labels: enough lines for the comparison to mean something
    _same_reading(default.read(image), theirs)


@pytest.mark.parametrize("photo", ["off_3596710368259_2.jpg", "natthasath_ocr_eng_01.jpg"])
def test_the_default_runtime_reads_a_real_label_photo_as_todays_path_does(today: OcrEngine, default: OcrEngine,
                                                                          shared_data: Path, photo: str) -> None:
    image = cv2.imread(str(shared_data / "nutrition_labels" / photo))
    assert image is not None

    theirs = today.read(image)

    assert len(theirs) >= 5
    _same_reading(default.read(image), theirs)


class _CountingModel:
    """Wraps a stage's model and records the batch size of every call (a spy over the real model)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.batches: list[int] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(int(batch.shape[0]))
        result: np.ndarray = self.model(batch)
        return result


def _many_lines(count: int) -> Image:
    image = np.full((60 + 70 * count, 900, 3), 245, np.uint8)
    for row in range(count):
        cv2.putText(image, f"Item {row + 1} protein {3 * row + 2} g", (40, 80 + 70 * row),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.3, (20, 20, 20), 3, cv2.LINE_AA)
    return image


@pytest.mark.parametrize("runtime", [DEFAULT_RUNTIME, OcrRuntime("batch 4", rec_batch=4)], ids=lambda r: r.name)
def test_recognition_reads_a_frames_crops_in_batches_of_the_runtimes_size(runtime: OcrRuntime) -> None:
    engine = OcrEngine(threads=2, runtime=runtime)
    recogniser = engine._ocr._load_rec_model()  # type: ignore[attr-defined]
    spy = _CountingModel(recogniser.session)
    recogniser.session = spy

    lines = engine.read(_many_lines(9))

    assert [line.text for line in lines] == [f"Item {n + 1} protein {3 * n + 2} g" for n in range(9)]
    assert sum(spy.batches) == 9
    assert len(spy.batches) == math.ceil(9 / runtime.rec_batch)
    assert max(spy.batches) == min(9, runtime.rec_batch)


def test_todays_path_stays_selectable_and_keeps_rapidocrs_sessions() -> None:
    from rapidocr.inference_engine.onnxruntime import OrtInferSession

    today = OcrEngine(threads=2, runtime=TODAY)
    assert today.runtime == TODAY and TODAY.det_max_side is None
    assert isinstance(today._ocr._load_det_model().session, OrtInferSession)


def test_an_openvino_runtime_reads_a_shelf_as_todays_path_does(today: OcrEngine) -> None:
    pytest.importorskip("openvino")
    image, _ = render_shelf_frame(make_shelf_scene(0), 0.0, 1280, 720)
    openvino = OcrEngine(threads=2, runtime=OcrRuntime("openvino", backend="openvino"))

    assert [line.text for line in openvino.read(image)] == [line.text for line in today.read(image)]
