"""Real faces for the privacy path tests, and the one criterion that says a face was destroyed.

The faces ship inside the scikit-image wheel (no download): the astronaut photo and crops of its LFW subset. A
bystander frame puts the astronaut and three LFW faces on a plain 1280x720 background; the boxes of their faces
(forehead to chin, read once by eye) are where a received frame must no longer show a face.

A face counts as destroyed when both hold, on the received picture scaled back to the frame's size:
- its detail (the picture minus its local mean: eyes, mouth, edges) no longer correlates with the original's;
  a face that went through unredacted keeps a correlation above 0.5 even at a quarter of the size and JPEG
  quality 30, a redacted one stays near 0 (``test_the_criterion_tells_a_passed_face_from_a_destroyed_one``);
- CenterFace finds no face there any more.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.devices.recording import RecordingError, RecordingReader
from eyeline.protos import recording as layout
from eyeline.protos.privacy import CenterFaceDetector

Box = tuple[int, int, int, int]
WIDTH, HEIGHT = 1280, 720
ASTRONAUT_FACE = (185, 70, 265, 175)   # in skimage.data.astronaut() (512x512)
ASTRONAUT_AT = (600, 150)
LFW_SIDE, LFW_X, LFW_YS = 160, 60, (40, 280, 520)
LFW_FACE = (40, 40, 120, 133)          # in a 160x160 LFW crop
MAX_DETAIL_CORRELATION = 0.25


def bystander_frame() -> tuple[Image, tuple[Box, ...]]:
    """A 1280x720 BGR frame with four real faces in it, and the box of each face."""
    from skimage import data as skdata

    frame = np.full((HEIGHT, WIDTH, 3), 170, np.uint8)
    x, y = ASTRONAUT_AT
    frame[y:y + 512, x:x + 512] = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    boxes = [_shifted(ASTRONAUT_FACE, ASTRONAUT_AT)]
    crops = skdata.lfw_subset()[:len(LFW_YS)]  # the first 100 of the subset are faces
    for crop, top in zip(crops, LFW_YS, strict=True):
        grey = cv2.resize((crop * 255).astype(np.uint8), (LFW_SIDE, LFW_SIDE), interpolation=cv2.INTER_CUBIC)
        frame[top:top + LFW_SIDE, LFW_X:LFW_X + LFW_SIDE] = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        boxes.append(_shifted(LFW_FACE, (LFW_X, top)))
    return frame, tuple(boxes)


def _shifted(box: Box, at: tuple[int, int]) -> Box:
    return box[0] + at[0], box[1] + at[1], box[2] + at[0], box[3] + at[1]


def detail(patch: Image) -> np.ndarray:
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return grey - cv2.GaussianBlur(grey, (0, 0), 3.0)


def detail_correlation(original: Image, received: Image, box: Box) -> float:
    x0, y0, x1, y1 = box
    before, after = detail(original[y0:y1, x0:x1]).ravel(), detail(received[y0:y1, x0:x1]).ravel()
    return float(abs(np.corrcoef(before, after)[0, 1])) if np.std(after) > 0 else 0.0


def surviving_faces(original: Image, received: Image, boxes: tuple[Box, ...]) -> list[str]:
    """What is left of each face in ``received`` (any size, same framing); [] when every face was destroyed."""
    height, width = original.shape[:2]
    if received.shape[:2] != (height, width):
        received = cv2.resize(received, (width, height), interpolation=cv2.INTER_LINEAR)
    found = CenterFaceDetector().detect(received)
    problems = []
    for box in boxes:
        correlation = detail_correlation(original, received, box)
        if correlation >= MAX_DETAIL_CORRELATION:
            problems.append(f"face {box}: its detail survives (correlation {correlation:.2f})")
        if any(_overlaps(box, (f.x0, f.y0, f.x1, f.y1)) for f in found):
            problems.append(f"face {box}: the detector still finds a face there")
    return problems


def _overlaps(a: Box, b: Box) -> bool:
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    return width > 0 and height > 0 and width * height > 0.25 * (a[2] - a[0]) * (a[3] - a[1])


def decoded(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, f"{len(data)} bytes that are not an image"
    return np.asarray(image, dtype=np.uint8)


def recorded_camera(path: Path) -> list[Image]:
    """Every camera image of a recording (edge or cloud), decoded."""
    reader = RecordingReader(path, required=())
    return [decoded(m.message.data) for m in reader.messages(frozenset({layout.CAMERA}))]


async def finished_recording(folder: Path) -> Path:
    """The one recording in ``folder``, once its writer has finalized it; it may hold no camera image at all."""
    for _ in range(200):
        path = await asyncio.to_thread(_finalized, folder)
        if path is not None:
            return path
        await asyncio.sleep(0.05)
    raise AssertionError(f"no finalized recording in {folder}")


def _finalized(folder: Path) -> Path | None:
    recordings = list(folder.glob("*.mcap"))
    if len(recordings) != 1:
        return None
    reader = RecordingReader(recordings[0], required=())
    try:
        for _ in reader.messages():
            pass
    except RecordingError:
        return None
    return None if reader.truncated else recordings[0]


def write_png(path: Path, image: Image) -> Path:
    assert cv2.imwrite(str(path), image)
    return path
