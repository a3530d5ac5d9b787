"""How the PP-OCR models run on the CPU: the inference runtime, its options and the recognition batch size.

rapidocr builds its own onnxruntime sessions with fixed options; an ``OcrRuntime`` other than ``TODAY`` loads
the three models and swaps in sessions built here, so every option ``tools/bench_ocr.py`` measures is one a
deployment can select. The models are always the ones the rapidocr wheel ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

Backend = Literal["onnxruntime", "openvino"]
GraphLevel = Literal["all", "extended", "basic"]


@dataclass(frozen=True, slots=True)
class OcrRuntime:
    """One way to run the models.

    ``threads`` None splits the machine's cores between the pool's workers. ``rec_batch`` is how many text
    crops recognition runs per inference call (crops are sorted by aspect ratio, then padded within a batch).
    ``replace_sessions`` False keeps rapidocr's own sessions (only threads and the batch size apply).
    ``det_max_side`` caps the long side of the image detection runs on (None: rapidocr's own rule, which raises
    the short side to 736 px and caps nothing below the 2000 px it scales every image to).
    """

    name: str
    backend: Backend = "onnxruntime"
    threads: int | None = None
    graph_level: GraphLevel = "all"
    parallel_execution: bool = False
    memory_arena: bool = False
    rec_batch: int = 6
    replace_sessions: bool = True
    det_max_side: int | None = None

    def with_threads(self, threads: int) -> OcrRuntime:
        from dataclasses import replace

        return replace(self, threads=threads)

    def named(self, name: str, **changes: Any) -> OcrRuntime:
        """This runtime under another name, with ``changes`` (fields) applied."""
        from dataclasses import replace

        return replace(self, name=name, **changes)


# The path as it ran before runtimes were selectable: rapidocr's sessions, six crops per recognition call.
TODAY = OcrRuntime("today (rapidocr's onnxruntime sessions, rec batch 6)", replace_sessions=False)


# onnxruntime's CPU memory arena on: each inference reuses the buffers of the last one instead of allocating anew.
ARENA = OcrRuntime("onnxruntime, memory arena on", memory_arena=True)
# The default: the arena and one intra-op thread per engine. On the 2 shared cores it was the fastest runtime whose
# text matched today's on every measured frame (0.64x and 0.56x today's p50 in two runs; docs/PERFORMANCE.md,
# "OCR runtimes"): two spinning intra-op threads on two busy cores mostly wait for each other. On a machine with
# many cores, give the pool more workers (one thread each) rather than more threads per engine.
ARENA_ONE_THREAD = OcrRuntime("onnxruntime, memory arena on, 1 intra-op thread", memory_arena=True, threads=1)
# Detection on a large photo at no more than 1600 (or 1280) px on its long side (a 2000x2666 photo is detected at
# 1216x1600 rather than 1504x2000); recognition still crops each line from the full-resolution image, at the 48 px
# height the recogniser reads. 1600 px is the default (ocr.DEFAULT_RUNTIME); 1280 px lost two real photos of 21.
DETECT_1280 = ARENA_ONE_THREAD.named("onnxruntime, memory arena on, 1 intra-op thread, detection at <= 1280 px",
                                     det_max_side=1280)
DETECT_1600 = ARENA_ONE_THREAD.named("onnxruntime, memory arena on, 1 intra-op thread, detection at <= 1600 px",
                                     det_max_side=1600)


class _Model(Protocol):
    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class _OrtModel:
    """One model in an onnxruntime session with the given options, called like rapidocr's session."""

    def __init__(self, path: Path, runtime: OcrRuntime, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = runtime.memory_arena
        options.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        }[runtime.graph_level]
        options.execution_mode = (ort.ExecutionMode.ORT_PARALLEL if runtime.parallel_execution
                                  else ort.ExecutionMode.ORT_SEQUENTIAL)
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads if runtime.parallel_execution else 1
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        result: np.ndarray = self._session.run([self._output], {self._input: batch})[0]
        return result


class _OpenVinoModel:
    """One ONNX model compiled by OpenVINO for the CPU (the ``openvino`` wheel reads ONNX directly)."""

    def __init__(self, path: Path, threads: int) -> None:
        import openvino

        core = openvino.Core()
        core.set_property("CPU", {"INFERENCE_NUM_THREADS": str(threads), "PERFORMANCE_HINT": "LATENCY"})
        self._request = core.compile_model(core.read_model(str(path)), "CPU").create_infer_request()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self._request.infer([batch])
        return np.array(self._request.get_output_tensor().data)


def apply_runtime(ocr: Any, runtime: OcrRuntime, threads: int, model_paths: dict[str, Path]) -> None:
    """Load ``ocr``'s (a ``RapidOCR``) three models now and run them as ``runtime`` says.

    ``model_paths`` maps rapidocr's sections (Det, Cls, Rec) to the packaged model files. Loading here rather
    than on the first read also means a pool's warm-up pays every load.
    """
    stages = {"Det": ocr._load_det_model(), "Cls": ocr._load_cls_model(), "Rec": ocr._load_rec_model()}
    stages["Rec"].rec_batch_num = runtime.rec_batch
    if not runtime.replace_sessions:
        return
    for section, stage in stages.items():
        # The recogniser read its character list from rapidocr's session at load; only inference moves.
        stage.session = _model(model_paths[section], runtime, threads)


def _model(path: Path, runtime: OcrRuntime, threads: int) -> _Model:
    if runtime.backend == "openvino":
        return _OpenVinoModel(path, threads)
    return _OrtModel(path, runtime, threads)


def cap_detection(ocr: Any, max_side: int) -> None:
    """Make ``ocr``'s (a ``RapidOCR``) detector run on at most ``max_side`` px along the image's long side."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    detector = ocr._load_det_model()

    class CappedPreProcess(DetPreProcess):
        def resize(self, img: np.ndarray) -> np.ndarray | None:
            return _capped_resize(img, int(self.limit_side_len), max_side)

    detector.get_preprocess = lambda: CappedPreProcess(detector.limit_side_len, detector.limit_type,
                                                       detector.mean, detector.std)


_WORTH_HOLDING = 0.75   # the share of a photo's pixels detection may keep for holding its long side to pay


def _capped_resize(img: np.ndarray, short_side: int, max_side: int) -> np.ndarray | None:
    """rapidocr's rule (the short side raised to ``short_side``); a large photo, whose short side needs no
    raising, has its long side held to ``max_side`` when that saves at least a quarter of the detector's pixels.
    An image the rule enlarges keeps it: holding a wide, low image (a row of packages) to ``max_side`` would
    shrink its text below what the detector finds; and a photo just over ``max_side`` is not worth seeing
    differently (the outlines, so the boxes later steps measure by, move) for a small saving. Both sides a
    multiple of 32, as the network needs."""
    import cv2

    rows, cols = img.shape[:2]
    ratio = max(1.0, short_side / min(rows, cols))
    held = max_side / max(rows, cols)
    if ratio == 1.0 and held * held <= _WORTH_HOLDING:
        ratio = held
    height, width = int(round(rows * ratio / 32) * 32), int(round(cols * ratio / 32) * 32)
    if height <= 0 or width <= 0:
        return None
    return np.asarray(cv2.resize(img, (width, height)))
