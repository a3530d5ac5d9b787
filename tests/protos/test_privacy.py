"""Face redaction with the real CenterFace model on real photographs of people.

The shared data set (../shared/data) holds product, shelf and machine photos but no photo showing a person's
face (MANIFEST.md), so the recall figure comes from the real faces that ship inside the scikit-image wheel:
the astronaut photo and the 100 face crops of its LFW subset. The shared photos are used to check that
redaction leaves faceless images alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from eyeline.devices.base import Image
from eyeline.protos.privacy import (
    CenterFaceDetector,
    FaceRedactor,
    NoRedaction,
    PrivacyError,
    Redaction,
)

# The astronaut's face, read by eye from skimage.data.astronaut() (512x512): forehead to chin, ear to ear.
ASTRONAUT_FACE = (185, 70, 265, 175)


@pytest.fixture(scope="module")
def redactor() -> FaceRedactor:
    return FaceRedactor()


def astronaut() -> Image:
    return np.ascontiguousarray(cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))


def lfw_faces() -> list[Image]:
    """The 100 real face photos of scikit-image's LFW subset (the other 100 images are not faces)."""
    crops = skdata.lfw_subset()[:100]
    return [cv2.cvtColor(cv2.resize((crop * 255).astype(np.uint8), (120, 120), interpolation=cv2.INTER_CUBIC),
                         cv2.COLOR_GRAY2BGR) for crop in crops]


def on_background(face: Image, size: tuple[int, int] = (480, 360), at: tuple[int, int] = (150, 100)) -> Image:
    frame = np.full((size[1], size[0], 3), 180, np.uint8)
    x, y = at
    frame[y:y + face.shape[0], x:x + face.shape[1]] = face
    return frame


def covered(redaction: Redaction, box: tuple[int, int, int, int], shape: tuple[int, ...]) -> float:
    """Share of ``box`` (pixels) inside the redacted regions."""
    height, width = shape[:2]
    mask = np.zeros((height, width), bool)
    for r in redaction.regions:
        mask[round(r.y0 * height):round(r.y1 * height), round(r.x0 * width):round(r.x1 * width)] = True
    x0, y0, x1, y1 = box
    return float(mask[y0:y1, x0:x1].mean())


def detail(image: Image) -> np.ndarray:
    """What identifies a face: the image minus its local mean (edges, eyes, texture)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return grey - cv2.GaussianBlur(grey, (0, 0), 3.0)


def test_the_astronauts_face_is_found_and_fully_covered(redactor: FaceRedactor) -> None:
    image = astronaut()
    redaction = redactor.redact(image)
    assert len(redaction.faces) == 1
    assert covered(redaction, ASTRONAUT_FACE, image.shape) == 1.0
    assert not np.array_equal(redaction.image, image)
    assert np.array_equal(image, astronaut()), "the captured frame itself is left untouched"


def test_no_face_pixel_can_be_recovered_from_the_redacted_region(redactor: FaceRedactor) -> None:
    image = astronaut()
    redaction = redactor.redact(image)
    x0, y0, x1, y1 = ASTRONAUT_FACE
    before, after = image[y0:y1, x0:x1], redaction.image[y0:y1, x0:x1]
    # At most a handful of flat colours remain: a few numbers for the whole face, nothing per pixel.
    assert len(np.unique(after.reshape(-1, 3), axis=0)) <= 16
    # The face's detail (eyes, mouth, edges) is gone: no correlation left between what was there and what is.
    d_before, d_after = detail(before).ravel(), detail(after).ravel()
    assert np.std(d_before) > 5.0
    correlation = abs(np.corrcoef(d_before, d_after)[0, 1]) if np.std(d_after) > 0 else 0.0
    assert correlation < 0.1
    # And no pixel equals the original outside what a flat mean colour explains.
    assert np.mean(np.all(before == after, axis=2)) < 0.05


def test_recall_on_real_faces_is_at_least_95_percent(redactor: FaceRedactor) -> None:
    faces = lfw_faces()
    hits = 0
    for face in faces:
        frame = on_background(face)
        redaction = redactor.redact(frame)
        hits += covered(redaction, (150 + 30, 100 + 30, 150 + 90, 100 + 100), frame.shape) >= 0.99
    image = astronaut()
    hits += covered(redactor.redact(image), ASTRONAUT_FACE, image.shape) == 1.0
    assert hits / (len(faces) + 1) >= 0.95


def test_a_face_in_a_720p_glasses_frame_is_found(redactor: FaceRedactor) -> None:
    frame = on_background(astronaut(), size=(1280, 720), at=(600, 150))
    redaction = redactor.redact(frame)
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert covered(redaction, (x0 + 600, y0 + 150, x1 + 600, y1 + 150), frame.shape) == 1.0


@pytest.mark.slow
def test_photos_without_people_are_left_alone(redactor: FaceRedactor, shared_data: Path) -> None:
    photos = sorted((shared_data / "nutrition_labels").glob("*.jpg")) + sorted(
        (shared_data / "shelf_products").glob("gsd_*.jpg"))
    assert photos
    untouched = 0
    for path in photos:
        image = cv2.imread(str(path))
        assert image is not None, path
        untouched += np.array_equal(redactor.redact(image).image, image)
    assert untouched >= len(photos) - 1


def test_turning_redaction_off_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        off = NoRedaction("--no-redact-faces")
    assert "OFF" in caplog.text and "--no-redact-faces" in caplog.text
    image = astronaut()
    assert off.redact(image).regions == ()


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PrivacyError, match="does not exist"):
        CenterFaceDetector(tmp_path / "centerface.onnx")
