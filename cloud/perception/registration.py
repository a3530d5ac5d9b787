"""Feature registration: where a known, flat-enough thing (a reference image) lies in a live frame.

ORB keypoints matched with a ratio test, then a RANSAC homography. The result maps reference pixels to frame
pixels; ``None`` means the reference is not confidently in view, never a guess. Pure CPU work: callers run it
in a worker (thread or process), never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Homography = npt.NDArray[np.float64]

# Lowe's ratio: a match counts only when clearly better than the runner-up, which drops repeated texture.
_RATIO = 0.75
_RANSAC_PX = 5.0
# Below this many RANSAC inliers a homography is as likely chance as fact.
MIN_INLIERS = 12
# Inliers at which confidence saturates: enough that a wrong model is implausible.
_CONFIDENT_INLIERS = 60


@dataclass(frozen=True, slots=True)
class Registration:
    """``homography`` maps reference pixels (x, y, 1) to frame pixels; ``confidence`` is in [0, 1]."""

    homography: Homography = field(repr=False)
    inliers: int
    confidence: float

    def project(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Reference pixel points (N x 2) placed in the frame (N x 2)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
        return np.asarray(cv2.perspectiveTransform(pts, self.homography), dtype=np.float64).reshape(-1, 2)


@dataclass(frozen=True, slots=True)
class Features:
    """One image's ORB keypoints and descriptors: computed once, registered against many times."""

    keypoints: tuple[Any, ...]
    descriptors: npt.NDArray[np.uint8] | None = field(repr=False)


def features_of(gray: Gray, *, features: int = 2000) -> Features:
    keypoints, descriptors = cv2.ORB.create(nfeatures=features).detectAndCompute(_gray(gray), None)
    return Features(tuple(keypoints), None if descriptors is None else np.asarray(descriptors, dtype=np.uint8))


def register(reference_gray: Gray, frame_gray: Gray, *, features: int = 2000, reference: Features | None = None,
             frame: Features | None = None) -> Registration | None:
    """The homography from ``reference_gray`` onto ``frame_gray``, or None when it is not confidently found.

    ``reference`` and ``frame``, when given, are the images' features already computed (same ``features``)."""
    ref = reference or features_of(reference_gray, features=features)
    frm = frame or features_of(frame_gray, features=features)
    ref_kp, ref_desc, frm_kp, frm_desc = ref.keypoints, ref.descriptors, frm.keypoints, frm.descriptors
    if ref_desc is None or frm_desc is None or len(ref_kp) < MIN_INLIERS or len(frm_kp) < MIN_INLIERS:
        return None
    pairs = _good_matches(ref_desc, frm_desc)
    if len(pairs) < MIN_INLIERS:
        return None
    src = np.array([ref_kp[q].pt for q, _ in pairs], dtype=np.float32).reshape(-1, 1, 2)
    dst = np.array([frm_kp[t].pt for _, t in pairs], dtype=np.float32).reshape(-1, 1, 2)
    homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, _RANSAC_PX)
    if homography is None or mask is None:
        return None
    inliers = int(mask.sum())
    matrix = np.asarray(homography, dtype=np.float64)
    if inliers < MIN_INLIERS or not _plausible(matrix, reference_gray.shape[:2]):
        return None
    return Registration(matrix, inliers, _confidence(inliers, len(pairs)))


def _gray(image: npt.NDArray[np.uint8]) -> Gray:
    if image.ndim == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    return image


def _good_matches(ref_desc: npt.NDArray[Any], frm_desc: npt.NDArray[Any]) -> list[tuple[int, int]]:
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs: list[tuple[int, int]] = []
    for candidates in matcher.knnMatch(ref_desc, frm_desc, k=2):
        if len(candidates) == 2 and candidates[0].distance < _RATIO * candidates[1].distance:
            pairs.append((candidates[0].queryIdx, candidates[0].trainIdx))
    return pairs


def _plausible(homography: npt.NDArray[np.float64], shape: tuple[int, ...]) -> bool:
    """Rejects folds and collapses: the reference's corners must map to a convex quad of sensible area."""
    rows, cols = shape[0], shape[1]
    corners = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], dtype=np.float64).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32)):
        return False
    scale = float(cv2.contourArea(quad.astype(np.float32))) / float(rows * cols)
    return 0.01 < scale < 100.0


def _confidence(inliers: int, matches: int) -> float:
    coverage = min(1.0, inliers / _CONFIDENT_INLIERS)
    return round(float(coverage * (inliers / max(1, matches)) ** 0.5), 3)
