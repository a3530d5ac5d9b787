"""Scene tracking against the synthetic shelf's exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from eyeline.devices.base import CapturedFrame
from eyeline.devices.synthetic import ShelfTruth, make_shelf_scene, render_shelf_frame
from eyeline.edge.display.anchor import AnchorFade, SceneTracker
from eyeline.edge.display.canvas import Projection
from eyeline.edge.display.render import BADGE_BGR, OverlayRenderer
from eyeline.edge.overlays import BadgeShape, Item, Overlay

W, H = 640, 360


def sequence(count: int, seed: int = 1, motion_scale: float = 1.5) -> list[CapturedFrame]:
    scene, previous, frames = make_shelf_scene(seed), None, []
    for i in range(count):
        image, truth = render_shelf_frame(scene, i / 30, W, H, motion_scale=motion_scale, previous=previous)
        previous = truth
        frames.append(CapturedFrame(i, round(i * 1e9 / 30), image, truth))
    return frames


def true_relation(a: CapturedFrame, b: CapturedFrame) -> np.ndarray:
    def world(frame: CapturedFrame) -> np.ndarray:
        truth: ShelfTruth = frame.truth
        return np.asarray(truth.world_to_frame).reshape(3, 3)
    return world(b) @ np.linalg.inv(world(a))


def apply(h: np.ndarray, x: float, y: float) -> tuple[float, float]:
    u, v, w = h @ np.array([x, y, 1.0])
    return (u / w, v / w)


def product_centre(frame: CapturedFrame, index: int = 2) -> tuple[float, float]:
    quad = frame.truth.products[index].quad
    return (sum(p[0] for p in quad) / 4, sum(p[1] for p in quad) / 4)


@pytest.fixture(scope="module")
def frames() -> list[CapturedFrame]:
    return sequence(45)


def test_frames_a_second_apart_are_related_to_within_a_pixel(frames: list[CapturedFrame]) -> None:
    tracker = SceneTracker()
    for frame in frames:
        assert tracker.track(frame) or frame.seq == 0
    estimated = tracker.homography(5, 44)
    assert estimated is not None
    truth = true_relation(frames[5], frames[44])
    for x, y in ((100, 100), (320, 180), (560, 300)):
        ex, ey = apply(estimated, x, y)
        tx, ty = apply(truth, x, y)
        assert np.hypot(ex - tx, ey - ty) < 1.0
        assert np.hypot(x - tx, y - ty) > 5.0, "the head really moved, so standing still would be wrong"
    assert tracker.stats.tracks_started == 1


def test_an_overlay_is_projected_onto_the_frame_shown(frames: list[CapturedFrame]) -> None:
    tracker = SceneTracker()
    for frame in frames[:31]:
        tracker.track(frame)
    cx, cy = product_centre(frames[10])
    overlay = Overlay("o", "q", frame_seq=10, trace_id="t", capture_ns=0,
                      items=(Item("b", BadgeShape((cx / W, cy / H), "1")),))
    projection = tracker.projection(overlay)
    assert projection is not None
    px, py = projection((cx / W, cy / H))
    tx, ty = product_centre(frames[30])
    assert np.hypot(px * W - tx, py * H - ty) < 1.5


def test_a_keyframe_the_display_skipped_is_placed_too(frames: list[CapturedFrame]) -> None:
    tracker = SceneTracker()
    for frame in frames[:20]:
        if frame.seq != 12:
            tracker.track(frame)
        if frame.seq == 13:
            tracker.add(frames[12])
    estimated = tracker.homography(12, 19)
    assert estimated is not None
    ex, ey = apply(estimated, 320, 180)
    tx, ty = apply(true_relation(frames[12], frames[19]), 320, 180)
    assert np.hypot(ex - tx, ey - ty) < 1.0


def magenta(image: np.ndarray) -> int:
    return int(np.all(image == np.array(BADGE_BGR, np.uint8), axis=2).sum())


def test_a_lost_anchor_hides_the_overlay_instead_of_misplacing_it(frames: list[CapturedFrame]) -> None:
    tracker, renderer = SceneTracker(), OverlayRenderer()
    for frame in frames[:10]:
        tracker.track(frame)
    cx, cy = product_centre(frames[5])
    overlay = Overlay("o", "q", frame_seq=5, trace_id="t", capture_ns=0,
                      items=(Item("b", BadgeShape((cx / W, cy / H), "1")),))
    shown = renderer.draw(frames[9].image, [overlay], project=tracker.projection)
    assert magenta(shown) > 50
    other = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)  # the view is gone
    assert not tracker.track(CapturedFrame(10, 0, other))
    assert tracker.projection(overlay) is None
    hidden = renderer.draw(other, [overlay], project=tracker.projection)
    assert magenta(hidden) == 0
    assert tracker.stats.tracks_started == 2


class ScriptedAnchors:
    """Anchors that hold for the overlays named in ``live`` and are lost for the rest."""

    def __init__(self) -> None:
        self.live: set[str] = set()

    def projection(self, overlay: Overlay) -> Projection | None:
        return (lambda point: (point[0] + 0.125, point[1])) if overlay.overlay_id in self.live else None


def test_an_overlay_whose_anchor_is_lost_fades_out_where_it_was_last_placed() -> None:
    anchors = ScriptedAnchors()
    fade = AnchorFade(anchors, fade_s=0.4)
    overlay = Overlay("o1", "q1", 0, "t", 0)
    anchors.live.add("o1")
    project, opacity = fade.for_frame(1_000_000_000)
    placed = project(overlay)
    assert placed is not None and opacity(overlay) == 1.0

    anchors.live.clear()
    project, opacity = fade.for_frame(1_100_000_000)
    kept = project(overlay)
    assert kept is not None and kept((0.25, 0.5)) == (0.375, 0.5)  # the last true placement
    assert opacity(overlay) == pytest.approx(0.75)
    project, opacity = fade.for_frame(1_400_000_000)
    assert project(overlay) is None and opacity(overlay) == 0.0


def test_an_overlay_never_anchored_is_not_drawn() -> None:
    project, opacity = AnchorFade(ScriptedAnchors()).for_frame(0)
    overlay = Overlay("o2", "q1", 0, "t", 0)
    assert project(overlay) is None and opacity(overlay) == 0.0
