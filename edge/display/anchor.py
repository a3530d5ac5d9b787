"""World-locked overlays: the edge tracks the scene between cloud answers and moves every overlay with it.

The cloud computes an overlay on one keyframe and answers hundreds of milliseconds later, by which time the
wearer's head has moved. ``SceneTracker`` follows the view frame to frame with pyramidal Lucas–Kanade optical
flow on a half-resolution greyscale image and fits a homography to the tracked corners with RANSAC (a rotating
head seen on a distant scene is exactly a homography). Each tracked frame gets ``to_ref``, the homography from
its pixels to those of the first frame of the current *track*; any two frames of one track are then related by
``inv(to_ref[b]) @ to_ref[a]``.

When the flow cannot be trusted (too few corners survive, or RANSAC keeps too few of them) the track ends and a
new one starts: overlays computed on frames of an older track have lost their anchor; ``AnchorFade`` fades their
world-anchored items out where they were last placed instead of drawing them in the wrong place.

``track`` and ``add`` are CPU work (a few milliseconds at 720p): call them from a worker thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.devices.base import CapturedFrame, Image
from eyeline.edge.display.canvas import Projection
from eyeline.edge.display.render import OpacityFor, ProjectionFor
from eyeline.edge.overlays import Overlay, Point

Matrix = npt.NDArray[np.float64]
Grey = npt.NDArray[np.uint8]

_LK_WINDOW: Final = (21, 21)
_LK_LEVELS: Final = 3
_LK_STOP: Final = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    scale: float = 0.5            # tracking resolution relative to the frame: half of 720p is plenty for LK
    max_corners: int = 200
    min_corners: int = 40         # below this many live corners, detect new ones
    min_inliers: int = 15         # fewer RANSAC inliers than this: the anchor is lost
    min_inlier_ratio: float = 0.5
    ransac_px: float = 1.5        # reprojection threshold, in tracking pixels
    frames_kept: int = 300        # how far back (in tracked frames) an overlay's frame can be related


@dataclass(frozen=True, slots=True)
class _Placed:
    track: int
    to_ref: Matrix                # this frame's pixels -> the track's reference frame's pixels
    size: tuple[int, int]         # (width, height) of the full-resolution frame


@dataclass(slots=True)
class TrackerStats:
    tracked: int = 0
    tracks_started: int = 0       # 1 + the number of times the anchor was lost
    redetections: int = 0


@dataclass(slots=True)
class _Last:
    grey: Grey
    corners: npt.NDArray[np.float32]
    placed: _Placed


class SceneTracker:
    """Relates frames of the live view to one another, for re-projecting overlays onto the frame shown."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.stats = TrackerStats()
        self._placed: OrderedDict[int, _Placed] = OrderedDict()
        self._last: _Last | None = None
        self._current_seq: int | None = None
        self._lock = threading.Lock()  # render and send workers both feed the tracker

    # ------------------------------------------------------------------ feeding

    def track(self, frame: CapturedFrame) -> bool:
        """Follow the view onto ``frame`` (the next frame shown); False when the anchor was lost here."""
        with self._lock:
            grey = self._grey(frame.image)
            placed, corners = self._follow(grey, frame)
            kept = placed.track == (self._last.placed.track if self._last else -1)
            if len(corners) < self.config.min_corners:
                corners = self._corners(grey)
                self.stats.redetections += 1
            self._last = _Last(grey, corners, placed)
            self._remember(frame.seq, placed)
            self._current_seq = frame.seq
            self.stats.tracked += 1
            return kept

    def add(self, frame: CapturedFrame) -> None:
        """Place a frame that is not shown (a keyframe the display skipped) relative to the last frame tracked."""
        with self._lock:
            if frame.seq in self._placed:
                return
            placed, _ = self._follow(self._grey(frame.image), frame)
            self._remember(frame.seq, placed)

    # ------------------------------------------------------------------ relating frames

    def homography(self, from_seq: int, to_seq: int) -> Matrix | None:
        """Pixels of frame ``from_seq`` -> pixels of frame ``to_seq``; None if they are not on one track."""
        with self._lock:
            source, target = self._placed.get(from_seq), self._placed.get(to_seq)
        if source is None or target is None or source.track != target.track:
            return None
        relation: Matrix = np.linalg.inv(target.to_ref) @ source.to_ref
        normalized: Matrix = relation / relation[2, 2]
        return normalized

    def projection(self, overlay: Overlay) -> Projection | None:
        """The overlay's normalized points moved onto the frame last tracked; None when its anchor is lost."""
        if self._current_seq is None:
            return None
        relation = self.homography(overlay.frame_seq, self._current_seq)
        if relation is None:
            return None
        with self._lock:
            source, target = self._placed[overlay.frame_seq].size, self._placed[self._current_seq].size
        return _normalized_projection(relation, source, target)

    # ------------------------------------------------------------------ internals

    def _grey(self, image: Image) -> Grey:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = self.config.scale
        if scale != 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return np.asarray(grey, dtype=np.uint8)

    def _corners(self, grey: Grey) -> npt.NDArray[np.float32]:
        found = cv2.goodFeaturesToTrack(grey, self.config.max_corners, 0.01, 8, blockSize=5)
        return np.empty((0, 1, 2), np.float32) if found is None else np.asarray(found, np.float32)

    def _follow(self, grey: Grey, frame: CapturedFrame) -> tuple[_Placed, npt.NDArray[np.float32]]:
        """Where ``frame`` sits relative to the last tracked frame, and the corners that followed it there."""
        size = (frame.width, frame.height)
        last = self._last
        if last is None or len(last.corners) < 4 or last.placed.size != size:
            return self._new_track(size), np.empty((0, 1, 2), np.float32)
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(last.grey, grey, last.corners, np.empty_like(last.corners),
                                                winSize=_LK_WINDOW, maxLevel=_LK_LEVELS, criteria=_LK_STOP)
        moved = np.asarray(moved, np.float32)
        good = np.asarray(ok).ravel() == 1
        before, after = last.corners[good], moved[good]
        step = self._fit(before, after)
        if step is None:
            return self._new_track(size), np.empty((0, 1, 2), np.float32)
        relation, inliers = step
        to_ref = last.placed.to_ref @ np.linalg.inv(self._full_resolution(relation))
        return _Placed(last.placed.track, to_ref / to_ref[2, 2], size), after[inliers]

    def _fit(self, before: npt.NDArray[np.float32],
             after: npt.NDArray[np.float32]) -> tuple[Matrix, npt.NDArray[np.bool_]] | None:
        if len(before) < self.config.min_inliers:
            return None
        relation, mask = cv2.findHomography(before, after, cv2.RANSAC, self.config.ransac_px)
        if relation is None or mask is None:
            return None
        inliers = mask.ravel().astype(bool)
        count = int(inliers.sum())
        if count < self.config.min_inliers or count < self.config.min_inlier_ratio * len(before):
            return None
        return np.asarray(relation, np.float64), inliers

    def _full_resolution(self, relation: Matrix) -> Matrix:
        """A homography between tracking images, as one between full-resolution frames."""
        s = self.config.scale
        shift = 0.5 * s - 0.5  # pixel centres: a resized pixel covers 1/s full pixels
        down = np.array([[s, 0.0, shift], [0.0, s, shift], [0.0, 0.0, 1.0]])
        full: Matrix = np.linalg.inv(down) @ relation @ down
        return full

    def _new_track(self, size: tuple[int, int]) -> _Placed:
        self.stats.tracks_started += 1
        return _Placed(self.stats.tracks_started, np.eye(3), size)

    def _remember(self, seq: int, placed: _Placed) -> None:
        self._placed[seq] = placed
        self._placed.move_to_end(seq)
        while len(self._placed) > self.config.frames_kept:
            self._placed.popitem(last=False)


def _normalized_projection(relation: Matrix, source: tuple[int, int], target: tuple[int, int]) -> Projection:
    (sw, sh), (tw, th) = source, target
    h = [float(v) for v in relation.ravel()]

    def project(point: Point) -> Point:
        x, y = point[0] * sw, point[1] * sh
        w = h[6] * x + h[7] * y + h[8]
        if w <= 1e-9:
            return (float("nan"), float("nan"))  # behind the camera: the renderer skips non-finite points
        return ((h[0] * x + h[1] * y + h[2]) / w / tw, (h[3] * x + h[4] * y + h[5]) / w / th)

    return project


class Anchors(Protocol):
    def projection(self, overlay: Overlay) -> Projection | None: ...


class AnchorFade:
    """An overlay whose anchor is lost fades out where it was last placed, over ``fade_s``.

    Drawing it on with a stale projection would pin it to the wrong place as the head keeps moving, and
    dropping it at once makes it flicker away: a short fade at its last true position is what a wearer
    reads as "this answer no longer applies here". CPU-free: the renderer does the blending.
    """

    def __init__(self, anchors: Anchors, fade_s: float = 0.4) -> None:
        self._anchors = anchors
        self._fade_ns = max(1, round(fade_s * 1e9))
        self._last_placed: dict[str, tuple[Projection, int]] = {}
        self._faded: set[str] = set()   # placed once, then faded out: their cards are gone too

    def for_frame(self, capture_ns: int) -> tuple[ProjectionFor, OpacityFor]:
        """The projection and opacity of each overlay on the frame captured at ``capture_ns``."""
        resolved: dict[str, tuple[Projection | None, float]] = {}

        def resolve(overlay: Overlay) -> tuple[Projection | None, float]:
            if overlay.overlay_id not in resolved:
                resolved[overlay.overlay_id] = self._resolve(overlay, capture_ns)
            return resolved[overlay.overlay_id]

        return (lambda overlay: resolve(overlay)[0]), (lambda overlay: resolve(overlay)[1])

    def card_opacity(self, opacity: Callable[[Overlay], float]) -> Callable[[Overlay], float]:
        """The opacity of an overlay's cards (its answer panel, step card) given ``for_frame``'s: they fade with its
        anchored items once it has been placed; an overlay never placed (its keyframe not tracked) keeps its
        cards, so an answer is never hidden only because the scene could not be followed."""
        def card(overlay: Overlay) -> float:
            alpha = opacity(overlay)
            placed = overlay.overlay_id in self._last_placed or overlay.overlay_id in self._faded
            return alpha if placed else 1.0

        return card

    def forget(self, overlay_id: str) -> None:
        """The overlay is gone for good (replaced, or dropped to keep memory flat): nothing of it is kept."""
        self._last_placed.pop(overlay_id, None)
        self._faded.discard(overlay_id)

    @property
    def placements_kept(self) -> int:
        return len(self._last_placed)

    def _resolve(self, overlay: Overlay, now_ns: int) -> tuple[Projection | None, float]:
        live = self._anchors.projection(overlay)
        if live is not None:
            self._last_placed[overlay.overlay_id] = (live, now_ns)
            self._faded.discard(overlay.overlay_id)
            return live, 1.0
        last = self._last_placed.get(overlay.overlay_id)
        if last is None:
            return None, 0.0
        projection, placed_ns = last
        remaining = 1.0 - (now_ns - placed_ns) / self._fade_ns
        if remaining <= 0.0:
            del self._last_placed[overlay.overlay_id]
            self._faded.add(overlay.overlay_id)
            return None, 0.0
        return projection, remaining
