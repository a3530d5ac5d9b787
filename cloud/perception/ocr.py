"""Text reading with PP-OCR (the det/rec/cls ONNX models shipped inside the ``rapidocr`` wheel).

``OcrEngine`` reads one image synchronously; ``OcrPool`` runs engines in worker threads so the event
loop never waits on a model. onnxruntime releases the GIL while it runs, so a worker thread really runs
in parallel with the loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception import spend
from eyeline.cloud.perception.ocr_runtime import (
    DETECT_1600,
    TODAY,
    OcrRuntime,
    apply_runtime,
    cap_detection,
)

Quad = tuple[Point, Point, Point, Point]
_T = TypeVar("_T")

# The files the rapidocr wheel ships; naming them explicitly is what keeps rapidocr from downloading.
_MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


# What engines run unless told otherwise (see docs/PERFORMANCE.md, "OCR runtimes", for why); TODAY selects
# rapidocr's own sessions, the path before runtimes were measured.
# Detection is held to 1600 px on a photo's long side: the real photos were read right as often (21/21 in the
# evaluation subset; 1280 px lost two) at less cost (docs/PERFORMANCE.md, "Answers: targets"); camera frames of
# 1600 px or less are detected as before.
DEFAULT_RUNTIME = DETECT_1600


class OcrError(CloudError):
    """The OCR models are missing, an image cannot be read, or the pool is closed."""


class OcrBusyError(OcrError):
    """More reads are waiting than the pool admits; the same read may succeed shortly."""

    retryable = True


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text as read, placed in normalized image coordinates.

    ``quad`` is the detected (possibly rotated) outline, clockwise from top-left; ``box`` bounds it.
    """

    text: str
    score: float
    box: NormBox
    quad: Quad

    @property
    def height(self) -> float:
        return self.box.y1 - self.box.y0

    @property
    def width(self) -> float:
        return self.box.x1 - self.box.x0


class TextReader(Protocol):
    """Reads the text lines in one image, synchronously (an engine, or a fake in tests)."""

    def read(self, image_bgr: Image) -> tuple[TextLine, ...]: ...


class AsyncTextReader(Protocol):
    """Reads the text lines in one image without blocking the event loop (the pool, or a fake)."""

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]: ...


# ------------------------------------------------------------------ the engine


class OcrEngine:
    """One PP-OCR pipeline. Not thread-safe: give each thread its own (``OcrPool`` does)."""

    def __init__(self, *, threads: int = 1, runtime: OcrRuntime | None = None) -> None:
        if threads < 1:
            raise OcrError(f"OcrEngine needs at least one thread, got {threads}")
        from rapidocr import RapidOCR  # heavy import, paid only by processes that read text

        self.runtime = runtime or DEFAULT_RUNTIME
        threads = self.runtime.threads or threads
        params = _rapidocr_params(threads)
        ocr = RapidOCR(params=params)
        if self.runtime != TODAY:
            models = {section: Path(params[f"{section}.model_path"]) for section in _MODEL_FILES}
            apply_runtime(ocr, self.runtime, threads, models)
        if self.runtime.det_max_side:
            cap_detection(ocr, self.runtime.det_max_side)
        # Typed loosely: rapidocr's declared union covers det-only and rec-only modes.
        self._ocr: Any = ocr
        self.last_parts: dict[str, int] = {}   # ns per part (spend.PARTS) of the last call, in this thread

    def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        """All text lines found; an empty tuple when the image holds no text."""
        height, width = _check_image(image_bgr)
        result = self._ocr(image_bgr, use_det=True, use_cls=True, use_rec=True)
        elapsed = getattr(result, "elapse_list", None) or ()
        self.last_parts = {part: int(float(s or 0) * 1e9) for part, s in
                           zip((spend.DETECTION, spend.ORIENTATION, spend.RECOGNITION), elapsed, strict=False)}
        if result.boxes is None or result.txts is None or result.scores is None:
            return ()
        return tuple(_text_line(text, float(score), quad, width, height)
                     for text, score, quad in zip(result.txts, result.scores, result.boxes, strict=True))

    def detect(self, image_bgr: Image, *, scale: float | None = None) -> tuple[Quad, ...]:
        """The outlines of the text lines in the image (normalized), none of them read.

        ``scale`` None sizes the image by the detector's own rule; a number resizes it by exactly that (a
        mosaic of a frame's pieces is detected at the scale its frame would be, not enlarged as a small image).
        """
        height, width = _check_image(image_bgr)
        detector = self._ocr._load_det_model()
        own_rule = detector.limit_side_len
        if scale is not None:
            image_bgr = np.asarray(cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR),
                                   dtype=np.uint8)
            detector.limit_side_len = 1   # no enlarging beyond ``scale``
        try:
            result = self._ocr(image_bgr, use_det=True, use_cls=False, use_rec=False)
        finally:
            detector.limit_side_len = own_rule
        self.last_parts = {spend.DETECTION: int(float(getattr(result, "elapse", 0) or 0) * 1e9)}
        boxes = getattr(result, "boxes", None)
        return () if boxes is None else tuple(_text_line("", 0.0, quad, width, height).quad for quad in boxes)

    def recognize(self, image_bgr: Image, quads: Sequence[Quad]) -> tuple[TextLine | None, ...]:
        """Each outline's text, cropped from ``image_bgr`` at its full resolution and read in batches, as a full
        read reads it; None where the text is empty or below the score a full read keeps."""
        height, width = _check_image(image_bgr)
        if not quads:
            self.last_parts = {}
            return ()
        from rapidocr.utils.process_img import get_rotate_crop_image

        pixels = [np.array([(x * width, y * height) for x, y in quad], np.float32) for quad in quads]
        crops = [get_rotate_crop_image(image_bgr, box.copy()) for box in pixels]
        upright, classified = self._ocr.cls_and_rotate(crops)
        result = self._ocr.recognize_txt(upright)
        self.last_parts = {spend.ORIENTATION: int(float(classified.elapse or 0) * 1e9),
                           spend.RECOGNITION: int(float(result.elapse or 0) * 1e9)}
        keep = float(self._ocr.text_score)
        return tuple(_text_line(text, float(score), box, width, height) if text.strip() and score >= keep else None
                     for text, score, box in zip(result.txts, result.scores, pixels, strict=True))


def _rapidocr_params(threads: int) -> dict[str, Any]:
    models = _packaged_model_dir()
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    for section, filename in _MODEL_FILES.items():
        path = models / filename
        if not path.is_file():
            raise OcrError(f"OCR model {filename} is missing from the rapidocr package at {models}; "
                           "reinstall rapidocr (models are never downloaded at run time)")
        params[f"{section}.model_path"] = str(path)
    return params


def _packaged_model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def _check_image(image: Any) -> tuple[int, int]:
    if not isinstance(image, np.ndarray):
        raise OcrError(f"OCR needs a numpy BGR image, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise OcrError(f"OCR needs an HxWx3 uint8 BGR image, got shape {image.shape} of {image.dtype}")
    height, width = int(image.shape[0]), int(image.shape[1])
    if height == 0 or width == 0:
        raise OcrError(f"OCR got an empty image ({width}x{height})")
    return height, width


def _text_line(text: str, score: float, quad_px: Any, width: int, height: int) -> TextLine:
    points = [(_clamp(float(x) / width), _clamp(float(y) / height)) for x, y in quad_px]
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    quad: Quad = (points[0], points[1], points[2], points[3])
    return TextLine(text=text, score=score, box=NormBox(min(xs), min(ys), max(xs), max(ys)), quad=quad)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


# ------------------------------------------------------------------ the pool


class OcrPool:
    """Reads images in ``workers`` threads, each with its own engine created on its first read.

    At most ``max_pending`` reads may be queued or running; beyond that ``read`` raises
    ``OcrBusyError`` at once rather than letting a backlog grow without bound.
    """

    def __init__(self, workers: int = 1, *, max_pending: int = 32,
                 engine_factory: Callable[[], TextReader] | None = None,
                 runtime: OcrRuntime | None = None) -> None:
        if workers < 1:
            raise OcrError(f"OcrPool needs at least one worker, got {workers}")
        if max_pending < workers:
            raise OcrError(f"max_pending ({max_pending}) must be at least the worker count ({workers})")
        self.workers = workers
        self._max_pending = max_pending
        self._pending = 0
        self._closed = False
        self._make_engine = engine_factory or _engine_factory(workers, runtime or DEFAULT_RUNTIME)
        self._local = threading.local()
        self._engines_lock = threading.Lock()
        self._engines_loaded = 0
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ocr")

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return await self._run(lambda engine: engine.read(image_bgr))

    async def detect(self, image_bgr: Image, *, scale: float | None = None) -> tuple[Quad, ...]:
        """The text outlines in the image, none read (an engine without ``detect`` reads them all instead);
        ``scale`` as ``OcrEngine.detect`` takes it."""
        return await self._run(lambda engine: _detect(engine, image_bgr, scale))

    async def detect_each(self, images: Sequence[Image], *,
                          scale: float | None = None) -> tuple[tuple[Quad, ...], ...]:
        """``detect`` for each image, in one worker call (one wait for a worker rather than one per image)."""
        return await self._run(lambda engine: _detect_all(engine, images, scale))

    async def recognize(self, image_bgr: Image, quads: Sequence[Quad]) -> tuple[TextLine | None, ...]:
        """Each outline's text, read from ``image_bgr`` in batches; None where nothing readable is there."""
        return await self._run(lambda engine: _recognize(engine, image_bgr, quads))

    async def _run(self, work: Callable[[TextReader], _T]) -> _T:
        if self._closed:
            raise OcrError("the OCR pool is closed")
        if self._pending >= self._max_pending:
            raise OcrBusyError(f"{self._pending} OCR reads are already waiting; try again shortly")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            result, parts = await loop.run_in_executor(self._executor, self._in_worker, work)
        except asyncio.CancelledError:
            if self._closed and not _caller_cancelled():
                raise OcrError("the OCR pool was closed before this read ran") from None
            raise
        finally:
            self._pending -= 1
        for part, ns in parts.items():
            spend.note(part, ns)
        return result

    async def warm_up(self) -> None:
        """Load the models and run them once on a camera-size image with several lines of text, so the first
        question pays neither the load nor onnxruntime's first-run allocations at that size."""
        image = await asyncio.to_thread(_warm_up_image)
        await asyncio.gather(*(self.read(image) for _ in range(self.workers)))

    @property
    def warm(self) -> bool:
        """Every worker has loaded its engine: no read will pay a model load."""
        return self._engines_loaded >= self.workers

    def close(self) -> None:
        """Refuse new reads and drop queued ones; a read already running finishes in its thread."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> OcrPool:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

    def _in_worker(self, work: Callable[[TextReader], _T]) -> tuple[_T, dict[str, int]]:
        engine: TextReader | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._make_engine()
            self._local.engine = engine
            with self._engines_lock:
                self._engines_loaded += 1
        result = work(engine)
        return result, dict(getattr(engine, "last_parts", {}))


def _detect(engine: TextReader, image: Image, scale: float | None) -> tuple[Quad, ...]:
    detect = getattr(engine, "detect", None)
    if detect is None:
        return tuple(line.quad for line in engine.read(image))
    found: tuple[Quad, ...] = detect(image, scale=scale)
    return found


def _detect_all(engine: TextReader, images: Sequence[Image], scale: float | None) -> tuple[tuple[Quad, ...], ...]:
    """Each image's outlines; the engine's ``last_parts`` then holds the parts of all of them, summed."""
    found: list[tuple[Quad, ...]] = []
    spent: dict[str, int] = {}
    for image in images:
        found.append(_detect(engine, image, scale))
        for part, ns in getattr(engine, "last_parts", {}).items():
            spent[part] = spent.get(part, 0) + ns
    if hasattr(engine, "last_parts"):
        engine.last_parts = spent
    return tuple(found)


def _recognize(engine: TextReader, image: Image, quads: Sequence[Quad]) -> tuple[TextLine | None, ...]:
    recognize = getattr(engine, "recognize", None)
    if recognize is not None:
        found: tuple[TextLine | None, ...] = recognize(image, quads)
        return found
    raise OcrError(f"{type(engine).__name__} reads whole images only; it cannot recognise given outlines")


def _warm_up_image(width: int = 1280, height: int = 960) -> Image:
    """A white camera-size frame with a few lines of dark text, like a shelf label seen up close."""
    image = np.full((height, width, 3), 255, np.uint8)
    for row, words in enumerate(("Eyeline warm up", "Protein 12 g per 100 g", "Oat drink 1 L  2.49")):
        cv2.putText(image, words, (60, 160 + row * 220), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 4)
    return image


def _caller_cancelled() -> bool:
    """Whether the awaiting task itself is being cancelled (rather than its queued read being dropped)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _engine_factory(workers: int, runtime: OcrRuntime) -> Callable[[], TextReader]:
    # Split the cores between workers so parallel reads do not oversubscribe a small machine.
    threads = max(1, (os.cpu_count() or 1) // workers)

    def make() -> TextReader:
        return OcrEngine(threads=threads, runtime=runtime)

    return make

