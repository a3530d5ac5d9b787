"""Feature registration: a reference found in a frame lands where the true homography puts it; absent, None."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from eyeline.cloud.perception.registration import register
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame

PHOTO = "espresso/clevercoffee_IMG_20210408_145907-720x720.jpg"


def _truth(homography: np.ndarray, points: list[tuple[float, float]]) -> np.ndarray:
    pts = np.float64(points).reshape(-1, 1, 2)
    return np.asarray(cv2.perspectiveTransform(pts, homography)).reshape(-1, 2)


def _matrix(flat: tuple[float, ...]) -> np.ndarray:
    return np.asarray(flat, dtype=np.float64).reshape(3, 3)


def test_a_crop_of_a_real_photo_registers_onto_a_perspective_warped_copy(shared_data: Path) -> None:
    gray = cv2.imread(str(shared_data / PHOTO), cv2.IMREAD_GRAYSCALE)
    x0, y0 = 150, 100
    reference = gray[y0:600, x0:600]
    warp = np.array([[0.9, 0.05, 30.0], [-0.03, 0.95, 20.0], [1e-4, 0.0, 1.0]])
    frame = cv2.warpPerspective(gray, warp, (720, 720))
    found = register(reference, frame)
    assert found is not None and found.confidence > 0.5
    corners = [(0.0, 0.0), (449.0, 0.0), (449.0, 499.0), (0.0, 499.0), (225.0, 250.0)]
    expected = _truth(warp @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1.0]]), corners)
    assert np.max(np.linalg.norm(found.project(corners) - expected, axis=1)) < 3.0


def test_the_synthetic_shelf_registers_across_head_motion() -> None:
    scene = make_shelf_scene(4)
    first, first_truth = render_shelf_frame(scene, 0.0, 640, 360)
    later, later_truth = render_shelf_frame(scene, 1.3, 640, 360)
    found = register(first, later)
    assert found is not None
    # first -> later is world->later composed with the inverse of world->first
    true = _matrix(later_truth.world_to_frame) @ np.linalg.inv(_matrix(first_truth.world_to_frame))
    points = [(160.0, 120.0), (320.0, 180.0), (500.0, 250.0)]
    assert np.max(np.linalg.norm(found.project(points) - _truth(true, points), axis=1)) < 4.0


def test_an_unrelated_image_is_not_registered(shared_data: Path) -> None:
    reference = cv2.imread(str(shared_data / PHOTO), cv2.IMREAD_GRAYSCALE)[100:600, 150:600]
    label = cv2.imread(str(shared_data / "nutrition_labels/off_4903015130266_2.jpg"), cv2.IMREAD_GRAYSCALE)
    assert register(reference, label) is None
    assert register(reference, np.full((240, 320), 128, np.uint8)) is None
