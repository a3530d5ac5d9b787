"""Cards (answer panels, step cards) leave with the view they were about, as the anchored badges do; the edge's
own notices stay. Pixels of real tracked frames are checked."""

from __future__ import annotations

import numpy as np

from eyeline.devices.base import CapturedFrame
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.display.anchor import AnchorFade, SceneTracker
from eyeline.edge.display.render import BADGE_BGR, OverlayRenderer
from eyeline.edge.overlays import BadgeShape, Item, NoticeShape, Overlay, PanelRow, PanelShape

W, H = 640, 360
PANEL = PanelShape("Protein per serving", (PanelRow("1", "Oat bar", "12 g"),))


def answer(*items: Item, frame_seq: int = 0) -> Overlay:
    return Overlay("o1", "q1", frame_seq, "t1", 0, items)


def top_right(image: np.ndarray) -> np.ndarray:
    return image[: H // 3, W // 2:]


def bottom(image: np.ndarray) -> np.ndarray:
    return image[H * 3 // 4:]


def test_a_card_fades_with_its_opacity_and_a_notice_does_not() -> None:
    base = np.full((H, W, 3), 128, np.uint8)
    overlays = [answer(Item("p", PANEL)), Overlay("n", "", 0, "", 0, (Item("n", NoticeShape("offline")),))]
    renderer = OverlayRenderer()
    solid = renderer.draw(base, overlays)
    half = renderer.draw(base, overlays, card_opacity=lambda o: 0.5 if o.overlay_id == "o1" else 0.0)
    gone = renderer.draw(base, overlays, card_opacity=lambda _: 0.0)
    panel = np.any(top_right(solid) != 128, axis=2)
    assert panel.sum() > 500
    expected = (top_right(solid)[panel].astype(float) + 128) / 2
    assert np.allclose(top_right(half)[panel], expected, atol=2)
    assert np.array_equal(top_right(gone), top_right(base))
    assert np.array_equal(bottom(gone), bottom(solid)) and np.any(bottom(gone) != 128)  # the notice stays


def shelf_frames(count: int) -> list[CapturedFrame]:
    scene, previous, frames = make_shelf_scene(1), None, []
    for i in range(count):
        image, truth = render_shelf_frame(scene, i / 30, W, H, motion_scale=1.0, previous=previous)
        previous = truth
        frames.append(CapturedFrame(i, round(i * 1e9 / 30), image, truth))
    return frames


def compose(tracker: SceneTracker, fade: AnchorFade, frame: CapturedFrame, overlay: Overlay) -> np.ndarray:
    """What the runtime draws for ``frame``: follow the scene, then draw with the fade's projection and opacities."""
    tracker.track(frame)
    project, opacity = fade.for_frame(frame.capture_ns)
    return OverlayRenderer().draw(frame.image, [overlay], project=project, opacity=opacity,
                                  card_opacity=fade.card_opacity(opacity))


def test_the_answer_panel_leaves_with_the_view_like_its_badges() -> None:
    frames = shelf_frames(12)
    tracker = SceneTracker()
    fade = AnchorFade(tracker, fade_s=0.4)
    overlay = answer(Item("b", BadgeShape((0.5, 0.5), "1")), Item("p", PANEL), frame_seq=2)
    for frame in frames[:10]:
        shown = compose(tracker, fade, frame, overlay)
    assert np.any(top_right(shown) != top_right(frames[9].image)), "the panel is shown while the view holds"
    assert np.all(shown == np.array(BADGE_BGR, np.uint8), axis=2).sum() > 50

    rng = np.random.default_rng(0)   # the wearer turned to another view: nothing of the shelf is in it
    elsewhere = [CapturedFrame(10 + i, frames[9].capture_ns + round((i + 1) * 0.1e9),
                               rng.integers(0, 255, (H, W, 3), dtype=np.uint8)) for i in range(8)]
    fading = compose(tracker, fade, elsewhere[0], overlay)
    assert np.any(top_right(fading) != top_right(elsewhere[0].image)), "it fades rather than vanishing at once"
    for frame in elsewhere[1:]:
        shown = compose(tracker, fade, frame, overlay)
    assert np.array_equal(shown, elsewhere[-1].image), "neither the badge nor the panel outlives the view"


def test_an_answer_whose_frame_was_never_tracked_still_shows_its_panel() -> None:
    tracker = SceneTracker()
    fade = AnchorFade(tracker)
    flat = CapturedFrame(0, 0, np.full((H, W, 3), 90, np.uint8))   # featureless: nothing to anchor to
    shown = compose(tracker, fade, flat, answer(Item("p", PANEL), frame_seq=0))
    assert np.any(top_right(shown) != 90)
