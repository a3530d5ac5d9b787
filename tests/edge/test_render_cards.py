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


def text_page(lines: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Dark text lines on a white label, and each line's tight pixel box (what a reader's OCR would box)."""
    import cv2

    page = np.full((720, 1280, 3), 255, np.uint8)
    boxes = []
    for row in range(lines):
        text = f"Line {row + 1}: energy 1{row} kcal, fat {row}.{row} g"
        baseline = 40 + row * 34
        cv2.putText(page, text, (60 + (row % 3) * 20, baseline), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
        ink = np.nonzero(np.any(page[baseline - 24:baseline + 8] < 128, axis=2))
        boxes.append((int(ink[1].min()), baseline - 24 + int(ink[0].min()), int(ink[1].max()) + 1,
                      baseline - 24 + int(ink[0].max()) + 1))
    return page, boxes


def test_a_read_overlay_boxes_every_line_thinly_and_covers_none_of_the_text() -> None:
    from eyeline.edge.overlays import Box, BoxShape

    page, boxes = text_page(20)
    items = tuple(Item(f"line-{n}", BoxShape(Box(x0 / 1280, y0 / 720, x1 / 1280, y1 / 720), str(n + 1)), 0x40C0FF)
                  for n, (x0, y0, x1, y1) in enumerate(boxes))
    out = OverlayRenderer().draw(page, [Overlay("r", "q", 0, "t", 0, items)])
    for x0, y0, x1, y1 in boxes:
        assert np.array_equal(out[y0:y1, x0:x1], page[y0:y1, x0:x1]), "a line's text is covered"
        ring = np.any(out[y0 - 3:y1 + 3, x0 - 3:x1 + 3] != page[y0 - 3:y1 + 3, x0 - 3:x1 + 3], axis=2)
        assert ring[0].any() and ring[-1].any() and ring[:, 0].any() and ring[:, -1].any(), "each line is boxed"
    changed_rows = np.any(out != page, axis=2)
    line_band = changed_rows[boxes[5][1] + 2:boxes[5][3] - 2, boxes[5][0] + 2:boxes[5][2] - 2]
    assert not line_band.any()
    import cv2

    paper = np.all(np.abs(out.astype(int) - (255, 192, 64)) <= 30, axis=2).astype(np.uint8)   # 0x40C0FF as BGR
    count, _, stats, _ = cv2.connectedComponentsWithStats(paper)
    tags = [i for i in range(1, count) if stats[i, cv2.CC_STAT_WIDTH] < 40 and stats[i, cv2.CC_STAT_HEIGHT] < 30
            and stats[i, cv2.CC_STAT_AREA] > 30]
    assert len(tags) >= 18, "the reading-order numbers sit beside their lines"
